/**
 * @packageDocumentation
 * What travels on the wire when something fails: the codes an `RpcServer` puts in an error reply and a
 * `PipelineWorker` in a failure result, and the shape of that error body (`docs/protocol.md`, "Error codes").
 *
 * These codes are a contract with peers in other languages: add to them only with the protocol document. The codes
 * that never leave the process are in `error-code.ts`, which merges both into the one {@link ErrorCode} vocabulary.
 */

/**
 * The codes that travel in RPC error replies and pipeline failure results.
 *
 * Every value is also a member of {@link ErrorCode}. A `code` that is in neither is an application code that a
 * handler chose by throwing an {@link ApplicationError}.
 */
export const WireErrorCode = {
  /** A message had the wrong frame layout or a body the codec could not decode. */
  MALFORMED: "MALFORMED",
  /** The requested method is not part of the contract. */
  UNKNOWN_METHOD: "UNKNOWN_METHOD",
  /** The server rejected a request that breaks the request schema. */
  INVALID_REQUEST: "INVALID_REQUEST",
  /** A handler returned data that breaks the response schema. */
  INVALID_RESPONSE: "INVALID_RESPONSE",
  /** A pipeline worker received a task that breaks the task schema. */
  INVALID_TASK: "INVALID_TASK",
  /** A pipeline worker's handler returned a result that breaks the result schema. */
  INVALID_RESULT: "INVALID_RESULT",
  /** A handler threw something other than an {@link ApplicationError}. */
  HANDLER_ERROR: "HANDLER_ERROR",
  /** A message exceeded the configured `maxMessageBytes`. */
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  /**
   * The request was not answered: the server is shutting down and did not run (or finish) it, or a broker lost the
   * worker running it (a method not marked idempotent is not run again).
   */
  UNAVAILABLE: "UNAVAILABLE",
  /** The request's `contract` header names another contract (or version) than the one the server serves. */
  CONTRACT_MISMATCH: "CONTRACT_MISMATCH",
  /**
   * The request's deadline (its `deadline` or `remainingMs` header) had passed before a server or broker could start
   * it, so it was not started: the caller has given up on it.
   */
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  /** A broker had no worker for the requested service within its wait limit (or the request's deadline). */
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  /**
   * A durable `PipelineBroker` refused a pushed task because its store is full (its `maxStoreBytes`, or the disk):
   * the task was not stored. Locally, {@link StoreFullError} carries this code.
   */
  STORE_FULL: "STORE_FULL",
  /**
   * A durable `PipelineBroker` refused a pushed task because it could not commit it to its store (an I/O or other
   * store failure other than a full store): the task was not stored. Push it again later, or check the broker.
   */
  STORE_FAILED: "STORE_FAILED",
} as const;

/** One of the codes in {@link WireErrorCode}. */
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** Fields of an RPC error reply or a pipeline failure result (`{ code, message, details? }` on the wire). */
export interface RpcErrorBody {
  /** Wire code: one of {@link WireErrorCode}, or an application code from an {@link ApplicationError}. */
  readonly code: string;
  /** Human-readable explanation. */
  readonly message: string;
  /** Optional structured data (for `INVALID_REQUEST`: `{ issues }`). */
  readonly details?: unknown;
}
