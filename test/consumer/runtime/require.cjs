// CommonJS: `require` of the installed ESM-only package (Node 20.19 or later load ES modules with require), one real
// RPC call over loopback tcp.
const z = require("zod");
const { RpcClient, RpcServer, defineRpc } = require("typed-zmq");

const Calc = defineRpc("calc.v1", {
  add: { request: z.object({ a: z.number(), b: z.number() }), response: z.object({ sum: z.number() }) },
});

async function main() {
  const server = await RpcServer.bind("tcp://127.0.0.1:0", Calc, { add: ({ a, b }) => ({ sum: a + b }) });
  const client = await RpcClient.connect(server.endpoint, Calc, { timeoutMs: 2_000 });
  const { sum } = await client.call("add", { a: 2, b: 3 });
  await client.close();
  await server.close();
  if (sum !== 5) throw new Error(`expected 5, got ${sum}`);
  console.log(`require: ok (2 + 3 = ${sum} over ${server.endpoint})`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
