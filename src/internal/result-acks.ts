/**
 * @packageDocumentation
 * The acknowledgements of a reliable `PipelineSink` (protocol 1.3): which results reached user code (TAKEN, sent
 * in batches: once per event-loop turn, or at {@link TAKEN_BATCH} ids), and the dedupe window that keeps a result
 * delivered again (after a reconnection, or a broker restart that lost a TAKEN) from reaching user code twice.
 *
 * The window remembers the last `dedupeWindow` task ids seen (a Map in insertion order, the oldest evicted first), so
 * its memory is bounded: a repeat of an id older than that is yielded again. Each id is in one of two states:
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
  /** Task id → taken (true) or pending (false). */
  readonly #seen = new Map<string, boolean>();
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
    // A pending id changes state where it is (Map.set keeps the order: the window counts arrivals); only an id that
    // is not remembered (already evicted) is added as the newest.
    if (this.#seen.get(id) === false) this.#seen.set(id, true);
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

  #remember(id: string, taken: boolean): void {
    this.#seen.delete(id);
    this.#seen.set(id, taken);
    if (this.#seen.size > this.#window) {
      const oldest = this.#seen.keys().next();
      if (oldest.done !== true) this.#seen.delete(oldest.value);
    }
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
