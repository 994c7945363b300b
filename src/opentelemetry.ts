/**
 * @packageDocumentation
 * `typed-zmq/opentelemetry`: an {@link Instrumentation} built on `@opentelemetry/api` (an optional peer dependency:
 * install it, and an OpenTelemetry SDK, to use this entry point). Client spans around calls, server spans around
 * handlers, a span per request routed by a broker, producer and consumer spans for pub-sub; the W3C trace context
 * travels in protocol 1.1's headers frame, so one trace spans every process a call passes through.
 *
 * Span attributes follow OpenTelemetry's RPC and messaging semantic conventions (`rpc.system`, `rpc.service`,
 * `rpc.method`, `messaging.system`, `messaging.destination.name`, `server.address`); a failure sets the span's
 * status to ERROR with the wire error code as `error.type`.
 */
import {
  SpanKind,
  SpanStatusCode,
  context,
  createTraceState,
  trace,
  type Context,
  type Span,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { formatTraceparent, parseTraceparent } from "./protocol/trace-context.js";
import type { Instrumentation, TraceContext, TraceSpan, TraceSpanError, TraceSpanKind, TraceSpanOptions } from "./tracing.js";

/** Options of {@link openTelemetry}. */
export interface OpenTelemetryOptions {
  /**
   * Where spans go. Default: the global tracer provider (`trace.getTracerProvider()`, set by the SDK's `register()`
   * or `trace.setGlobalTracerProvider()`), read at each span, so it may be registered after this call.
   */
  readonly tracerProvider?: TracerProvider;
  /** The tracer's name (the instrumentation scope). @defaultValue `"typed-zmq"` */
  readonly tracerName?: string;
}

const KINDS: Readonly<Record<TraceSpanKind, SpanKind>> = {
  client: SpanKind.CLIENT,
  server: SpanKind.SERVER,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

/** The OpenTelemetry context whose active span is the remote parent, or the active context for none. */
function parentContext(parent: TraceContext | undefined): Context {
  const active = context.active();
  if (parent === undefined) return active;
  const parsed = parseTraceparent(parent.traceparent);
  if (parsed.kind !== "traceparent") return active;
  const { traceId, parentId, flags } = parsed.value;
  return trace.setSpanContext(active, {
    traceId,
    spanId: parentId,
    traceFlags: flags & 0x01,
    isRemote: true,
    ...(parent.tracestate !== undefined && { traceState: createTraceState(parent.tracestate) }),
  });
}

class OtelSpan implements TraceSpan {
  readonly #span: Span;
  readonly #context: Context;
  #ended = false;

  constructor(span: Span, parent: Context) {
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
  }

  context(): TraceContext | undefined {
    const sc = this.#span.spanContext();
    if (!trace.isSpanContextValid(sc)) return undefined;
    const traceparent = formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
    const state = sc.traceState?.serialize();
    return state === undefined || state === "" ? { traceparent } : { traceparent, tracestate: state };
  }

  run<T>(fn: () => T): T {
    return context.with(this.#context, fn);
  }

  end(error?: TraceSpanError): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      if (error.code !== undefined) this.#span.setAttribute("error.type", error.code);
      this.#span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error.code === undefined ? error.message : `${error.code}: ${error.message}`,
      });
    }
    this.#span.end();
  }
}

/**
 * An {@link Instrumentation} that records OpenTelemetry spans. Pass it to `setInstrumentation()` (from `typed-zmq`) for
 * every socket, or as a socket's `instrumentation` option.
 *
 * A span's parent is the remote span named by the incoming message's `traceparent` (server and consumer spans, and
 * the broker's), else the span active where the call or publish is made: a call made inside a handler is a child
 * of that handler's server span.
 * @example
 * ```ts
 * import { setInstrumentation } from "typed-zmq";
 * import { openTelemetry } from "typed-zmq/opentelemetry";
 * setInstrumentation(openTelemetry());
 * ```
 */
export function openTelemetry(options: OpenTelemetryOptions = {}): Instrumentation {
  const name = options.tracerName ?? "typed-zmq";
  const provider = options.tracerProvider;
  let fixed: Tracer | undefined;
  const tracer = (): Tracer => (provider === undefined ? trace.getTracer(name) : (fixed ??= provider.getTracer(name)));
  return {
    startSpan(span: TraceSpanOptions): TraceSpan {
      const parent = parentContext(span.parent);
      const started = tracer().startSpan(span.name, { kind: KINDS[span.kind], attributes: span.attributes }, parent);
      return new OtelSpan(started, parent);
    },
  };
}
