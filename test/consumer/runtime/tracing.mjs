// ESM: `typed-zmq/opentelemetry` as installed, with @opentelemetry/api (no SDK: its no-op tracer), around a real call.
import * as z from "zod";
import { RpcClient, RpcServer, defineRpc, setInstrumentation } from "typed-zmq";
import { openTelemetry } from "typed-zmq/opentelemetry";

setInstrumentation(openTelemetry());
const Calc = defineRpc("calc.v1", {
  add: { request: z.object({ a: z.number(), b: z.number() }), response: z.object({ sum: z.number() }) },
});
const server = await RpcServer.bind("tcp://127.0.0.1:0", Calc, { add: ({ a, b }) => ({ sum: a + b }) });
const client = await RpcClient.connect(server.endpoint, Calc, { timeoutMs: 2_000 });
const { sum } = await client.call("add", { a: 2, b: 3 });
await client.close();
await server.close();
setInstrumentation(undefined);
if (sum !== 5) throw new Error(`expected 5, got ${sum}`);
console.log(`tracing: ok (2 + 3 = ${sum} over ${server.endpoint}, traced by typed-zmq/opentelemetry)`);
