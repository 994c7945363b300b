/**
 * @packageDocumentation
 * {@link TransportError}: any other failure reported by libzmq.
 */
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError } from "./typed-zmq-error.js";

/** Any other failure reported by libzmq; the original zeromq error is the `cause`. */
export class TransportError extends TypedZmqError {
  override readonly name = "TransportError";
  readonly code = ErrorCode.TRANSPORT;
}

/** True for a {@link TransportError}, also across realms. */
export const isTransportError = errorGuard(TransportError, "TransportError");
