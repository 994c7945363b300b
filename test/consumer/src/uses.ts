// What must compile for a consumer, with the types a user expects inferred from the contracts.
import {
  Publisher,
  RpcClient,
  RpcServer,
  type InferRequest,
  type InferResponse,
  type MethodName,
  type TypeLevelError,
  setInstrumentation,
  type Instrumentation,
} from "typed-zmq";
import { openTelemetry } from "typed-zmq/opentelemetry";
import { Calc, Prices } from "./contracts.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

assertType<Equal<MethodName<typeof Calc>, "add" | "echo">>();
assertType<Equal<InferRequest<typeof Calc, "add">, { a: number; b: number }>>();
assertType<Equal<InferResponse<typeof Calc, "echo">, { text: string }>>();
// The guard's error type is a public name, and no plain string is assignable to it.
assertType<Equal<"message" extends TypeLevelError<"message"> ? true : false, false>>();

export async function main(): Promise<number> {
  await using server = await RpcServer.bind("tcp://127.0.0.1:0", Calc, {
    add: ({ a, b }) => ({ sum: a + b }),
    echo: ({ text }) => ({ text }),
  });
  await using client = await RpcClient.connect(server.endpoint, Calc, { timeoutMs: 2_000 });
  const { sum } = await client.call("add", { a: 1, b: 2 });
  const method = Math.random() > 2 ? "add" : "echo";
  // A union of method names is fine once narrowed.
  if (method === "echo") await client.call(method, { text: "hi" });

  await using publisher = await Publisher.bind("tcp://127.0.0.1:0", Prices);
  await publisher.publish("price", { symbol: "GOOG", cents: 100 });
  await publisher.publish("price.GOOG", { symbol: "GOOG", cents: 101 });
  return sum;
}

// The tracing subpath: an Instrumentation, accepted by setInstrumentation and by a socket's option.
const instrumentation: Instrumentation = openTelemetry();
setInstrumentation(instrumentation);
