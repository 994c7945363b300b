/**
 * @packageDocumentation
 * The last `limit` ids added, for a repeat check that costs one or two cache lines per lookup: the reliable pipeline
 * broker asks it for every task a source pushes ("was this id taken recently?") and adds every id a sink takes; a
 * reliable sink's dedupe window (result-acks.ts) keeps the ids of the results that arrived, with a state per ring
 * slot beside it.
 *
 * With the ids in a `Map` or `Set` (65,536 of them per queue) each lookup walked a large hash table of string keys
 * (bucket, chain, key, the key's characters: four or five cache misses), and the broker spent a third of its
 * bookkeeping there once the other processes of a pipeline had pushed its tables out of the caches. Here the ids
 * sit in a ring (oldest first, so the one to forget is known), and an open-addressing table of `Int32Array`s maps
 * a 32-bit hash of each id to its ring slot; a lookup compares hashes first and the string only on a hash match.
 * Memory grows with use (tables double from 1,024 ids) up to `limit`: about 16 bytes per id plus the id strings.
 * @internal
 */

const FIRST_CAPACITY = 1024;

/** FNV-1a over the UTF-16 code units of `id`: cheap, and spread well enough for linear probing at half load. */
function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h;
}

/** A bounded set of the last ids added. @internal */
export class RecentIds {
  readonly #limit: number;
  /** The ring of ids, oldest at `#next` once it holds `#limit`. */
  readonly #ids: string[] = [];
  /** `#hashes[i]` is the hash of `#ids[i]`. */
  #hashes: Int32Array;
  /** Open addressing with linear probing: ring index + 1, 0 for an empty slot; at most half full. */
  #slots: Int32Array;
  #next = 0;
  /** The id `slotOf` looked up last and its hash: an `add` of it right after (a sink's new id) hashes it once. */
  #lastId: string | undefined;
  #lastHash = 0;

  /** @param limit - How many ids are remembered (the oldest is forgotten when one more is added). */
  constructor(limit: number) {
    this.#limit = limit;
    const capacity = Math.min(limit, FIRST_CAPACITY);
    this.#hashes = new Int32Array(capacity);
    this.#slots = new Int32Array(slotsFor(capacity));
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#ids.length;
  }

  /** Whether `id` is among the last `limit` added. */
  has(id: string): boolean {
    return this.#find(id, hashOf(id)) >= 0;
  }

  /**
   * The ring slot of `id` (0 to `limit - 1`), or -1 when it is not remembered. Slots are given in order, 0 first,
   * and reused oldest first once the ring is full: the slot an id had is another id's once it is forgotten.
   */
  slotOf(id: string): number {
    const hash = hashOf(id);
    this.#lastId = id;
    this.#lastHash = hash;
    const s = this.#find(id, hash);
    return s < 0 ? -1 : this.#slots[s]! - 1;
  }

  /** The id in ring slot `slot`, if any. */
  idAt(slot: number): string | undefined {
    return this.#ids[slot];
  }

  /**
   * Remembers `id` (again, if it already is: the older copy is then the one forgotten first) and returns its ring
   * slot, or -1 with `limit` 0.
   */
  add(id: string): number {
    if (this.#limit === 0) return -1;
    const hash = id === this.#lastId ? this.#lastHash : hashOf(id);
    let at: number;
    if (this.#ids.length < this.#limit) {
      at = this.#ids.length;
      if (at === this.#hashes.length) this.#grow();
      this.#ids.push(id);
    } else {
      at = this.#next;
      this.#unlink(at);
      this.#ids[at] = id;
      this.#next = at + 1 === this.#limit ? 0 : at + 1;
    }
    this.#hashes[at] = hash;
    this.#link(at, hash);
    return at;
  }

  /** The slot that holds `id`, or -1. */
  #find(id: string, hash: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const entry = slots[s]!;
      if (entry === 0) return -1;
      if (this.#hashes[entry - 1] === hash && this.#ids[entry - 1] === id) return s;
    }
  }

  #link(at: number, hash: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let s = hash & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = at + 1;
  }

  /** Takes ring index `at` out of the table, shifting later entries of its probe run back into the hole. */
  #unlink(at: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let hole = this.#hashes[at]! & mask;
    while (slots[hole] !== at + 1) hole = (hole + 1) & mask;
    slots[hole] = 0;
    for (let j = (hole + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const entry = slots[j]!;
      const home = this.#hashes[entry - 1]! & mask;
      // The entry may move back into the hole unless its home lies cyclically in (hole, j].
      const stays = hole < j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        slots[hole] = entry;
        slots[j] = 0;
        hole = j;
      }
    }
  }

  /** Doubles the ring's hash array (up to `limit`) and rebuilds the table at half load. */
  #grow(): void {
    const capacity = Math.min(this.#limit, this.#hashes.length * 2);
    const hashes = new Int32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    this.#slots = new Int32Array(slotsFor(capacity));
    for (let i = 0; i < this.#ids.length; i++) this.#link(i, hashes[i]!);
  }
}

/** A power of two at least twice `capacity`: the table stays at most half full. */
function slotsFor(capacity: number): number {
  let size = 2;
  while (size < capacity * 2) size *= 2;
  return size;
}
