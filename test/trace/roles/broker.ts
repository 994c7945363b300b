// Role: an RpcBroker with OpenTelemetry. Prints `READY <frontend> <backend>`; on SIGTERM closes and prints its spans.
import { RpcBroker } from "../../../src/index.js";
import { onStop, processTracing } from "./otel-process.js";

const tracing = processTracing("broker");
const broker = await RpcBroker.bind(
  { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
  { instrumentation: tracing.instrumentation },
);
onStop(
  () => broker.close(),
  () => tracing.dump(),
);
console.log(`READY ${broker.frontend} ${broker.backend}`);
