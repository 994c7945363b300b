/**
 * @packageDocumentation
 * The batcher behind the `batch` options (`src/batch.ts`): collects bodies per key, packs them
 * (`protocol/batch.ts`) and hands each full or timed-out batch to a send function.
 * @internal
 */
import { pack } from "../protocol/batch.js";
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

interface Pending {
  bodies: Uint8Array[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Collects bodies per key (a topic, or one key for a pipeline) and hands each full or timed-out batch to `send`.
 * @internal
 */
export class Batcher<TKey> {
  readonly #limits: Limits;
  readonly #send: (key: TKey, packed: Buffer, count: number) => Promise<unknown>;
  readonly #pending = new Map<TKey, Pending>();
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(limits: Limits, send: (key: TKey, packed: Buffer, count: number) => Promise<unknown>) {
    this.#limits = limits;
    this.#send = send;
  }

  /**
   * Adds a body. Returns the send of the batch when this body filled it (await it for backpressure), or undefined
   * when the body waits for more (at most `maxDelayMs`).
   */
  add(key: TKey, body: Uint8Array): Promise<unknown> | undefined {
    let batch = this.#pending.get(key);
    if (batch === undefined) {
      batch = { bodies: [], bytes: 0, timer: undefined };
      this.#pending.set(key, batch);
    }
    batch.bodies.push(body);
    batch.bytes += body.length;
    if (batch.bodies.length >= this.#limits.maxMessages || batch.bytes >= this.#limits.maxBytes) return this.#flushKey(key);
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

  #flushKey(key: TKey): Promise<unknown> {
    const batch = this.#pending.get(key);
    if (batch === undefined || batch.bodies.length === 0) return Promise.resolve();
    this.#pending.delete(key);
    clearTimeout(batch.timer);
    const sending = this.#send(key, pack(batch.bodies, batch.bytes), batch.bodies.length);
    this.#inFlight.add(sending);
    void sending.finally(() => this.#inFlight.delete(sending)).catch(() => undefined);
    return sending;
  }
}
