/**
 * @packageDocumentation
 * The acknowledgements of a reliable `PipelineSink` (protocol 1.3): which results reached user code (TAKEN, sent
 * in batches: once per event-loop turn, or at {@link TAKEN_BATCH} ids), and the dedupe window that keeps a result
 * delivered again (after a reconnection, or a broker restart that lost a TAKEN) from reaching user code twice.
 *
 * The window remembers the last `dedupeWindow` task ids that arrived ({@link RecentIds}: a ring of the ids in arrival
 * order, whose slot, when reused, evicts the oldest, and a compact hash table of each id's slot; the states sit in an
 * array beside the ring), so its memory is bounded: a repeat of an id older than that is yielded again. (With a
 * `Map` of 65,536 string keys, far bigger than the CPU caches, each arrival cost a get, a delete and a set in it.)
 * Each id is in one of two states:
 * **pending** (it arrived and was not handed to user code yet: a repeat is dropped, and the TAKEN sent when the first
 * copy is handed covers both) or **taken** (a repeat is dropped and acknowledged again at once).
 * @internal
 */

import { RecentIds } from "./recent-ids.js";

/**
 * Most ids in one TAKEN: as many as one RESULTS brings at most (the broker's default `maxBatch`), so that a sink
 * answers a RESULTS with one TAKEN rather than several (each message wakes the broker). @internal
 */
export const TAKEN_BATCH = 1024;

/** The dedupe window and the TAKEN batch of one sink. @internal */
export class ResultAcks {
  readonly #window: number;
  readonly #send: (ids: string[]) => boolean;
  /** The remembered ids in arrival order, each in a ring slot. */
  readonly #ids: RecentIds;
  /** Per ring slot: taken (true) or pending (false). The state lives beside the ring, so taking an id is no table write. */
  readonly #taken: boolean[] = [];
  /**
   * The slot the next hand-off is expected at: results are handed in the order they arrived, so `handed()` first
   * checks the id in slot `#cursor` (the same string object, so `===` is a pointer compare) and looks the id up only
   * when that guess is wrong (which then puts the guess back in step): a hand-off costs no lookup.
   */
  #cursor = 0;
  #unsent: string[] = [];
  #scheduled = false;
  #duplicates = 0;

  /**
   * @param window - How many task ids are remembered.
   * @param send - Sends one TAKEN; returns false when it could not (no connection): the ids are kept for later.
   */
  constructor(window: number, send: (ids: string[]) => boolean) {
    this.#window = window;
    this.#send = send;
    this.#ids = new RecentIds(window);
  }

  /** Results that arrived again and were not handed to user code. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** A result arrived. True when it is new: hand it on. False for a repeat (counted, acknowledged if it was taken). */
  arrived(id: string): boolean {
    const slot = this.#ids.slotOf(id);
    if (slot < 0) {
      this.#remember(id, false);
      return true;
    }
    this.#duplicates++;
    if (this.#taken[slot] === true) this.#ack(id);
    return false;
  }

  /** A result reached user code: acknowledge it. */
  handed(id: string): void {
    // A remembered id changes state in place (the window counts arrivals); only one already evicted is added anew.
    const guess = this.#cursor;
    const slot = this.#ids.idAt(guess) === id ? guess : this.#ids.slotOf(id);
    if (slot < 0) {
      this.#remember(id, true);
    } else {
      this.#taken[slot] = true;
      this.#cursor = slot + 1 === this.#window ? 0 : slot + 1;
    }
    this.#ack(id);
  }

  /** A result that can never reach user code (it breaks the schema): acknowledged so the broker forgets it. */
  discard(id: string): void {
    this.handed(id);
  }

  /** Sends the acknowledgements not sent yet (called each turn, and when a connection comes up). */
  flush(): void {
    this.#scheduled = false;
    while (this.#unsent.length > 0) {
      const ids = this.#unsent.slice(0, TAKEN_BATCH);
      if (!this.#send(ids)) return;
      this.#unsent = this.#unsent.slice(ids.length);
    }
  }

  /** Adds an id that is not remembered, evicting the oldest when the window is full. */
  #remember(id: string, taken: boolean): void {
    const slot = this.#ids.add(id);
    if (slot >= 0) this.#taken[slot] = taken;
  }

  #ack(id: string): void {
    this.#unsent.push(id);
    if (this.#unsent.length >= TAKEN_BATCH) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }
}
