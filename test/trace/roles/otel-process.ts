// The OpenTelemetry SDK of one role process: an in-memory exporter whose finished spans the process prints on
// stdout, one `SPAN {json}` line each, when it is done (the cross-process tracing test reads them).
import { SpanKind } from "@opentelemetry/api";
import { openTelemetry } from "../../../src/opentelemetry.js";
import { memoryTracing } from "../../helpers/otel.js";

/** What the test reads of one span. */
export interface SpanLine {
  readonly process: string;
  readonly name: string;
  readonly kind: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly parentIsRemote: boolean | undefined;
  readonly attributes: Record<string, unknown>;
  readonly statusCode: number;
}

export function processTracing(role: string) {
  const tracing = memoryTracing();
  return {
    instrumentation: openTelemetry({ tracerProvider: tracing.provider }),
    /** Prints every finished span, then shuts the SDK down. */
    async dump(): Promise<void> {
      for (const s of tracing.spans()) {
        const line: SpanLine = {
          process: role,
          name: s.name,
          kind: SpanKind[s.kind],
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          parentSpanId: s.parentSpanContext?.spanId,
          parentIsRemote: s.parentSpanContext?.isRemote,
          attributes: { ...s.attributes },
          statusCode: s.status.code,
        };
        process.stdout.write(`SPAN ${JSON.stringify(line)}\n`);
      }
      await tracing.shutdown();
    },
  };
}

/** Runs `close` then `dump` on SIGTERM, and exits 0. */
export function onStop(close: () => Promise<void>, dump: () => Promise<void>): void {
  process.once("SIGTERM", () => {
    void close()
      .then(dump)
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
  });
}
