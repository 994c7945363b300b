/**
 * @packageDocumentation
 * {@link TypedZmqError}, the base of every error typed-zmq throws or rejects with, and {@link isTypedZmqError}.
 */
import { isForeignTypedZmqError } from "./guard.js";
import { InvalidArgumentError } from "./invalid-argument-error.js";
import { OutOfRangeError } from "./out-of-range-error.js";

const ordinaryHasInstance = Function.prototype[Symbol.hasInstance];

/**
 * Base class of every error typed-zmq throws or rejects with.
 *
 * Test for a specific failure with `code` or the `isXxxError` guards, which work across realms.
 *
 * `instanceof TypedZmqError` is also true for the two misuse errors, {@link InvalidArgumentError} and
 * {@link OutOfRangeError}, which extend the built-in `TypeError` and `RangeError` instead of this class.
 */
export abstract class TypedZmqError extends Error {
  /** Machine-readable code; one of {@link ErrorCode}, or an application code carried by a {@link RemoteCallError}. */
  abstract readonly code: string;

  /**
   * Set on the final error of a call that `RpcClient` may retry (a method marked `idempotent`): every attempt made,
   * in order, the last one being the attempt this error comes from. Undefined on every other error.
   */
  declare readonly attempts?: readonly CallAttempt[];

  /**
   * `instanceof` as usual, plus, on `TypedZmqError` itself, the misuse errors that extend `TypeError`/`RangeError`.
   * Subclasses (`x instanceof ClosedError`) keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (ordinaryHasInstance.call(this, value)) return true;
    return this === TypedZmqError && (value instanceof InvalidArgumentError || value instanceof OutOfRangeError);
  }
}

/** One attempt of a call, as recorded in {@link TypedZmqError.attempts}. */
export interface CallAttempt {
  /** The endpoint the attempt was sent to (or, when no server was connected, every endpoint it waited for). */
  readonly endpoint: string;
  /** How the attempt ended: an {@link ErrorCode} (`UNAVAILABLE`, `CONNECTION_LOST`, `TIMEOUT`, `NO_SERVER`, ...). */
  readonly code: string;
  /** Milliseconds from the start of the call to the end of this attempt. */
  readonly elapsedMs: number;
}

/** Options shared by all error constructors. */
export interface TypedZmqErrorOptions {
  /** The underlying failure, kept as `cause`. */
  readonly cause?: unknown;
}

/**
 * True for any error typed-zmq produced, also across realms: an instance of {@link TypedZmqError}, or an object
 * with the name of one of the error classes and a string `code`.
 */
export function isTypedZmqError(err: unknown): err is TypedZmqError {
  return err instanceof TypedZmqError || isForeignTypedZmqError(err);
}
