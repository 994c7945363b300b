/**
 * @packageDocumentation
 * Serialises sends on one socket: zeromq.js allows one pending `send()` per socket (a second throws EBUSY).
 * @internal
 */
import type * as zmq from "zeromq";
import { toError } from "./zmq-errors.js";

/** Set `cancelled` to drop a queued message that has not been handed to libzmq yet. @internal */
export interface CancelToken {
  cancelled: boolean;
}

interface Item {
  readonly frames: zmq.MessageLike[];
  readonly resolve: (sent: boolean) => void;
  readonly reject: (err: unknown) => void;
  readonly token: CancelToken | undefined;
}

/** Options of a {@link SendQueue}. @internal */
export interface SendQueueOptions {
  /**
   * The socket has a `sendTimeout`: when a send times out (EAGAIN) and its message is not cancelled, try again.
   * This is how a blocking send (PUSH with no peer) stays cancellable: between attempts the token is checked.
   */
  readonly retryWhileBlocked?: boolean;
  /**
   * The socket rejects sends with EAGAIN when a peer's queue is full instead of waiting (an XPUB with ZMQ_XPUB_NODROP):
   * wait and try again, yielding to the event loop first and then backing off up to a few milliseconds, so a full
   * queue costs no CPU while the subscribers catch up.
   */
  readonly waitWhenFull?: boolean;
}

function backoff(attempt: number): Promise<void> {
  if (attempt < 3) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => setTimeout(resolve, Math.min(8, 2 ** (attempt - 3))));
}

function isEagain(err: unknown): boolean {
  return typeof err === "object" && err !== null && Reflect.get(err, "code") === "EAGAIN";
}

/**
 * A FIFO of outgoing messages for one socket, sent one at a time in order.
 * @internal
 */
export class SendQueue {
  readonly #socket: zmq.Writable & zmq.Socket;
  readonly #retry: boolean;
  readonly #waitWhenFull: boolean;
  #items: (Item | undefined)[] = [];
  #head = 0;
  #running = false;
  #idle: Array<() => void> = [];

  constructor(socket: zmq.Writable & zmq.Socket, options: SendQueueOptions = {}) {
    this.#socket = socket;
    this.#retry = options.retryWhileBlocked === true;
    this.#waitWhenFull = options.waitWhenFull === true;
  }

  /** Number of messages waiting to be handed to libzmq. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Queues a multipart message; resolves with `true` when libzmq has accepted it, rejects with the zeromq error.
   * A message whose `token` is cancelled before libzmq accepted it is skipped: the promise resolves with `false`.
   */
  send(frames: zmq.MessageLike[], token?: CancelToken): Promise<boolean> {
    if (!this.#running && token?.cancelled !== true && !this.#socket.closed) {
      // Fast path, the common case: nothing is queued, so hand the message to zeromq.js at once (one promise hop
      // instead of a queue round trip). Retryable failures go back into the queue, at its head, with their token.
      this.#running = true;
      return this.#socket.send(frames).then(this.#fastSent, (err: unknown) => this.#fastFailed(frames, err, token));
    }
    return new Promise<boolean>((resolve, reject) => {
      this.#items.push({ frames, resolve, reject, token });
      if (!this.#running) void this.#drain();
    });
  }

  readonly #fastSent = (): boolean => {
    this.#running = false;
    this.#afterFast();
    return true;
  };

  #fastFailed(frames: zmq.MessageLike[], err: unknown, token: CancelToken | undefined): Promise<boolean> {
    this.#running = false;
    if (isEagain(err) && (this.#retry || this.#waitWhenFull) && !this.#socket.closed) {
      return new Promise<boolean>((resolve, reject) => {
        this.#items.splice(this.#head, 0, { frames, resolve, reject, token });
        void this.#drain();
      });
    }
    this.#afterFast();
    return Promise.reject(toError(err));
  }

  #afterFast(): void {
    if (this.#head < this.#items.length) {
      void this.#drain();
      return;
    }
    const waiters = this.#idle;
    if (waiters.length === 0) return;
    this.#idle = [];
    for (const wake of waiters) wake();
  }

  /**
   * Cancels the message sent with `token`. A message still waiting in the queue is removed and its promise resolves
   * with `false` at once. The message being sent right now can only be stopped between attempts (when the socket
   * has a send timeout and `retryWhileBlocked`); its promise then resolves with `false`, or with `true` if libzmq
   * accepted it first.
   */
  cancel(token: CancelToken): void {
    token.cancelled = true;
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item?.token === token) {
        this.#items[i] = undefined;
        item.resolve(false);
        return;
      }
    }
  }

  /** Resolves once every queued message has been handed to libzmq (or failed). */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      this.#items[this.#head] = undefined;
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (item !== undefined) await this.#sendOne(item);
    }
    this.#items = [];
    this.#head = 0;
    this.#running = false;
    const waiters = this.#idle;
    this.#idle = [];
    for (const wake of waiters) wake();
  }

  async #sendOne(item: Item): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (item.token?.cancelled === true) {
        item.resolve(false);
        return;
      }
      try {
        if (this.#socket.closed) throw Object.assign(new Error("Socket is closed"), { code: "EBADF" });
        await this.#socket.send(item.frames);
        item.resolve(true);
        return;
      } catch (err) {
        if (this.#retry && isEagain(err) && !this.#socket.closed) continue;
        if (this.#waitWhenFull && isEagain(err) && !this.#socket.closed) {
          await backoff(attempt);
          continue;
        }
        item.reject(err);
        return;
      }
    }
  }
}
