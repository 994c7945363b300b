/**
 * @packageDocumentation
 * The mechanics every traced class shares: resolving the `instrumentation` option once (so a message pays one
 * check when tracing is off), starting a span without ever letting a tracer's throw reach a socket, reading the
 * remote parent from a message's headers, and the headers-frame fragment that carries a span's context.
 * @internal
 */
import { readTraceContext } from "../protocol/trace-context.js";
import {
  getInstrumentation,
  type Instrumentation,
  type TraceContext,
  type TraceSpan,
  type TraceSpanError,
  type TraceSpanOptions,
} from "../tracing.js";
import type { OptionReader } from "./options.js";

/** The `instrumentation` option, resolved when the socket is created: undefined means no tracing at all. */
export function readInstrumentation(read: OptionReader): Instrumentation | undefined {
  const value = read.raw("instrumentation");
  if (value === null) return undefined;
  if (value === undefined) return getInstrumentation();
  if (typeof value !== "object" || typeof Reflect.get(value, "startSpan") !== "function") {
    throw read.fail("instrumentation", "an Instrumentation (an object with a startSpan() method) or null", value);
  }
  return value as Instrumentation; // checked just above: it has the one method the interface asks for
}

/** A span that does nothing, for a tracer that threw. */
const NO_SPAN: TraceSpan = {
  context: () => undefined,
  run: (fn) => fn(),
  end: () => undefined,
};

/** Starts a span; a tracer that throws gives a span that does nothing, so the message goes on untraced. */
export function startSpan(instrumentation: Instrumentation, options: TraceSpanOptions): TraceSpan {
  try {
    return instrumentation.startSpan(options);
  } catch {
    return NO_SPAN;
  }
}

/** Ends a span, ignoring what the tracer throws. */
export function endSpan(span: TraceSpan, error?: TraceSpanError): void {
  try {
    span.end(error);
  } catch {
    // A tracer's failure never reaches a socket.
  }
}

/** The span's context as a headers-frame fragment, `"traceparent":"…","tracestate":"…",` (or `""` for none). */
export function traceFragment(span: TraceSpan): string {
  const context = safeContext(span);
  if (context === undefined) return "";
  const state = context.tracestate === undefined ? "" : `"tracestate":${JSON.stringify(context.tracestate)},`;
  return `"traceparent":${JSON.stringify(context.traceparent)},${state}`;
}

/** The span's context when it is a valid W3C one (a tracer's bad value is never sent). */
export function safeContext(span: TraceSpan): TraceContext | undefined {
  let context: TraceContext | undefined;
  try {
    context = span.context();
  } catch {
    return undefined;
  }
  if (context === undefined) return undefined;
  return readTraceContext(context.traceparent, context.tracestate);
}

/** A failure as a span error: its `code` when it has a string one. */
export function spanError(error: unknown): TraceSpanError {
  const code: unknown = typeof error === "object" && error !== null ? Reflect.get(error, "code") : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return { code: typeof code === "string" ? code : undefined, message };
}
