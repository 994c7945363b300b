/**
 * @packageDocumentation
 * {@link RemoteCallError}: what a caller gets when the server answers with an error reply. Formerly `RemoteError`.
 */
import { errorGuard } from "./guard.js";
import { TypedZmqError } from "./typed-zmq-error.js";
import type { RpcErrorBody } from "./wire.js";

/**
 * A call was answered with an error reply: the server (or a broker on the way) received the request and refused
 * it, or its handler failed.
 *
 * `code` is the remote code: a wire code from {@link WireErrorCode} (`INVALID_REQUEST`, `HANDLER_ERROR`,
 * `UNAVAILABLE`, ...) or an application code a handler raised with {@link ApplicationError}. `remoteMessage` and
 * `details` are what the server sent.
 *
 * Named for where it is seen: the caller's side of a remote call. (The former name `RemoteError` was easy to take
 * for the error a handler throws, which is the {@link ApplicationError}.) Failures that never reached a server,
 * such as a {@link TimeoutError}, are not `RemoteCallError`s.
 */
export class RemoteCallError extends TypedZmqError {
  override readonly name = "RemoteCallError";
  /** The remote code: a wire code or an application code. */
  readonly code: string;
  /** The message the server sent, without the local prefix. */
  readonly remoteMessage: string;
  /** Structured data the server sent, if any. */
  readonly details: unknown;
  /** Contract name and version. */
  readonly contract: string;
  /** The method that was called. */
  readonly method: string;
  constructor(contract: string, method: string, body: RpcErrorBody) {
    super(`${contract}/${method} failed on the server with ${body.code}: ${body.message}`);
    this.code = body.code;
    this.remoteMessage = body.message;
    this.details = body.details;
    this.contract = contract;
    this.method = method;
  }
}

/** True for a {@link RemoteCallError} (also one named `RemoteError` by an older version), also across realms. */
export const isRemoteCallError = errorGuard(RemoteCallError, "RemoteCallError", { formerNames: ["RemoteError"] });

/**
 * Former name of {@link RemoteCallError}: the same class, so `instanceof RemoteError` still works.
 *
 * @deprecated Use {@link RemoteCallError} instead.
 */
export const RemoteError = RemoteCallError;
/**
 * Former name of {@link RemoteCallError}.
 *
 * @deprecated Use {@link RemoteCallError} instead.
 */
export type RemoteError = RemoteCallError;

/**
 * Former name of {@link isRemoteCallError}.
 *
 * @deprecated Use {@link isRemoteCallError} instead.
 */
export const isRemoteError = isRemoteCallError;
