/**
 * @packageDocumentation
 * The options of calls that wait: a timeout and an optional `AbortSignal`, mapped to typed errors. The mechanics
 * are in `internal/deadline.ts`.
 */

/** Options every waiting call accepts. */
export interface WaitOptions {
  /** Cancels the wait; the call rejects with an {@link AbortedError} whose `cause` is `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
  /** Gives up after this many milliseconds with a {@link TimeoutError}. */
  readonly timeoutMs?: number | undefined;
}
