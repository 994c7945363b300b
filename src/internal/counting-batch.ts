/**
 * @packageDocumentation
 * A batch that only counts: it collects items and hands them on together once `maxMessages` items or `maxBytes`
 * bytes are in, or `maxDelayMs` after the first one, the timing rules of the `batch` options ({@link Batcher}).
 * Unlike the {@link Batcher} it packs nothing: the reliable source builds its PUSH from its pending entries
 * itself, so a packed copy of the bodies would be thrown away (it cost about 10% of the source's CPU).
 * @internal
 */
import type { Limits } from "./batcher.js";

/** Collects items and calls `send` with each full or timed-out batch, in order. @internal */
export class CountingBatch<T> {
  readonly #limits: Limits;
  readonly #send: (items: T[]) => void;
  #items: T[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  /** One timer callback for every batch, rather than a closure per batch. */
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.flush();
  };

  constructor(limits: Limits, send: (items: T[]) => void) {
    this.#limits = limits;
    this.#send = send;
  }

  /** Items waiting for their batch to go. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds an item of `bytes` bytes; sends the batch at once when this item filled it. */
  add(item: T, bytes: number): void {
    this.#items.push(item);
    this.#bytes += bytes;
    if (this.#items.length >= this.#limits.maxMessages || this.#bytes >= this.#limits.maxBytes) {
      this.flush();
      return;
    }
    this.#timer ??= setTimeout(this.#onTimer, this.#limits.maxDelayMs);
  }

  /** Sends the waiting items now (nothing when none wait). */
  flush(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#send(items);
  }
}
