import { fileURLToPath } from "node:url";
import * as z from "zod";
import { RpcClient, RpcServer, defineRpc } from "typed-zmq";

// 1. The contract: written once with zod, shared by server and client.
export const Greeter = defineRpc("greeter.v1", {
  hello: {
    request: z.object({ name: z.string().min(1).max(100) }),
    response: z.object({ greeting: z.string() }),
  },
});

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<string> {
  // 2. A server: one handler per method; `name` is typed from the contract.
  await using server = await RpcServer.bind("tcp://127.0.0.1:0", Greeter, {
    hello: ({ name }) => ({ greeting: `Hello, ${name}!` }),
  });
  // 3. A client: calls are checked at compile time and validated at run time.
  await using client = await RpcClient.connect(server.endpoint, Greeter, { timeoutMs: 2_000 });
  const { greeting } = await client.call("hello", { name: "Ada" }, { signal });
  console.log(greeting); // Hello, Ada!
  return greeting;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
