/**
 * @packageDocumentation
 * Bounded waits for room on a socket that refuses sends while a peer's queue is full (an XPUB with
 * `ZMQ_XPUB_NODROP`, whose sends the send queue retries on EAGAIN): a per-call `timeoutMs`/`signal`, and a stall
 * limit that is the same for every send of the socket. A send that gives up is cancelled in the send queue; it
 * fails only once the queue confirms that libzmq never took it, so a failed send is a message that was not sent.
 *
 * The stall limit is one timer for all sends, not one per send: sends enter in order and share one limit, so their
 * stall deadlines come in order too and only the oldest one needs a timer.
 * @internal
 */
import type * as zmq from "zeromq";
import { AbortedError, type TypedZmqError } from "../errors/index.js";
import type { WaitOptions } from "../signal.js";
import { checkTimeout, watchDeadline, type DeadlinePlace } from "./deadline.js";
import type { CancelToken } from "./send-queue.js";

/** The part of the send queue (an `Outbox`) a {@link RoomWait} uses. @internal */
export interface CancellableSender {
  send(frames: zmq.MessageLike[], token?: CancelToken): Promise<boolean>;
  cancel(token: CancelToken): void;
}

interface Stalling {
  readonly since: number;
  readonly giveUp: () => void;
  settled: boolean;
}

/**
 * Sends with bounded waits for room; see the file comment.
 * @internal
 */
export class RoomWait {
  readonly #sender: CancellableSender;
  readonly #stallLimitMs: number | undefined;
  /** Sends under the stall limit that may still be waiting, oldest first (settled ones are removed lazily). */
  #stalling: Stalling[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(sender: CancellableSender, stallLimitMs: number | undefined) {
    this.#sender = sender;
    this.#stallLimitMs = stallLimitMs;
  }

  /** True when sends need this class (a stall limit is set), whatever the call's own options. */
  get limited(): boolean {
    return this.#stallLimitMs !== undefined;
  }

  /**
   * Queues `frames`; resolves once libzmq took them. Rejects with what `stalled()` builds after the stall limit, or
   * with a `TimeoutError`/`AbortedError` for the call's own `timeoutMs`/`signal`, in each case only once the message
   * is known not to have been sent. A message libzmq took before the cancellation could stop it resolves: it was
   * sent. Other failures (a closed socket) reject with the send queue's error.
   * @throws (synchronously) `RangeError`/`TypeError` for a bad `timeoutMs` or `signal`.
   */
  send(
    frames: zmq.MessageLike[],
    options: WaitOptions,
    placeOf: () => DeadlinePlace,
    stalled: () => TypedZmqError,
  ): Promise<void> {
    const bounded = options.timeoutMs !== undefined || options.signal !== undefined;
    const place = bounded ? placeOf() : undefined;
    const timeoutMs = options.timeoutMs === undefined ? undefined : checkTimeout(options.timeoutMs, 0, "timeoutMs", place!.what);
    if (options.signal?.aborted === true) {
      return Promise.reject(new AbortedError(place!.what, { cause: options.signal.reason }));
    }
    const token: CancelToken = { cancelled: false };
    let failure: TypedZmqError | undefined;
    const giveUp = (error: TypedZmqError): void => {
      if (failure !== undefined) return;
      failure = error;
      this.#sender.cancel(token);
    };
    const sending = this.#sender.send(frames, token);
    const disarm = place === undefined ? undefined : watchDeadline(timeoutMs ?? 2_147_483_647, options.signal, place, giveUp);
    const stall = this.#stallLimitMs === undefined ? undefined : this.#watchStall(() => giveUp(stalled()));
    const settle = (): void => {
      disarm?.();
      if (stall !== undefined) stall.settled = true;
    };
    return sending.then(
      (sent) => {
        settle();
        if (!sent) throw failure ?? new Error(`${placeOf().what}: the message was cancelled before it was sent.`);
      },
      (err: unknown) => {
        settle();
        throw err;
      },
    );
  }

  #watchStall(giveUp: () => void): Stalling {
    const entry: Stalling = { since: Date.now(), giveUp, settled: false };
    this.#stalling.push(entry);
    if (this.#timer === undefined) this.#arm();
    return entry;
  }

  /** Arms the one timer for the oldest send still waiting. */
  #arm(): void {
    const limit = this.#stallLimitMs!;
    while (this.#head < this.#stalling.length && this.#stalling[this.#head]!.settled) this.#head++;
    if (this.#head >= this.#stalling.length) {
      this.#stalling = [];
      this.#head = 0;
      this.#timer = undefined;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#stalling.length) {
      this.#stalling = this.#stalling.slice(this.#head);
      this.#head = 0;
    }
    const oldest = this.#stalling[this.#head]!;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, oldest.since + limit - Date.now()));
  }

  /** Gives up every send that has waited the stall limit, then re-arms for the next. */
  #expire(): void {
    const limit = this.#stallLimitMs!;
    const now = Date.now();
    while (this.#head < this.#stalling.length) {
      const entry = this.#stalling[this.#head]!;
      if (!entry.settled && entry.since + limit > now) break;
      this.#head++;
      if (!entry.settled) {
        entry.settled = true;
        entry.giveUp();
      }
    }
    this.#arm();
  }

  /** Stops the stall timer (the owner is closing; pending sends settle through the send queue). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stalling = [];
    this.#head = 0;
  }
}
