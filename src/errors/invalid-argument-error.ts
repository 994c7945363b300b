/**
 * @packageDocumentation
 * {@link InvalidArgumentError}: misuse of the API (an argument or option of the wrong type or shape). It extends
 * the built-in `TypeError`, so code that already catches `TypeError` keeps working, and it carries a `code` like
 * every other typed-zmq error.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import type { TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * A function, constructor or factory was called with an argument or option of the wrong type or shape, or an
 * operation this object cannot do (for example `waitForWorkers` on an inproc source).
 *
 * Thrown synchronously, or as the rejection of the returned promise, before any socket exists or anything is sent.
 * The message names the owner and the option in backticks, and says what to pass instead.
 *
 * It is an `instanceof TypeError` (it extends it) and also an `instanceof` {@link TypedZmqError} (the base class
 * recognises it), so both `catch (e) { if (e instanceof TypeError) … }` and `isTypedZmqError(e)` see it.
 *
 * @example
 * ```ts
 * try { defineRpc("", {}); } catch (err) { if (isInvalidArgumentError(err)) console.error(err.code, err.message); }
 * ```
 */
export class InvalidArgumentError extends TypeError {
  override readonly name = "InvalidArgumentError";
  /** Always {@link ErrorCode}.INVALID_ARGUMENT. */
  readonly code = ErrorCode.INVALID_ARGUMENT;
  constructor(message: string, options?: TypedZmqErrorOptions) {
    super(message, errorOptions(options));
  }
}

/** True for an {@link InvalidArgumentError}, also across realms. */
export const isInvalidArgumentError = errorGuard(InvalidArgumentError, "InvalidArgumentError");
