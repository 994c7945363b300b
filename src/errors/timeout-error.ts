/**
 * @packageDocumentation
 * {@link TimeoutError}: nothing arrived within the allowed time.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** Options of {@link TimeoutError}. */
export interface TimeoutErrorOptions extends TypedZmqErrorOptions {
  /** What was awaited, for the message; default `a reply from <endpoint>`. */
  readonly waitingFor?: string;
  /** What to do about it, for the message; default: check a server is bound there, or raise `timeoutMs`. */
  readonly hint?: string;
}

/** Nothing arrived within the allowed time. */
export class TimeoutError extends TypedZmqError {
  override readonly name = "TimeoutError";
  readonly code = ErrorCode.TIMEOUT;
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** The endpoint(s) the awaited message was expected from. */
  readonly endpoint: string;
  constructor(what: string, timeoutMs: number, endpoint: string, options?: TimeoutErrorOptions) {
    super(
      `${what} timed out after ${timeoutMs} ms waiting for ${options?.waitingFor ?? `a reply from ${endpoint}`}. ` +
        (options?.hint ?? `Check that a server for this contract is bound there, or raise { timeoutMs }.`),
      errorOptions(options),
    );
    this.timeoutMs = timeoutMs;
    this.endpoint = endpoint;
  }
}

/**
 * True for a {@link TimeoutError}, also across realms.
 *
 * A foreign object must carry `code: "TIMEOUT"` as well as the name: the `DOMException` that
 * `AbortSignal.timeout()` gives as its reason is also named `TimeoutError`, and it is not ours.
 */
export const isTimeoutError = errorGuard(TimeoutError, "TimeoutError", { code: ErrorCode.TIMEOUT });
