/**
 * @packageDocumentation
 * An in-process queue with the receive contract of a socket (stream.ts {@link Receiver}): a push-style read loop
 * that must keep reading (for heartbeats) feeds it, and a pull-style {@link Inbox} reads from it as if it were the
 * socket. Its size is bounded by whoever feeds it (a reliable sink: the FETCH window).
 * @internal
 */
import type { Receiver } from "./stream.js";

/** A FIFO of messages; `receive()` waits for the next one and rejects once the channel has ended. @internal */
export class Channel<T> implements Receiver<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #waiter: { readonly resolve: (item: T) => void; readonly reject: (err: Error) => void } | undefined;
  #ended = false;

  /** Messages waiting to be received. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds a message (ignored once ended). */
  push(item: T): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(item);
      return;
    }
    this.#items.push(item);
  }

  /** The next message; rejects once the channel has ended. One pending call at a time, as on a socket. */
  receive(): Promise<T> {
    if (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      this.#items[this.#head] = undefined; // let it be collected
      this.#head++;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return Promise.resolve(item as T); // slots from #head on always hold a pushed item
    }
    if (this.#ended) return Promise.reject(new Error("the channel has ended"));
    return new Promise<T>((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** Ends the channel: waiting messages are dropped and every `receive()` rejects. */
  end(): void {
    this.#ended = true;
    this.#items = [];
    this.#head = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new Error("the channel has ended"));
  }
}
