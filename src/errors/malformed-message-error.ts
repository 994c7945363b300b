/**
 * @packageDocumentation
 * {@link MalformedMessageError}: a message that could not be understood.
 */
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError } from "./typed-zmq-error.js";

/** A message could not be understood: wrong frame layout, or a body the codec could not decode. */
export class MalformedMessageError extends TypedZmqError {
  override readonly name = "MalformedMessageError";
  readonly code = ErrorCode.MALFORMED;
}

/** True for a {@link MalformedMessageError}, also across realms. */
export const isMalformedMessageError = errorGuard(MalformedMessageError, "MalformedMessageError");
