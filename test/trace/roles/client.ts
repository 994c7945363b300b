// Role: an RpcClient with OpenTelemetry calling service greeter.v1 through the broker at $FRONTEND. Prints the reply
// and its spans, then exits.
import { RpcClient } from "../../../src/index.js";
import { Greeter } from "./contract.js";
import { processTracing } from "./otel-process.js";

const tracing = processTracing("client");
const client = await RpcClient.connect(process.env["FRONTEND"]!, Greeter, {
  service: "greeter.v1",
  instrumentation: tracing.instrumentation,
  timeoutMs: 10_000,
});
const { greeting } = await client.call("hello", { name: "Ada" });
console.log(`REPLY ${greeting}`);
await client.close();
await tracing.dump();
