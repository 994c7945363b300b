/**
 * @packageDocumentation
 * {@link OutOfRangeError}: misuse of the API (a number outside its allowed range). It extends the built-in
 * `RangeError`, so code that already catches `RangeError` keeps working, and it carries a `code` like every other
 * typed-zmq error.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import type { TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * A numeric argument or option is outside its allowed range (a negative `timeoutMs`, a fractional `count`, ...).
 *
 * Thrown synchronously, or as the rejection of the returned promise, before any socket exists or anything is sent.
 * The message names the owner and the option in backticks, the allowed range and the value given.
 *
 * It is an `instanceof RangeError` (it extends it) and also an `instanceof` {@link TypedZmqError} (the base class
 * recognises it).
 *
 * @example
 * ```ts
 * await RpcClient.connect(endpoint, Orders, { timeoutMs: -1 }); // rejects: OutOfRangeError, code OUT_OF_RANGE
 * ```
 */
export class OutOfRangeError extends RangeError {
  override readonly name = "OutOfRangeError";
  /** Always {@link ErrorCode}.OUT_OF_RANGE. */
  readonly code = ErrorCode.OUT_OF_RANGE;
  constructor(message: string, options?: TypedZmqErrorOptions) {
    super(message, errorOptions(options));
  }
}

/** True for an {@link OutOfRangeError}, also across realms. */
export const isOutOfRangeError = errorGuard(OutOfRangeError, "OutOfRangeError");
