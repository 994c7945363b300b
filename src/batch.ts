/**
 * @packageDocumentation
 * Opt-in batching: many small messages coalesced into one ZeroMQ message, and unpacked again on arrival.
 *
 * Depends on `internal/options.ts`. The packed frame is a run of `[u32 big-endian length][body]` records
 * (docs/protocol.md, "Batches"). Crossing from JavaScript into libzmq costs about the same per message whatever its
 * size, so one send of 100 bodies is far cheaper than 100 sends.
 */
import { checkNonNegative, checkPositiveInt } from "./internal/options.js";

/** Limits of a batch; whichever is reached first sends it. */
export interface BatchOptions {
  /**
   * Most messages in one batch.
   * @defaultValue 256
   */
  readonly maxMessages?: number;
  /**
   * Most body bytes in one batch.
   * @defaultValue 65536
   */
  readonly maxBytes?: number;
  /**
   * Longest a message waits for its batch to fill, in milliseconds. `flush()` sends at once; `close()` flushes.
   * @defaultValue 1
   */
  readonly maxDelayMs?: number;
}

interface Limits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxDelayMs: number;
}

/**
 * Checks batch options (`true` means the defaults); undefined when batching is off.
 * @internal
 */
export function batchLimits(options: BatchOptions | boolean | undefined, owner: string): Limits | undefined {
  if (options === undefined || options === false) return undefined;
  const o: BatchOptions = options === true ? {} : options;
  return {
    maxMessages: checkPositiveInt(o.maxMessages, 256, "batch.maxMessages", owner),
    maxBytes: checkPositiveInt(o.maxBytes, 65_536, "batch.maxBytes", owner),
    maxDelayMs: checkNonNegative(o.maxDelayMs, 1, "batch.maxDelayMs", owner),
  };
}

/**
 * Packs bodies into one frame: `[u32 BE length][body]` for each.
 * @internal
 */
export function pack(bodies: readonly Uint8Array[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes + 4 * bodies.length);
  let at = 0;
  for (const body of bodies) {
    out.writeUInt32BE(body.length, at);
    out.set(body, at + 4);
    at += 4 + body.length;
  }
  return out;
}

/**
 * Splits a packed frame back into bodies (views, not copies); undefined when the lengths do not add up.
 * @internal
 */
export function unpack(frame: Buffer): Buffer[] | undefined {
  const bodies: Buffer[] = [];
  let at = 0;
  while (at < frame.length) {
    if (at + 4 > frame.length) return undefined;
    const length = frame.readUInt32BE(at);
    const end = at + 4 + length;
    if (end > frame.length) return undefined;
    bodies.push(frame.subarray(at + 4, end));
    at = end;
  }
  return bodies;
}

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
