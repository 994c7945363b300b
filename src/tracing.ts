/**
 * @packageDocumentation
 * The tracing seam: what a pattern class asks of a tracer, with no OpenTelemetry type in it. `typed-zmq/opentelemetry`
 * implements it on `@opentelemetry/api`; anything else may too. The trace context travels as W3C Trace Context
 * (`traceparent`, `tracestate`) in protocol 1.1's headers frame (docs/protocol.md, "Trace context").
 */
import { InvalidArgumentError } from "./errors/index.js";

/** What a span stands for, as OpenTelemetry's span kinds. */
export type TraceSpanKind = "client" | "server" | "producer" | "consumer" | "internal";

/** Span attributes: OpenTelemetry semantic-convention keys (`rpc.method`, `messaging.destination.name`, ...). */
export type TraceAttributes = Readonly<Record<string, string | number | boolean>>;

/** A W3C trace context as it travels in the headers frame. */
export interface TraceContext {
  /** The W3C `traceparent` value, for example `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`. */
  readonly traceparent: string;
  /** The W3C `tracestate` value, when there is one. */
  readonly tracestate?: string;
}

/** What {@link Instrumentation.startSpan} is given. */
export interface TraceSpanOptions {
  /** The span's name, for example `orders.v1/getOrder` or `publish prices`. */
  readonly name: string;
  readonly kind: TraceSpanKind;
  readonly attributes: TraceAttributes;
  /**
   * The remote parent read from the incoming message's headers (server and consumer spans), already checked
   * against the W3C rules; undefined when the message carried none. Without it the span's parent is whatever span
   * is active where the message is sent (client and producer spans) or none.
   */
  readonly parent?: TraceContext;
}

/** Why a span ended in failure: the wire error code (`HANDLER_ERROR`, `TIMEOUT`, ...) and a message. */
export interface TraceSpanError {
  readonly code: string | undefined;
  readonly message: string;
}

/** A started span. */
export interface TraceSpan {
  /** The context to send with the message (this span as the parent), or undefined to send none. */
  context(): TraceContext | undefined;
  /** Runs `fn` with this span active, so that spans started inside it (calls a handler makes) are its children. */
  run<T>(fn: () => T): T;
  /** Ends the span, with `error` when the operation failed. Called once. */
  end(error?: TraceSpanError): void;
}

/**
 * A tracer, as the pattern classes use it: one span per call, request, routed request, published or consumed
 * message. `typed-zmq/opentelemetry`'s `openTelemetry()` returns one; set it for the process with
 * {@link setInstrumentation}, or per socket with the `instrumentation` option.
 */
export interface Instrumentation {
  /** Starts a span. Must not throw; a throw is caught and the message goes on untraced. */
  startSpan(options: TraceSpanOptions): TraceSpan;
}

let processDefault: Instrumentation | undefined;

/**
 * Sets the instrumentation of every socket created from now on that has no `instrumentation` option of its own
 * (sockets created before keep what they had). `undefined` switches tracing off again.
 * @example
 * ```ts
 * import { openTelemetry } from "typed-zmq/opentelemetry";
 * setInstrumentation(openTelemetry());
 * ```
 */
export function setInstrumentation(instrumentation: Instrumentation | undefined): void {
  if (instrumentation !== undefined && typeof (instrumentation as Partial<Instrumentation>).startSpan !== "function") {
    throw new InvalidArgumentError(
      "setInstrumentation: `instrumentation` must be an Instrumentation (an object with a startSpan() method, such as openTelemetry() from typed-zmq/opentelemetry), or undefined to switch tracing off.",
    );
  }
  processDefault = instrumentation;
}

/** The process-wide instrumentation set with {@link setInstrumentation}, or undefined. */
export function getInstrumentation(): Instrumentation | undefined {
  return processDefault;
}

/** The `instrumentation` option every pattern class that traces takes. */
export interface InstrumentationOptions {
  /**
   * The tracer of this socket: an {@link Instrumentation} (for example `openTelemetry()` from
   * `typed-zmq/opentelemetry`), or `null` for none even when {@link setInstrumentation} set one. Default: the one
   * set with {@link setInstrumentation} when the socket is created, else none (no span, nothing added to messages).
   */
  readonly instrumentation?: Instrumentation | null;
}
