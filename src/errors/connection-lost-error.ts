/**
 * @packageDocumentation
 * {@link ConnectionLostError}: the connection carrying a call went away before its reply came.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * The connection to the server a call was sent to was lost (the server died, was stopped, or the network failed:
 * ZMTP heartbeats notice a silent peer) before the reply came. The request may or may not have run: `RpcClient`
 * retries such calls by itself only for methods marked `idempotent`.
 */
export class ConnectionLostError extends TypedZmqError {
  override readonly name = "ConnectionLostError";
  readonly code = ErrorCode.CONNECTION_LOST;
  /** The endpoint whose connection was lost. */
  readonly endpoint: string;
  constructor(what: string, endpoint: string, options?: TypedZmqErrorOptions & { readonly hint?: string }) {
    super(
      `${what} lost its connection to ${endpoint} before the reply came: the request may or may not have run. ` +
        (options?.hint ??
          `Check whether it took effect before calling again, or mark the method \`idempotent: true\` in the contract if running it twice is harmless (it is then retried).`),
      errorOptions(options),
    );
    this.endpoint = endpoint;
  }
}

/** True for a {@link ConnectionLostError}, also across realms. */
export const isConnectionLostError = errorGuard(ConnectionLostError, "ConnectionLostError");
