/**
 * @packageDocumentation
 * Deadlines for calls that wait: checking a `timeoutMs` option, and arming a timer and an `AbortSignal` listener
 * that fail the wait with a {@link TimeoutError} or an {@link AbortedError}.
 */
import { AbortedError, InvalidArgumentError, OutOfRangeError, TimeoutError, type TypedZmqError } from "../errors/index.js";

/**
 * Checks a `timeoutMs` option and returns it (or the fallback).
 */
export function checkTimeout(value: number | undefined, fallback: number, option: string, owner?: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || value > 2_147_483_647) {
    const who = owner === undefined ? "" : `${owner}: `;
    throw new OutOfRangeError(`${who}\`${option}\` must be a number of milliseconds from 1 to 2147483647, got ${String(value)}.`);
  }
  return value;
}

/** What {@link watchDeadline} reports in error messages. */
export interface DeadlinePlace {
  /** For example `RpcClient.call("orders.v1/getOrder")`. */
  readonly what: string;
  /** Where the awaited message is expected from. */
  readonly endpoint: string;
  /** What is awaited, for the timeout message (default: a reply from `endpoint`). */
  readonly waitingFor?: string;
  /** What to do about a timeout (default: check a server is bound there, or raise `timeoutMs`). */
  readonly hint?: string;
}

/**
 * Builds the {@link TimeoutError} for a place, with an optional note on the `what` (for example how many arrived).
 */
export function timeoutFor(place: DeadlinePlace, timeoutMs: number, note = ""): TimeoutError {
  const options = {
    ...(place.waitingFor !== undefined && { waitingFor: place.waitingFor }),
    ...(place.hint !== undefined && { hint: place.hint }),
  };
  return new TimeoutError(`${place.what}${note}`, timeoutMs, place.endpoint, options);
}

/**
 * Refuses a `signal` that is not an AbortSignal before anything is armed: a bad one would otherwise throw later, from a
 * timer, where nothing can catch it.
 */
export function checkSignal(signal: unknown, what: string): void {
  if (signal === undefined) return;
  const ok =
    typeof signal === "object" &&
    signal !== null &&
    typeof Reflect.get(signal, "aborted") === "boolean" &&
    typeof Reflect.get(signal, "addEventListener") === "function" &&
    typeof Reflect.get(signal, "removeEventListener") === "function";
  if (!ok) {
    throw new InvalidArgumentError(
      `${what}: \`signal\` must be an AbortSignal (for example AbortSignal.timeout(ms) or an AbortController's signal).`,
    );
  }
}

/**
 * Arms a signal listener only (the timer lives elsewhere, for example in a shared `DeadlineTimer`); calls `fail`
 * once with an {@link AbortedError} when the signal fires. Returns a function that disarms it. If the signal has
 * already fired, `fail` runs synchronously. No signal: nothing is armed and the returned function does nothing.
 */
export function watchAbort(signal: AbortSignal | undefined, what: string, fail: (error: TypedZmqError) => void): () => void {
  if (signal === undefined) return nothing;
  checkSignal(signal, what);
  let done = false;
  const onAbort = (): void => {
    if (done) return;
    disarm();
    fail(new AbortedError(what, { cause: signal.reason }));
  };
  function disarm(): void {
    done = true;
    signal?.removeEventListener("abort", onAbort);
  }
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return disarm;
}

function nothing(): void {
  // No signal: nothing was armed.
}

/**
 * Arms a timer and a signal listener; calls `fail` once with a {@link TimeoutError} or {@link AbortedError}.
 * Returns a function that disarms both; call it as soon as the wait ends another way.
 * If the signal has already fired, `fail` runs synchronously.
 */
export function watchDeadline(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  place: DeadlinePlace,
  fail: (error: TypedZmqError) => void,
): () => void {
  checkSignal(signal, place.what);
  let done = false;
  const onAbort = (): void => {
    if (done) return;
    disarm();
    fail(new AbortedError(place.what, { cause: signal?.reason }));
  };
  const timer = setTimeout(() => {
    if (done) return;
    disarm();
    fail(timeoutFor(place, timeoutMs));
  }, timeoutMs);
  function disarm(): void {
    done = true;
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  if (signal !== undefined) {
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return disarm;
}
