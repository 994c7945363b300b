/**
 * @packageDocumentation
 * {@link MessageTooLargeError}: a message over the configured `maxMessageBytes`.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** A message was larger than the configured `maxMessageBytes`. */
export class MessageTooLargeError extends TypedZmqError {
  override readonly name = "MessageTooLargeError";
  readonly code = ErrorCode.MESSAGE_TOO_LARGE;
  /** Size of the encoded body in bytes. */
  readonly size: number;
  /** The configured limit in bytes. */
  readonly limit: number;
  constructor(what: string, size: number, limit: number, options?: TypedZmqErrorOptions) {
    super(
      `${what} is ${size} bytes, over the limit of ${limit} bytes (maxMessageBytes). ` +
        `Send less data per message, or raise { maxMessageBytes } on both sides.`,
      errorOptions(options),
    );
    this.size = size;
    this.limit = limit;
  }
}

/** True for a {@link MessageTooLargeError}, also across realms. */
export const isMessageTooLargeError = errorGuard(MessageTooLargeError, "MessageTooLargeError");
