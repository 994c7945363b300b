/**
 * @packageDocumentation
 * Gap counting for a subscriber (protocol 1.3, `topicSeq`): the last `topicSeq` seen per (publisherId, epoch,
 * wire topic), in a bounded LRU map. A message whose `topicSeq` jumps past the next expected one means the numbers
 * in between were lost (at a high-water mark, or in transit); one at or below the last is a duplicate or arrived out
 * of order, counted apart and never as a gap. The first message of a stream sets its start: what came before it
 * cannot be seen, and neither can losses after the last message received. Pure: no sockets, no timers.
 * @internal
 */

/** What {@link GapTracker.observe} found. @internal */
export type Observed =
  | { readonly kind: "next" }
  /** `topicSeq` from `from` to `to` (`missed` of them) never arrived. */
  | { readonly kind: "gap"; readonly missed: number; readonly from: number; readonly to: number }
  | { readonly kind: "repeat" };

const NEXT: Observed = { kind: "next" };
const REPEAT: Observed = { kind: "repeat" };

/** Streams tracked by default: (publisherId, epoch, topic) triples. */
export const GAP_STREAMS = 10_000;

/**
 * Tracks the last `topicSeq` of each (publisherId, epoch, topic); see the file comment. When more than `capacity`
 * streams are live, the one least recently seen is forgotten: its next message starts it again (a gap across the
 * forgetting is not seen).
 * @internal
 */
export class GapTracker {
  readonly #capacity: number;
  /** Key → the last topicSeq seen; a Map keeps insertion order, so re-inserting on use makes it an LRU. */
  readonly #last = new Map<string, number>();

  constructor(capacity = GAP_STREAMS) {
    this.#capacity = capacity;
  }

  /** Streams tracked now. */
  get size(): number {
    return this.#last.size;
  }

  /**
   * Records a message (or a batch of `count` messages) whose first `topicSeq` is `topicSeq`.
   * A new `publisherId` or `epoch` is a new stream, so a restarted publisher starts again without a false gap.
   */
  observe(publisherId: string, epoch: number, topic: string, topicSeq: number, count = 1): Observed {
    // Unambiguous: the id's length comes first, the epoch is a number, the topic is the rest.
    const key = `${publisherId.length}:${publisherId}|${epoch}|${topic}`;
    const last = this.#last.get(key);
    const end = topicSeq + count - 1;
    if (last === undefined) {
      this.#remember(key, end);
      return NEXT;
    }
    if (topicSeq <= last) {
      if (end > last) this.#touch(key, end);
      else this.#touch(key, last);
      return REPEAT;
    }
    this.#touch(key, end);
    if (topicSeq === last + 1) return NEXT;
    return { kind: "gap", missed: topicSeq - last - 1, from: last + 1, to: topicSeq - 1 };
  }

  #touch(key: string, value: number): void {
    this.#last.delete(key);
    this.#last.set(key, value);
  }

  #remember(key: string, value: number): void {
    this.#last.set(key, value);
    if (this.#last.size > this.#capacity) {
      const oldest = this.#last.keys().next();
      if (oldest.done !== true) this.#last.delete(oldest.value);
    }
  }
}
