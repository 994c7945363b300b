/**
 * @packageDocumentation
 * An `RpcClient`'s call batches (protocol 1.4, docs/protocol.md "Call batches"), one batcher per link: calls made in
 * the same event-loop turn travel in one `$batch` message. A batch goes when it holds `maxMessages` calls or
 * `maxBytes` bytes, else on the next turn (`setImmediate`, with `maxDelayMs` 0) or after `maxDelayMs`: one
 * scheduling per batch, never a timer per call.
 * @internal
 */
import type { OptionReader } from "./options.js";

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
  #immediate: NodeJS.Immediate | undefined;
  #timeout: NodeJS.Timeout | undefined;
  readonly #due = (): void => {
    this.#immediate = undefined;
    this.#timeout = undefined;
    this.flush();
  };

  constructor(limits: CallBatchLimits, flush: FlushBatch<TCall>) {
    this.#limits = limits;
    this.#flush = flush;
  }

  /** Adds one call's record (`encodeBatchCall`); sends the batch at once when this call filled it. */
  add(call: TCall, id: number, record: Buffer): void {
    this.#calls.push(call);
    this.#ids.push(id);
    this.#records.push(record);
    this.#bytes += record.length;
    if (this.#calls.length >= this.#limits.maxMessages || this.#bytes >= this.#limits.maxBytes) {
      this.flush();
    } else if (this.#immediate === undefined && this.#timeout === undefined) {
      const delay = this.#limits.maxDelayMs;
      if (delay === 0) this.#immediate = setImmediate(this.#due);
      else this.#timeout = setTimeout(this.#due, delay);
    }
  }

  /** Hands on the waiting calls now, if there are any. */
  flush(): void {
    this.#cancelTimer();
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
