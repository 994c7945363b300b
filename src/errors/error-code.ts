/**
 * @packageDocumentation
 * The one vocabulary of codes users test against: the wire codes of `wire.ts` plus the codes that only describe
 * failures on this side of the wire (timeouts, aborts, closed objects, bad endpoints, misuse, libzmq failures).
 */
import { WireErrorCode } from "./wire.js";

/** Codes that never travel: each describes a failure in this process. */
const LocalErrorCode = {
  /** A topic is not covered by any declared topic of the contract. */
  UNKNOWN_TOPIC: "UNKNOWN_TOPIC",
  /** A payload failed its schema on this side (before sending, or on arrival). */
  VALIDATION_FAILED: "VALIDATION_FAILED",
  /** No reply arrived in time. */
  TIMEOUT: "TIMEOUT",
  /** No server was connected during the call's whole deadline (nothing was sent): see {@link NoServerError}. */
  NO_SERVER: "NO_SERVER",
  /** The connection carrying a call was lost before its reply came: it may or may not have run. */
  CONNECTION_LOST: "CONNECTION_LOST",
  /** The caller's `AbortSignal` fired. */
  ABORTED: "ABORTED",
  /** A lossless (`noDrop`) publish waited past `stallLimitMs` for a subscriber that is not reading. */
  SUBSCRIBER_STALLED: "SUBSCRIBER_STALLED",
  /** The object was closed. */
  CLOSED: "CLOSED",
  /** An endpoint string is not valid. */
  INVALID_ENDPOINT: "INVALID_ENDPOINT",
  /** Another socket is already bound to the endpoint. */
  ENDPOINT_IN_USE: "ENDPOINT_IN_USE",
  /** The loaded libzmq cannot use the endpoint's transport (for example pgm without PGM support). */
  TRANSPORT_UNAVAILABLE: "TRANSPORT_UNAVAILABLE",
  /** Any other failure reported by libzmq. */
  TRANSPORT: "TRANSPORT",
  /** A function or constructor was called with an argument or option of the wrong type or shape. */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  /** A numeric argument or option is outside its allowed range. */
  OUT_OF_RANGE: "OUT_OF_RANGE",
  /** A queue store file is already open in another broker (in this process or another): {@link StoreLockedError}. */
  STORE_LOCKED: "STORE_LOCKED",
  /** A queue store file is not a SQLite database, is damaged, or is not a typed-zmq queue store. */
  STORE_CORRUPT: "STORE_CORRUPT",
  /** A queue store cannot be opened or written: missing module, permissions, a bad path, I/O, a newer schema. */
  STORE_UNAVAILABLE: "STORE_UNAVAILABLE",
  /**
   * A reliable pipeline's broker refused to store a task (its reason, `QUEUE_FULL`, `STORE_FULL`, `STORE_FAILED` or
   * `MALFORMED`, is in the error's `reason`): see {@link TaskRejectedError}.
   */
  TASK_REJECTED: "TASK_REJECTED",
  /** A contract exported to JSON Schema or AsyncAPI holds a type JSON Schema cannot describe. */
  UNREPRESENTABLE_SCHEMA: "UNREPRESENTABLE_SCHEMA",
} as const;

/**
 * The codes typed-zmq uses, on the wire and locally.
 *
 * Wire codes (the members of {@link WireErrorCode}) are sent by an `RpcServer` in an error reply and by a
 * `PipelineWorker` in a failure result; `MALFORMED` and `MESSAGE_TOO_LARGE` are also raised locally. Handlers may
 * add application codes of their own by throwing an {@link ApplicationError}. The rest are local: they describe
 * failures on this side of the wire.
 */
export const ErrorCode = { ...WireErrorCode, ...LocalErrorCode } as const;

/** One of the codes in {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
