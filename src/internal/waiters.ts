/**
 * @packageDocumentation
 * Waiting until a condition holds (enough subscribers, workers or servers), with a timeout and a signal.
 * @internal
 */
import { TimeoutError } from "../errors/index.js";
import type { WaitOptions } from "../signal.js";
import { checkSignal, checkTimeout, timeoutFor, watchDeadline, type DeadlinePlace } from "./deadline.js";
import { toError } from "./zmq-errors.js";

interface Waiter {
  readonly ready: () => boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Promises that resolve once their condition holds. The owner calls {@link Waiters.check} whenever the state the
 * conditions read has changed, and {@link Waiters.rejectAll} when it closes.
 * @internal
 */
export class Waiters {
  #list: Waiter[] = [];

  /**
   * Resolves once `ready()` is true; rejects with a {@link TimeoutError} (its message ends with `note()`, for
   * example how many are there) or an `AbortedError`.
   */
  until(
    ready: () => boolean,
    options: WaitOptions,
    place: DeadlinePlace,
    defaultTimeoutMs: number,
    note: () => string,
  ): Promise<void> {
    if (ready()) return Promise.resolve();
    let timeoutMs: number;
    try {
      timeoutMs = checkTimeout(options.timeoutMs, defaultTimeoutMs, "timeoutMs", place.what);
      checkSignal(options.signal, place.what);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return new Promise<void>((resolve, reject) => {
      let disarm = (): void => undefined;
      const waiter: Waiter = {
        ready,
        resolve: () => {
          disarm();
          resolve();
        },
        reject: (error) => {
          disarm();
          reject(error);
        },
      };
      this.#list.push(waiter);
      disarm = watchDeadline(timeoutMs, options.signal, place, (error) => {
        this.#list = this.#list.filter((w) => w !== waiter);
        reject(error instanceof TimeoutError ? timeoutFor(place, timeoutMs, note()) : error);
      });
    });
  }

  /** Resolves every waiter whose condition now holds. */
  check(): void {
    const ready = this.#list.filter((w) => w.ready());
    if (ready.length === 0) return;
    this.#list = this.#list.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Rejects every waiter (the owner is closing). */
  rejectAll(error: Error): void {
    const list = this.#list;
    this.#list = [];
    for (const w of list) w.reject(error);
  }
}
