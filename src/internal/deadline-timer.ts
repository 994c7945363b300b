/**
 * @packageDocumentation
 * One timer for many deadlines: the deadlines of an owner's waits (an `RpcClient`'s calls) in a binary min-heap that
 * lives in the entries themselves (each entry keeps its own heap position, so adding and removing one allocates
 * nothing and costs O(log n)), and one `setTimeout` armed for the earliest of them.
 *
 * A `setTimeout` per call costs a Timeout object and its closures, and in lockstep (one call at a time) also a timer
 * list that Node creates and drops on every call. Here the timer is armed once and stays armed while calls come and
 * go: it is re-armed only when a new deadline is earlier than the armed one, and when it fires it expires every entry
 * that is due (in deadline order, ties in the order they were added) and arms itself for the next. While no entry is
 * pending the timer is unref'd, so it never keeps the process alive. Deadlines are on `performance.now()`'s monotonic
 * clock; an entry never expires before its time (a timer that fires early is re-armed for the rest).
 * @internal
 */

/** The fields a {@link DeadlineTimer} keeps in each of its entries. @internal */
export interface DeadlineEntry {
  /** `performance.now()` at which the entry expires. */
  deadlineKey: number;
  /** Tie-breaker: entries with the same deadline expire in the order they were added. */
  deadlineSeq: number;
  /** The entry's position in the heap; -1 when it is not in one. */
  heapIndex: number;
}

/** The longest delay `setTimeout` honours (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/** Deadlines of many entries, one timer. @internal */
export class DeadlineTimer<TEntry extends DeadlineEntry> {
  readonly #heap: TEntry[] = [];
  readonly #expire: (entry: TEntry) => void;
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** `performance.now()` the armed timer is due at (Infinity when none is armed). */
  #armedAt = Number.POSITIVE_INFINITY;
  #refed = false;
  readonly #onTimer = (): void => this.#fire();

  /** @param expire - Called once for each entry whose deadline passed, after it left the heap. */
  constructor(expire: (entry: TEntry) => void) {
    this.#expire = expire;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Adds `entry` to expire `afterMs` from now (it must not be in the heap). */
  add(entry: TEntry, afterMs: number): void {
    entry.deadlineKey = performance.now() + afterMs;
    entry.deadlineSeq = this.#seq++;
    const heap = this.#heap;
    entry.heapIndex = heap.length;
    heap.push(entry);
    this.#up(entry.heapIndex);
    if (!this.#refed) {
      this.#refed = true;
      this.#timer?.ref();
    }
    if (entry.deadlineKey < this.#armedAt) this.#arm(entry.deadlineKey);
  }

  /** Removes `entry` if it is waiting; the armed timer stays (it fires for nothing at worst, and re-arms). */
  remove(entry: TEntry): void {
    const at = entry.heapIndex;
    if (at < 0) return;
    entry.heapIndex = -1;
    const heap = this.#heap;
    const last = heap.pop()!;
    if (at < heap.length) {
      heap[at] = last;
      last.heapIndex = at;
      this.#down(at);
      this.#up(last.heapIndex);
    }
    if (heap.length === 0 && this.#refed) {
      this.#refed = false;
      this.#timer?.unref();
    }
  }

  /** Removes every entry (without expiring them) and stops the timer. */
  clear(): void {
    for (const entry of this.#heap) entry.heapIndex = -1;
    this.#heap.length = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    this.#refed = false;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(at - performance.now())));
    this.#armedAt = at;
    this.#timer = setTimeout(this.#onTimer, delay);
    if (!this.#refed) this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const heap = this.#heap;
    const now = performance.now();
    // Expire what is due now; entries an expiry adds or removes are seen by the loop as it goes.
    while (heap.length > 0 && heap[0]!.deadlineKey <= now) {
      const entry = heap[0]!;
      this.remove(entry);
      this.#expire(entry);
    }
    const next = heap[0];
    if (next !== undefined && next.deadlineKey < this.#armedAt) this.#arm(next.deadlineKey);
  }

  #before(a: TEntry, b: TEntry): boolean {
    return a.deadlineKey < b.deadlineKey || (a.deadlineKey === b.deadlineKey && a.deadlineSeq < b.deadlineSeq);
  }

  #up(at: number): void {
    const heap = this.#heap;
    const entry = heap[at]!;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = heap[parentAt]!;
      if (!this.#before(entry, parent)) break;
      heap[at] = parent;
      parent.heapIndex = at;
      at = parentAt;
    }
    heap[at] = entry;
    entry.heapIndex = at;
  }

  #down(at: number): void {
    const heap = this.#heap;
    const entry = heap[at]!;
    const n = heap.length;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.#before(heap[right]!, heap[left]!) ? right : left;
      if (!this.#before(heap[child]!, entry)) break;
      heap[at] = heap[child]!;
      heap[at]!.heapIndex = at;
      at = child;
    }
    heap[at] = entry;
    entry.heapIndex = at;
  }
}
