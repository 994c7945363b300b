import { fileURLToPath } from "node:url";
import { SpanKind, context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import * as z from "zod";
import { RpcClient, RpcServer, defineRpc, setInstrumentation } from "typed-zmq";
import { openTelemetry } from "typed-zmq/opentelemetry";

const Greeter = defineRpc("greeter.v1", {
  hello: { request: z.object({ name: z.string() }), response: z.object({ greeting: z.string() }) },
});

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<string[]> {
  // 1. The OpenTelemetry SDK, as the application sets it up (here: spans kept in memory; in production an OTLP
  //    exporter). The context manager lets a handler's span be the parent of calls it makes.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  // 2. One line: every socket created from now on is traced (or pass `instrumentation` to one socket).
  setInstrumentation(openTelemetry({ tracerProvider }));
  try {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Greeter, {
      // `context.trace` is the caller's W3C trace context, with or without OpenTelemetry.
      hello: ({ name }) => ({ greeting: `Hello, ${name}!` }),
    });
    await using client = await RpcClient.connect(server.endpoint, Greeter, { timeoutMs: 2_000 });
    await client.call("hello", { name: "Ada" }, { signal });
    // 3. A client span and a server span, in one trace: the traceparent travelled in the request's headers.
    const spans = exporter.getFinishedSpans().map((s) => `${s.name} ${SpanKind[s.kind]} ${s.spanContext().traceId}`);
    for (const line of spans) console.log(line);
    return spans;
  } finally {
    setInstrumentation(undefined);
    await tracerProvider.shutdown();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
