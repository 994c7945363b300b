/**
 * @packageDocumentation
 * One handler pool for the classes that run user handlers (`RpcServer`, `PipelineWorker`): a concurrency limit the
 * read loop waits on (or, for a reader that must never pause, a FIFO of starts waiting for a slot), the stop signal
 * every handler gets, a bounded drain for `close()`, and each handler's own signal, built only when it is read.
 * @internal
 */
import { settleWithin, signalled } from "./timing.js";

/** The longest delay `setTimeout` honours (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Counts running handlers against a limit. The read loop awaits {@link HandlerPool.slot} before reading the next
 * message, so a full pool leaves messages in ZeroMQ's queues (back-pressure) instead of buffering them here. A
 * reader that must keep reading (an MDP worker, whose heartbeats arrive on the same socket) hands its starts to
 * {@link HandlerPool.run} instead: they wait in a FIFO here, bounded by the credit the worker announced.
 * @internal
 */
export class HandlerPool {
  readonly #limit: number;
  readonly #stop = new AbortController();
  #running = 0;
  #waiting: Array<() => void> = [];
  #slotWaiter: (() => void) | undefined;
  #drainWaiter: (() => void) | undefined;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running;
  }

  /** True when a handler may start now: a slot is free and nothing waits before it. */
  get free(): boolean {
    return this.#running < this.#limit && this.#waiting.length === 0;
  }

  /** Starts waiting in the FIFO of {@link HandlerPool.run}. */
  get queued(): number {
    return this.#waiting.length;
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

  /**
   * Calls `start` now when a slot is free, otherwise once one is (first come, first served). `start` calls
   * {@link HandlerPool.begin} when it does start a handler; it may decide not to (the request expired or was
   * cancelled while it waited), and the next one is tried.
   */
  run(start: () => void): void {
    if (this.#running < this.#limit && this.#waiting.length === 0) start();
    else this.#waiting.push(start);
  }

  /** Forgets every start still waiting (the owner answers them itself when closing). */
  clearQueue(): void {
    this.#waiting = [];
  }

  /** A handler starts. */
  begin(): void {
    this.#running++;
  }

  /** A handler finished: starts the next waiting one, wakes the read loop, and `drain()` when it was the last one. */
  end(): void {
    this.#running--;
    while (this.#running < this.#limit && this.#waiting.length > 0) this.#waiting.shift()?.();
    this.release();
    if (this.#running === 0 && this.#waiting.length === 0) this.#drainWaiter?.();
  }

  /** Wakes a read loop waiting for a slot (used when closing, so the loop sees the closed socket and ends). */
  release(): void {
    const wake = this.#slotWaiter;
    this.#slotWaiter = undefined;
    wake?.();
  }

  /**
   * Waits up to `timeoutMs` for running (and queued) handlers to finish; then aborts the signal of those still
   * running with `reason()`. Resolves true when every handler finished in time.
   */
  async drain(timeoutMs: number, reason: () => Error): Promise<boolean> {
    if (this.#running > 0 || this.#waiting.length > 0) {
      const drained = signalled();
      this.#drainWaiter = drained.resolve;
      await settleWithin(drained.promise, timeoutMs);
    }
    if (this.#running === 0 && this.#waiting.length === 0) return true;
    this.#stop.abort(reason());
    return false;
  }
}

/**
 * The abort signal of one handler, built lazily: no `AbortController`, listener or timer exists unless the handler
 * reads {@link JobSignal.signal}, so a handler that ignores its signal costs nothing. The signal aborts when the
 * pool's stop signal does (close), at the request's deadline, and on {@link JobSignal.abort} (a cancel notice).
 * @internal
 */
export class JobSignal {
  readonly #stop: AbortSignal;
  readonly #deadline: number | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #onStop: (() => void) | undefined;
  #reason: unknown;
  #aborted = false;
  #ended = false;

  /** @param deadline - Local epoch milliseconds after which the caller no longer wants the answer, if any. */
  constructor(stop: AbortSignal, deadline: number | undefined) {
    this.#stop = stop;
    this.#deadline = deadline;
  }

  /** The handler's signal (created on first read). */
  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    if (this.#aborted) controller.abort(this.#reason);
    else if (this.#stop.aborted) controller.abort(this.#stop.reason);
    else if (!this.#ended) {
      const onStop = (): void => controller.abort(this.#stop.reason);
      this.#onStop = onStop;
      this.#stop.addEventListener("abort", onStop, { once: true });
      if (this.#deadline !== undefined) {
        const left = this.#deadline - Date.now();
        if (left <= 0) this.#expire();
        // A peer may send any remainingMs; Node fires a timer over 2^31-1 ms at once, so a deadline that far away
        // (about 24 days) arms nothing.
        else if (left <= MAX_TIMER_MS) {
          this.#timer = setTimeout(() => this.#expire(), left);
          this.#timer.unref();
        }
      }
    }
    return controller.signal;
  }

  /** Aborts the signal with `reason` (now, or when it is first read). */
  abort(reason: unknown): void {
    if (this.#aborted || this.#ended) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#cleanUp();
  }

  /** The handler finished: stop the timer and the listener (the signal stays as it is). */
  end(): void {
    this.#ended = true;
    this.#cleanUp();
  }

  #expire(): void {
    this.abort(new DOMException("The request's deadline passed: its caller no longer waits for the answer.", "TimeoutError"));
  }

  #cleanUp(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onStop !== undefined) this.#stop.removeEventListener("abort", this.#onStop);
    this.#onStop = undefined;
  }
}
