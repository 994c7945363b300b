/**
 * @packageDocumentation
 * {@link NoServerError}: a call found no connected server within its deadline, and says what each endpoint showed.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * What a client last saw of one endpoint, from the socket's connection events:
 * - `nothing`: no event at all yet (the connection is still being set up, or the transport reports none);
 * - `refused`: connecting failed (nothing listens there, or the host is down) and libzmq keeps retrying;
 * - `unresolved`: libzmq could not even start a connection (an unresolvable host name?) and keeps retrying;
 * - `handshake-failed`: a peer accepted the connection but the ZMTP handshake failed: a socket of the wrong type
 *   (not a ROUTER), or mismatched security (CURVE);
 * - `lost`: it was connected, and the connection was lost;
 * - `connected`: it is connected now.
 */
export type EndpointState = "nothing" | "refused" | "unresolved" | "handshake-failed" | "lost" | "connected";

/** One endpoint in a {@link NoServerError}. */
export interface EndpointStatus {
  /** The endpoint, as connected. */
  readonly endpoint: string;
  /** What was last seen of it. */
  readonly state: EndpointState;
  /** The same in words, with any detail libzmq gave (the handshake error, how many retries). */
  readonly detail: string;
}

/**
 * A call was made while no server was connected and none connected before its deadline: nothing was sent, so the
 * request certainly did not run. Distinct from a {@link TimeoutError}, which means a request was sent to a
 * connected server and no reply came in time. `endpoints` says what was last seen of each endpoint.
 */
export class NoServerError extends TypedZmqError {
  override readonly name = "NoServerError";
  readonly code = ErrorCode.NO_SERVER;
  /** How long the call waited for a server, in milliseconds. */
  readonly waitedMs: number;
  /** What was last seen of each endpoint. */
  readonly endpoints: readonly EndpointStatus[];
  constructor(what: string, waitedMs: number, endpoints: readonly EndpointStatus[], options?: TypedZmqErrorOptions) {
    const seen = endpoints.map((e) => `${e.endpoint}: ${e.detail}`).join("; ");
    super(
      `${what} found no connected server in ${Math.round(waitedMs)} ms, so nothing was sent (${seen}). ` +
        `Check that a server (or a broker's frontend) of this contract is bound there and reachable, ` +
        `with a ROUTER socket and the same security settings.`,
      errorOptions(options),
    );
    this.waitedMs = waitedMs;
    this.endpoints = endpoints;
  }
}

/** True for a {@link NoServerError}, also across realms. */
export const isNoServerError = errorGuard(NoServerError, "NoServerError");
