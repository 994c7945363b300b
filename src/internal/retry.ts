/**
 * @packageDocumentation
 * The retry policy of `RpcClient` (the Lazy Pirate pattern of the ZeroMQ Guide): which failures a call of an
 * idempotent method may retry, the backoff between attempts (exponential with full jitter), and the record of the
 * attempts that the final error carries. Pure: no sockets, no timers; the clock and the random source are passed in.
 * @internal
 */
import { ErrorCode, type CallAttempt, type TypedZmqError } from "../errors/index.js";
import { OptionReader } from "./options.js";

/** The resolved retry options. */
export interface RetryPolicy {
  /** Attempts in all, the first included (at least 1). */
  readonly attempts: number;
  /** Backoff before the second attempt's ceiling; it doubles with each attempt. */
  readonly backoffMs: number;
  /** Ceiling of the backoff. */
  readonly maxBackoffMs: number;
  /** Longest wait for one attempt's reply; undefined: the whole time the call has left. */
  readonly attemptTimeoutMs: number | undefined;
}

/** The defaults (documented on `RetryOptions` in rpc-client.ts). */
export const RETRY_DEFAULTS = { attempts: 3, backoffMs: 50, maxBackoffMs: 1_000 } as const;

/**
 * Reads the `retry` option: `false` turns retries off (undefined is returned), `true` or absent gives the
 * defaults, an object overrides some of them.
 */
export function readRetryPolicy(read: OptionReader): RetryPolicy | undefined {
  if (read.raw("retry") === false) return undefined;
  const build = (r: OptionReader): RetryPolicy => {
    const backoffMs = r.nonNegativeMs("backoffMs", RETRY_DEFAULTS.backoffMs);
    return {
      attempts: r.positiveInt("attempts", RETRY_DEFAULTS.attempts),
      backoffMs,
      maxBackoffMs: r.nonNegativeMs("maxBackoffMs", Math.max(backoffMs, RETRY_DEFAULTS.maxBackoffMs)),
      attemptTimeoutMs: r.optionalPositiveInt("attemptTimeoutMs"),
    };
  };
  return read.nested("retry", build) ?? Object.freeze(build(new OptionReader(read.owner, {}, `${read.name("retry")}.`)));
}

/** Codes after which an attempt of an idempotent call may be made again: the request did no harm, or may run twice. */
const RETRYABLE: ReadonlySet<string> = new Set<string>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.CONNECTION_LOST,
  ErrorCode.NO_SERVER,
  ErrorCode.TIMEOUT,
]);

/** True when an attempt that ended with `code` may be retried (for an idempotent method). */
export function isRetryable(code: string): boolean {
  return RETRYABLE.has(code);
}

/**
 * The wait before the next attempt, after `failed` attempts (1 for the wait before the second): full jitter, a
 * uniform draw between 0 and `min(maxBackoffMs, backoffMs × 2^(failed − 1))`, so that many clients that failed at
 * the same moment do not come back at the same moment.
 */
export function backoffDelay(policy: RetryPolicy, failed: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, failed - 1));
  return Math.floor(random() * ceiling);
}

/** The attempts of one call, in order, each timed from the start of the call. */
export class AttemptLog {
  readonly #startedAt: number;
  readonly #attempts: CallAttempt[] = [];

  constructor(startedAt: number) {
    this.#startedAt = startedAt;
  }

  /** How many attempts have ended. */
  get count(): number {
    return this.#attempts.length;
  }

  /** Records the end of an attempt at `now`. */
  record(endpoint: string, code: string, now: number): void {
    this.#attempts.push(Object.freeze({ endpoint, code, elapsedMs: Math.max(0, Math.round(now - this.#startedAt)) }));
  }

  /** The endpoint of the last attempt, if any. */
  get lastEndpoint(): string | undefined {
    return this.#attempts.at(-1)?.endpoint;
  }

  /**
   * Gives `error` the attempts (as {@link TypedZmqError.attempts}) and appends to its message how many attempts
   * were made, where, and over how long. Returns `error`.
   */
  attach<TError extends TypedZmqError>(error: TError, now: number): TError {
    const attempts = Object.freeze([...this.#attempts]);
    Object.defineProperty(error, "attempts", { value: attempts, enumerable: true, configurable: true });
    error.message += ` ${describeAttempts(attempts, now - this.#startedAt)}`;
    return error;
  }
}

/** "After 3 attempts over 412 ms (tcp://a: CONNECTION_LOST after 20 ms; tcp://b: UNAVAILABLE after 95 ms; ...)." */
export function describeAttempts(attempts: readonly CallAttempt[], totalMs: number): string {
  const n = attempts.length;
  const each = attempts.map((a) => `${a.endpoint}: ${a.code} at ${a.elapsedMs} ms`).join("; ");
  return `(${n} attempt${n === 1 ? "" : "s"} over ${Math.round(totalMs)} ms: ${each}.)`;
}
