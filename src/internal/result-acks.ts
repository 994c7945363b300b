/**
 * @packageDocumentation
 * The acknowledgements of a reliable `PipelineSink` (protocol 1.3): which results reached user code (TAKEN, sent
 * in batches: once per event-loop turn, or at {@link TAKEN_BATCH} ids), and the dedupe window that keeps a result
 * delivered again (after a reconnection, or a broker restart that lost a TAKEN) from reaching user code twice.
 *
 * The window remembers the last `dedupeWindow` task ids that arrived (a ring of the ids in arrival order with their
 * states, whose slot, when reused, evicts the oldest, and a Map of each id's slot), so its memory is bounded: a repeat
 * of an id older than that is yielded again. (The ring, not the Map's own order: finding a Map's oldest key walks past
 * every entry deleted since its last rehash, which made each eviction cost O(window) once the window was full.) Each
 * id is in one of two states:
 * **pending** (it arrived and was not handed to user code yet: a repeat is dropped, and the TAKEN sent when the first
 * copy is handed covers both) or **taken** (a repeat is dropped and acknowledged again at once).
 * @internal
 */

/** Most ids in one TAKEN. @internal */
export const TAKEN_BATCH = 256;

/** The dedupe window and the TAKEN batch of one sink. @internal */
export class ResultAcks {
  readonly #window: number;
  readonly #send: (ids: string[]) => boolean;
  /** Task id → its slot in the ring; exactly the ids in the ring. */
  readonly #slots = new Map<string, number>();
  /** The remembered ids in arrival order, as a ring: `#next` is the slot of the oldest once the ring is full. */
  readonly #ring: string[] = [];
  /** Per slot: taken (true) or pending (false). The state lives beside the ring, so taking an id is no Map write. */
  readonly #taken: boolean[] = [];
  #next = 0;
  /**
   * The slot the next hand-off is expected at: results are handed in the order they arrived, so `handed()` first
   * checks `#ring[#cursor]` (the same string object, so `===` is a pointer compare) and looks the id up in the Map
   * only when that guess is wrong (which then puts the guess back in step). This and the state array beside the ring
   * took the window from five Map operations per result (get, set, delete on arrival; has, set on hand-off) to three,
   * which with a 65,536-id window (a Map far bigger than the CPU caches) was most of its cost.
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
  }

  /** Results that arrived again and were not handed to user code. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** A result arrived. True when it is new: hand it on. False for a repeat (counted, acknowledged if it was taken). */
  arrived(id: string): boolean {
    const slot = this.#slots.get(id);
    if (slot === undefined) {
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
    const slot = this.#ring[guess] === id ? guess : this.#slots.get(id);
    if (slot === undefined) {
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
    if (this.#ring.length < this.#window) {
      this.#slots.set(id, this.#ring.length);
      this.#ring.push(id);
      this.#taken.push(taken);
      return;
    }
    const slot = this.#next;
    this.#slots.delete(this.#ring[slot]!);
    this.#slots.set(id, slot);
    this.#ring[slot] = id;
    this.#taken[slot] = taken;
    this.#next = slot + 1 === this.#window ? 0 : slot + 1;
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
