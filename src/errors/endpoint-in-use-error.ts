/**
 * @packageDocumentation
 * {@link EndpointInUseError}: another socket already holds the endpoint.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** Another socket already holds the endpoint. */
export class EndpointInUseError extends TypedZmqError {
  override readonly name = "EndpointInUseError";
  readonly code = ErrorCode.ENDPOINT_IN_USE;
  /** The endpoint that could not be bound. */
  readonly endpoint: string;
  constructor(endpoint: string, options?: TypedZmqErrorOptions) {
    super(
      `Cannot bind '${endpoint}': the address is already in use. ` +
        `Stop the other process, pick another port or path, or bind to port 0 (or '*') for an ephemeral port.`,
      errorOptions(options),
    );
    this.endpoint = endpoint;
  }
}

/** True for an {@link EndpointInUseError}, also across realms. */
export const isEndpointInUseError = errorGuard(EndpointInUseError, "EndpointInUseError");
