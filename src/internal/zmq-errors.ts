/**
 * @packageDocumentation
 * Turning foreign failures into errors: any thrown value into an `Error` ({@link toError}), and a zeromq.js failure
 * into the matching typed-zmq error ({@link fromZmqError}).
 */
import { ClosedError, EndpointInUseError, TransportError, TransportUnavailableError, TypedZmqError } from "../errors/index.js";

/** Turns any thrown value into an `Error`, so that code never has to handle non-Errors. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  let text: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify returns undefined for undefined, functions and symbols, whatever its lib type says
    text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return new Error(`non-Error value thrown: ${text}`, { cause: value });
}

/** The fields zeromq.js puts on its errors. */
interface ZmqErrorFields {
  readonly code?: unknown;
  readonly message?: unknown;
}

/** Maps a zeromq.js failure during bind/connect/send to a typed error, keeping the original as `cause`. */
export function fromZmqError(err: unknown, what: string, endpoint: string): TypedZmqError {
  if (err instanceof TypedZmqError) return err;
  const fields: ZmqErrorFields = typeof err === "object" && err !== null ? err : {};
  const code = typeof fields.code === "string" ? fields.code : undefined;
  const text = typeof fields.message === "string" ? fields.message : String(err);
  switch (code) {
    case "EADDRINUSE":
      return new EndpointInUseError(endpoint, { cause: err });
    case "EBADF":
      return new ClosedError(`${what} failed: the socket is already closed (${text}).`, { cause: err });
    case "EPROTONOSUPPORT":
      return new TransportUnavailableError(
        endpoint,
        endpoint.split(":", 1)[0] ?? endpoint,
        `the loaded libzmq does not support this transport (${text}). Run with a libzmq built with it.`,
        { cause: err },
      );
    default:
      return new TransportError(
        `${what} failed for '${endpoint}': ${text}${code ? ` (${code})` : ""}. ` +
          `Check the address and that the peer or interface exists.`,
        { cause: err },
      );
  }
}
