/**
 * @packageDocumentation
 * Serialises sends on one socket: zeromq.js allows one pending `send()` per socket (a second throws EBUSY).
 * @internal
 */
import type * as zmq from "zeromq";

interface Item {
  readonly frames: zmq.MessageLike[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * A FIFO of outgoing messages for one socket, sent one at a time in order.
 * @internal
 */
export class SendQueue {
  readonly #socket: zmq.Writable & zmq.Socket;
  #items: (Item | undefined)[] = [];
  #head = 0;
  #running = false;
  #idle: Array<() => void> = [];

  constructor(socket: zmq.Writable & zmq.Socket) {
    this.#socket = socket;
  }

  /** Number of messages waiting to be handed to libzmq. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Queues a multipart message; resolves when libzmq has accepted it, rejects with the zeromq error. */
  send(frames: zmq.MessageLike[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#items.push({ frames, resolve, reject });
      if (!this.#running) void this.#drain();
    });
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
      if (item === undefined) continue;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      try {
        if (this.#socket.closed) throw Object.assign(new Error("Socket is closed"), { code: "EBADF" });
        await this.#socket.send(item.frames);
        item.resolve();
      } catch (err) {
        item.reject(err);
      }
    }
    this.#items = [];
    this.#head = 0;
    this.#running = false;
    const waiters = this.#idle;
    this.#idle = [];
    for (const wake of waiters) wake();
  }
}
