/**
 * @packageDocumentation
 * The acknowledgements of a reliable `PipelineSink` (protocol 1.3): which results reached user code (TAKEN, sent
 * in batches: once per event-loop turn, or at {@link TAKEN_BATCH} ids), and the dedupe window that keeps a result
 * delivered again (after a reconnection, or a broker restart that lost a TAKEN) from reaching user code twice.
 *
 * The window remembers the last `dedupeWindow` task ids that arrived (a Map of their states, and a ring of the ids in
 * arrival order whose slot, when reused, evicts the oldest), so its memory is bounded: a repeat of an id older than
 * that is yielded again. (The ring, not the Map's own order: finding a Map's oldest key walks past every entry deleted
 * since its last rehash, which made each eviction cost O(window) once the window was full.) Each id is in one of two states:
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
  /** Task id → taken (true) or pending (false); exactly the ids in the ring. */
  readonly #seen = new Map<string, boolean>();
  /** The remembered ids in arrival order, as a ring: `#next` is the slot of the oldest once the ring is full. */
  readonly #ring: string[] = [];
  #next = 0;
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
    const taken = this.#seen.get(id);
    if (taken === undefined) {
      this.#remember(id, false);
      return true;
    }
    this.#duplicates++;
    if (taken) this.#ack(id);
    return false;
  }

  /** A result reached user code: acknowledge it. */
  handed(id: string): void {
    // A remembered id changes state in place (the window counts arrivals); only one already evicted is added anew.
    if (this.#seen.has(id)) this.#seen.set(id, true);
    else this.#remember(id, true);
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
    this.#seen.set(id, taken);
    if (this.#ring.length < this.#window) {
      this.#ring.push(id);
      return;
    }
    this.#seen.delete(this.#ring[this.#next]!);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.#window;
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
