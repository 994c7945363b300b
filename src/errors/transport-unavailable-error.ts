/**
 * @packageDocumentation
 * {@link TransportUnavailableError}: the loaded libzmq lacks the endpoint's transport.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** The loaded libzmq cannot use this transport (for example `pgm://` when libzmq was built without PGM). */
export class TransportUnavailableError extends TypedZmqError {
  override readonly name = "TransportUnavailableError";
  readonly code = ErrorCode.TRANSPORT_UNAVAILABLE;
  /** The endpoint that was refused. */
  readonly endpoint: string;
  /** The transport the loaded libzmq lacks. */
  readonly transport: string;
  constructor(endpoint: string, transport: string, why: string, options?: TypedZmqErrorOptions) {
    super(`Cannot use '${endpoint}': ${why}`, errorOptions(options));
    this.endpoint = endpoint;
    this.transport = transport;
  }
}

/** True for a {@link TransportUnavailableError}, also across realms. */
export const isTransportUnavailableError = errorGuard(TransportUnavailableError, "TransportUnavailableError");
