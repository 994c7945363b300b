/**
 * @packageDocumentation
 * {@link ApplicationError}: what a handler throws to fail with a code of its own choosing. Formerly `RpcError`.
 */
import { errorOptions } from "../internal/error-options.js";
import { errorGuard } from "./guard.js";
import { InvalidArgumentError } from "./invalid-argument-error.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * Thrown by a handler (an `RpcServer` method handler or a `PipelineWorker` job handler) to fail with an application
 * code of its choosing, such as `NOT_FOUND`.
 *
 * `code`, `message` and `details` are sent as they are: an RPC caller rejects with a {@link RemoteCallError} carrying
 * them, a pipeline sink gets them as the failure result's `error`. Anything else a handler throws is reported as
 * `HANDLER_ERROR` instead.
 *
 * Named for who raises it: the application, on the serving side. (The former name `RpcError` read like "any RPC
 * failure", which is what the caller's {@link RemoteCallError} is; and it is not RPC-only.)
 *
 * @example
 * ```ts
 * throw new ApplicationError("NOT_FOUND", `order ${id} does not exist`, { details: { id } });
 * ```
 */
export class ApplicationError extends TypedZmqError {
  override readonly name = "ApplicationError";
  /** The application code, sent to the caller as the error body's `code`. */
  readonly code: string;
  /** Structured data sent to the caller with the error. */
  readonly details: unknown;
  /** @throws {@link InvalidArgumentError} when `code` is not a non-empty string. */
  constructor(code: string, message: string, options?: TypedZmqErrorOptions & { readonly details?: unknown }) {
    if (typeof code !== "string" || code.length === 0) {
      throw new InvalidArgumentError('ApplicationError: `code` must be a non-empty string, for example "NOT_FOUND".');
    }
    super(message, errorOptions(options));
    this.code = code;
    this.details = options?.details;
  }
}

/** True for an {@link ApplicationError} (also one named `RpcError` by an older version), also across realms. */
export const isApplicationError = errorGuard(ApplicationError, "ApplicationError", { formerNames: ["RpcError"] });

/**
 * Former name of {@link ApplicationError}: the same class, so `new RpcError(…)` and `instanceof RpcError` still work.
 *
 * @deprecated Use {@link ApplicationError} instead.
 */
export const RpcError = ApplicationError;
/**
 * Former name of {@link ApplicationError}.
 *
 * @deprecated Use {@link ApplicationError} instead.
 */
export type RpcError = ApplicationError;

/**
 * Former name of {@link isApplicationError}.
 *
 * @deprecated Use {@link isApplicationError} instead.
 */
export const isRpcError = isApplicationError;
