/**
 * @packageDocumentation
 * The batcher behind the `batch` options (`src/batch.ts`): packs bodies per key straight into a batch buffer, in the
 * framing of `protocol/batch.ts`, and hands each full or timed-out batch to a send function.
 * @internal
 */
import type { Codec } from "../codec.js";
import { encodeBody } from "./codec-io.js";
import { RECORD_HEADER_BYTES } from "../protocol/batch.js";
import type { OptionReader } from "./options.js";

/** Limits of a batch, resolved from {@link BatchOptions}. @internal */
export interface Limits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxDelayMs: number;
}

/**
 * Reads a `batch` option (`BatchOptions` or a boolean) into frozen limits; undefined when batching is off.
 * Messages name the full option, for example: Publisher.bind: `batch.maxMessages` must be a positive integer, got 0.
 * @internal
 */
export function readBatch(read: OptionReader, key: string, defaults: BatchDefaults = BATCH_DEFAULTS): Limits | undefined {
  return read.nested(key, (batch) => ({
    maxMessages: batch.positiveInt("maxMessages", defaults.maxMessages),
    maxBytes: batch.positiveInt("maxBytes", defaults.maxBytes),
    maxDelayMs: batch.nonNegativeMs("maxDelayMs", 1),
  }));
}

/** The size limits a `batch: true` (or a `batch` object without them) gets. @internal */
export interface BatchDefaults {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/** Publishers, plain sources and workers' `batchResults`: 256 messages or 64 KiB. @internal */
export const BATCH_DEFAULTS: BatchDefaults = { maxMessages: 256, maxBytes: 65_536 };

/**
 * A reliable source: 1,024 tasks or 1 MiB per PUSH, as many as the broker's default `maxBatch` sends a worker at
 * once. Each PUSH costs a message and its ACCEPTED a second one, and every message wakes the processes on its way:
 * at 256 the reliable pipeline spent about a sixth more CPU per task (npm run bench). The `maxDelayMs` is the same.
 * @internal
 */
export const RELIABLE_PUSH_BATCH_DEFAULTS: BatchDefaults = { maxMessages: 1024, maxBytes: 1 << 20 };

/** Where a batch's records are written: grown by doubling, reused for the next batch once this one is copied out. */
const FIRST_CAPACITY = 16_384;

interface Pending {
  /** The packed records so far, `[u32 big-endian length][body]` each (docs/protocol.md, "Batches"), in `buf[0, at)`. */
  buf: Buffer;
  at: number;
  count: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One body for {@link Batcher.add}: bytes, copied into the batch, or a string, written into the batch buffer as
 * UTF-8 without an intermediate buffer (the built-in JSON codec's text: see {@link batchBody}).
 * @internal
 */
export type BatchBody = Uint8Array | string;

/**
 * Encodes one value for a batch: with the built-in JSON codec (`json`), its JSON text, which the batcher writes
 * straight into the batch buffer (the same bytes `jsonCodec.encode` gives, without the per-message Buffer); with any
 * other codec, its bytes. `where` names the message in an error; it is called only on a failure, when the value goes
 * through `encodeBody` once more for the same error an unbatched send gives.
 * @internal
 */
export function batchBody(codec: Codec, json: boolean, value: unknown, where: () => string): BatchBody {
  try {
    const body = json ? (JSON.stringify(value) as string | undefined) : codec.encode(value); // undefined: not JSON
    if (body !== undefined) return body;
  } catch {
    // fall through: encodeBody throws the typed error
  }
  return encodeBody(codec, value, where());
}

/**
 * Collects bodies per key (a topic, or one key for a pipeline), packing each straight into its key's batch buffer,
 * and hands each full or timed-out batch to `send`. No promise and no array entry per message: a body is written
 * where the packed frame will be, and only the body that fills a batch gets a promise back (the batch's send).
 * @internal
 */
export class Batcher<TKey> {
  readonly #limits: Limits;
  readonly #send: (key: TKey, packed: Buffer, count: number) => Promise<unknown>;
  readonly #pending = new Map<TKey, Pending>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** A batch buffer whose records have been copied out, kept for the next batch (one: most senders use one key). */
  #spare: Buffer | undefined;

  constructor(limits: Limits, send: (key: TKey, packed: Buffer, count: number) => Promise<unknown>) {
    this.#limits = limits;
    this.#send = send;
  }

  /**
   * Adds a body. Returns the send of the batch when this body filled it (await it for backpressure), or undefined
   * when the body waits for more (at most `maxDelayMs`).
   */
  add(key: TKey, body: BatchBody): Promise<unknown> | undefined {
    let batch = this.#pending.get(key);
    if (batch === undefined) {
      batch = { buf: this.#takeSpare(), at: 0, count: 0, timer: undefined };
      this.#pending.set(key, batch);
    }
    const at = batch.at + RECORD_HEADER_BYTES;
    let length: number;
    if (typeof body === "string") {
      // At most 3 bytes per UTF-16 unit; measure exactly only when that bound does not fit.
      if (at + body.length * 3 > batch.buf.length) reserve(batch, at + Buffer.byteLength(body, "utf8"));
      length = batch.buf.write(body, at, "utf8");
    } else {
      reserve(batch, at + body.length);
      batch.buf.set(body, at);
      length = body.length;
    }
    batch.buf.writeUInt32BE(length, batch.at);
    batch.at = at + length;
    batch.count++;
    const bytes = batch.at - RECORD_HEADER_BYTES * batch.count; // body bytes, as `maxBytes` counts them
    if (batch.count >= this.#limits.maxMessages || bytes >= this.#limits.maxBytes) return this.#flushKey(key);
    if (batch.timer === undefined) {
      batch.timer = setTimeout(() => void this.#flushKey(key), this.#limits.maxDelayMs);
    }
    return undefined;
  }

  /** Sends every waiting batch and resolves once every batch sent so far has been handed on. */
  async flush(): Promise<void> {
    for (const key of [...this.#pending.keys()]) void this.#flushKey(key);
    await Promise.allSettled([...this.#inFlight]);
  }

  #takeSpare(): Buffer {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare ?? Buffer.allocUnsafe(FIRST_CAPACITY);
  }

  #flushKey(key: TKey): Promise<unknown> {
    const batch = this.#pending.get(key);
    if (batch === undefined || batch.count === 0) return Promise.resolve();
    this.#pending.delete(key);
    clearTimeout(batch.timer);
    // One copy of the packed records into a buffer of their exact size (zeromq.js keeps it until libzmq has sent
    // it); the batch buffer is reused.
    const packed = Buffer.allocUnsafe(batch.at);
    batch.buf.copy(packed, 0, 0, batch.at);
    this.#spare = batch.buf;
    const sending = this.#send(key, packed, batch.count);
    this.#inFlight.add(sending);
    void sending.finally(() => this.#inFlight.delete(sending)).catch(() => undefined);
    return sending;
  }
}

/** Grows a batch buffer (doubling) until it holds at least `needed` bytes, keeping its records. */
function reserve(batch: Pending, needed: number): void {
  if (needed <= batch.buf.length) return;
  let capacity = batch.buf.length * 2;
  while (capacity < needed) capacity *= 2;
  const bigger = Buffer.allocUnsafe(capacity);
  batch.buf.copy(bigger, 0, 0, batch.at);
  batch.buf = bigger;
}
