import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";

/** An OpenTelemetry SDK recording into memory: a tracer provider, its exporter, and the global context manager. */
export interface MemoryTracing {
  readonly provider: BasicTracerProvider;
  readonly exporter: InMemorySpanExporter;
  /** The finished spans so far. */
  spans(): ReadableSpan[];
  /** Waits (bounded) until `count` spans have finished. */
  waitForSpans(count: number, timeoutMs?: number): Promise<ReadableSpan[]>;
  shutdown(): Promise<void>;
}

/**
 * Sets up the SDK as an application would: an AsyncLocalStorage context manager (so a handler's span is active in
 * what it awaits) and a provider with an in-memory exporter. The provider is not registered globally: pass it to
 * `openTelemetry({ tracerProvider })`.
 */
export function memoryTracing(): MemoryTracing {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  return {
    provider,
    exporter,
    spans,
    async waitForSpans(count, timeoutMs = 3_000) {
      const until = Date.now() + timeoutMs;
      while (spans().length < count) {
        if (Date.now() > until) throw new Error(`expected ${count} finished spans, got ${spans().length}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return spans();
    },
    async shutdown() {
      await provider.shutdown();
      context.disable();
      trace.disable();
    },
  };
}

/** The id of a span's parent (2.x: `parentSpanContext`), or undefined for a root span. */
export function parentIdOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
