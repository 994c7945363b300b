/**
 * @packageDocumentation
 * {@link ClosedError}: the object was closed.
 */
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError } from "./typed-zmq-error.js";

/** The object was closed before or while the operation ran. */
export class ClosedError extends TypedZmqError {
  override readonly name = "ClosedError";
  readonly code = ErrorCode.CLOSED;
}

/** True for a {@link ClosedError}, also across realms. */
export const isClosedError = errorGuard(ClosedError, "ClosedError");
