// Role: an RpcServer worker of the broker at $BACKEND, with OpenTelemetry. Prints `READY` once registered (it
// answers the first call); on SIGTERM closes and prints its spans.
import { RpcServer } from "../../../src/index.js";
import { Greeter } from "./contract.js";
import { onStop, processTracing } from "./otel-process.js";

const tracing = processTracing("server");
const server = await RpcServer.connect(
  process.env["BACKEND"]!,
  Greeter,
  { hello: ({ name }, context) => ({ greeting: `Hello, ${name} (trace ${context.trace?.traceparent ?? "none"})` }) },
  { instrumentation: tracing.instrumentation },
);
onStop(
  () => server.close(),
  () => tracing.dump(),
);
console.log("READY");
