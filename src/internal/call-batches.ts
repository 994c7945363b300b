/**
 * @packageDocumentation
 * An `RpcClient`'s call batches (protocol 1.4, docs/protocol.md "Call batches"), one batcher per link: calls made in
 * the same event-loop turn travel in one `$batch` message. A batch goes when it holds `maxMessages` calls or
 * `maxBytes` bytes, else on the next turn (`setImmediate`, with `maxDelayMs` 0) or after `maxDelayMs`: one
 * scheduling per batch, never a timer per call.
 *
 * Ramp: within one turn (or one `maxDelayMs` window) the first batch goes as soon as it holds {@link FIRST_BATCH}
 * calls, each next one at twice the size of the last, up to `maxMessages`. With 100 calls in flight the replies of
 * one batch come back together and the 100 next calls are made in one turn; sent as one batch, client and server
 * take turns and each idles half the time. Sent as 16 + 32 + 52, the server is already reading the first batch
 * while the client still encodes the rest, and a large burst still travels in batches of `maxMessages`.
 * @internal
 */
import type { OptionReader } from "./options.js";

/** The size at which the first batch of a turn goes (or `maxMessages`, when smaller); each next batch doubles. @internal */
export const FIRST_BATCH = 16;

/** The limits of the `batch` option of `RpcClient.connect`, resolved. @internal */
export interface CallBatchLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxDelayMs: number;
}

/**
 * Reads the client's `batch` option (`BatchOptions` or a boolean): 256 calls, 64 KiB, the next event-loop turn.
 * @internal
 */
export function readCallBatch(read: OptionReader): CallBatchLimits | undefined {
  return read.nested("batch", (batch) => ({
    maxMessages: batch.positiveInt("maxMessages", 256),
    maxBytes: batch.positiveInt("maxBytes", 65_536),
    maxDelayMs: batch.nonNegativeMs("maxDelayMs", 0),
  }));
}

/** What a batcher hands on: the calls with the ids they had when added, and their packed records. @internal */
export type FlushBatch<TCall> = (calls: TCall[], ids: number[], records: Buffer[]) => void;

/** Collects the records of one link's calls and hands each full or due batch to `flush`. @internal */
export class CallBatcher<TCall> {
  readonly #limits: CallBatchLimits;
  readonly #flush: FlushBatch<TCall>;
  #calls: TCall[] = [];
  #ids: number[] = [];
  #records: Buffer[] = [];
  #bytes = 0;
  /** How many calls the batch being filled goes at (the ramp): FIRST_BATCH at the start of a turn, then doubling. */
  #step: number;
  #immediate: NodeJS.Immediate | undefined;
  #timeout: NodeJS.Timeout | undefined;
  readonly #due = (): void => {
    this.#immediate = undefined;
    this.#timeout = undefined;
    this.#step = Math.min(FIRST_BATCH, this.#limits.maxMessages);
    this.#hand();
  };

  constructor(limits: CallBatchLimits, flush: FlushBatch<TCall>) {
    this.#limits = limits;
    this.#flush = flush;
    this.#step = Math.min(FIRST_BATCH, limits.maxMessages);
  }

  /** Adds one call's record (`encodeBatchCall`); sends the batch at once when this call filled it. */
  add(call: TCall, id: number, record: Buffer): void {
    this.#calls.push(call);
    this.#ids.push(id);
    this.#records.push(record);
    this.#bytes += record.length;
    if (this.#immediate === undefined && this.#timeout === undefined) {
      // One scheduling per turn (or window): it sends what is left and restarts the ramp.
      const delay = this.#limits.maxDelayMs;
      if (delay === 0) this.#immediate = setImmediate(this.#due);
      else this.#timeout = setTimeout(this.#due, delay);
    }
    if (this.#calls.length >= this.#step || this.#bytes >= this.#limits.maxBytes) {
      this.#step = Math.min(this.#step * 2, this.#limits.maxMessages);
      this.#hand();
    }
  }

  /** Hands on the waiting calls now, if there are any (and restarts the ramp). */
  flush(): void {
    this.#cancelTimer();
    this.#step = Math.min(FIRST_BATCH, this.#limits.maxMessages);
    this.#hand();
  }

  #hand(): void {
    if (this.#calls.length === 0) return;
    const calls = this.#calls;
    const ids = this.#ids;
    const records = this.#records;
    this.#calls = [];
    this.#ids = [];
    this.#records = [];
    this.#bytes = 0;
    this.#flush(calls, ids, records);
  }

  /** Forgets the waiting calls (the client is closing: they are rejected by their owner). */
  clear(): void {
    this.#cancelTimer();
    this.#step = Math.min(FIRST_BATCH, this.#limits.maxMessages);
    this.#calls = [];
    this.#ids = [];
    this.#records = [];
    this.#bytes = 0;
  }

  #cancelTimer(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.#immediate = undefined;
    this.#timeout = undefined;
  }
}
