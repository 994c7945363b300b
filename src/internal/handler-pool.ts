/**
 * @packageDocumentation
 * One handler pool for the classes that run user handlers (`RpcServer`, `PipelineWorker`): a concurrency limit the
 * read loop waits on, the stop signal every handler gets, and a bounded drain for `close()`.
 * @internal
 */
import { settleWithin, signalled } from "./timing.js";

/**
 * Counts running handlers against a limit. The read loop awaits {@link HandlerPool.slot} before reading the next
 * message, so a full pool leaves messages in ZeroMQ's queues (back-pressure) instead of buffering them here.
 * @internal
 */
export class HandlerPool {
  readonly #limit: number;
  readonly #stop = new AbortController();
  #running = 0;
  #slotWaiter: (() => void) | undefined;
  #drainWaiter: (() => void) | undefined;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running;
  }

  /** The signal every handler gets: aborted when the owner stops waiting for them. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** Resolves once a slot is free, or once {@link HandlerPool.release} is called (the owner is closing). */
  slot(): Promise<void> | undefined {
    if (this.#running < this.#limit) return undefined;
    return new Promise<void>((resolve) => (this.#slotWaiter = resolve));
  }

  /** A handler starts. */
  begin(): void {
    this.#running++;
  }

  /** A handler finished: wakes the read loop, and `drain()` when it was the last one. */
  end(): void {
    this.#running--;
    this.release();
    if (this.#running === 0) this.#drainWaiter?.();
  }

  /** Wakes a read loop waiting for a slot (used when closing, so the loop sees the closed socket and ends). */
  release(): void {
    const wake = this.#slotWaiter;
    this.#slotWaiter = undefined;
    wake?.();
  }

  /**
   * Waits up to `timeoutMs` for running handlers to finish; then aborts the signal of those still running with
   * `reason()`. Resolves true when every handler finished in time.
   */
  async drain(timeoutMs: number, reason: () => Error): Promise<boolean> {
    if (this.#running > 0) {
      const drained = signalled();
      this.#drainWaiter = drained.resolve;
      await settleWithin(drained.promise, timeoutMs);
    }
    if (this.#running === 0) return true;
    this.#stop.abort(reason());
    return false;
  }
}
