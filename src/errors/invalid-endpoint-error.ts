/**
 * @packageDocumentation
 * {@link InvalidEndpointError}: an endpoint string typed-zmq does not accept.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** An endpoint string is not in a form typed-zmq accepts. */
export class InvalidEndpointError extends TypedZmqError {
  override readonly name = "InvalidEndpointError";
  readonly code = ErrorCode.INVALID_ENDPOINT;
  /** The endpoint as given. */
  readonly endpoint: string;
  constructor(endpoint: string, why: string, options?: TypedZmqErrorOptions) {
    super(
      `endpoint '${endpoint}' is not valid: ${why}. ` +
        `Expected tcp://host:port, ipc://path, inproc://name, pgm://interface;group:port or epgm://interface;group:port.`,
      errorOptions(options),
    );
    this.endpoint = endpoint;
  }
}

/** True for an {@link InvalidEndpointError}, also across realms. */
export const isInvalidEndpointError = errorGuard(InvalidEndpointError, "InvalidEndpointError");
