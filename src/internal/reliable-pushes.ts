/**
 * @packageDocumentation
 * The pushes of a reliable `PipelineSource` (protocol 1.3, docs/protocol.md "Reliable pipeline"): every task has an
 * id and stays pending until the broker answers it (ACCEPTED resolves its `push()`, REJECTED rejects it with a
 * {@link TaskRejectedError}). Pending pushes are sent again, with the same ids (the broker accepts a known id without
 * a second copy), on every new connection to the broker and every `resendMs` while unanswered. At most `maxPending`
 * are pending: a push waits for room. With `batch`, a {@link CountingBatch} gathers many tasks into one PUSH.
 * @internal
 */
import { randomBytes } from "node:crypto";
import { ClosedError, InvalidArgumentError, OutOfRangeError, TaskRejectedError, TimeoutError } from "../errors/index.js";
import { callHook } from "./hooks.js";
import { MAX_ID_BYTES } from "../protocol/queue.js";
import type { WaitOptions } from "../signal.js";
import type { Limits } from "./batcher.js";
import { CountingBatch } from "./counting-batch.js";
import { checkSignal, checkTimeout, watchDeadline, type DeadlinePlace } from "./deadline.js";
import { QueueClient, type QueueClientConfig, type QueueReply } from "./queue-client.js";
import { signalled } from "./timing.js";
import { Waiters } from "./waiters.js";
import { toError } from "./zmq-errors.js";
import { PushFrames, type PushRecord } from "./push-frames.js";
import { LatencyHistogram, type LatencyStats } from "./latency.js";
import type { ConnectionEvent, ResentEvent, SendTimedOutEvent } from "../events.js";

/** Settings of the reliable side of a source. @internal */
export interface ReliablePushConfig {
  readonly queue: string;
  readonly maxPending: number;
  readonly resendMs: number;
  readonly drainTimeoutMs: number;
  readonly lingerMs: number;
  readonly batch: Limits | undefined;
  readonly client: QueueClientConfig;
  /** The source's `onEvent`: the link's connection events, timed-out pushes and resends. */
  readonly onEvent?: ((event: ConnectionEvent | SendTimedOutEvent | ResentEvent) => void) | undefined;
}

/** Options of one reliable push. @internal */
export interface ReliablePushOptions extends WaitOptions {
  readonly id?: string;
}

/** The resolving functions of the promise being made, handed out by {@link capture}. */
let capturedResolve: () => void = () => undefined;
let capturedReject: (error: Error) => void = () => undefined;
/**
 * One executor for every push's promise: it hands the resolving functions out through the two variables above
 * (read at once, synchronously), so a push allocates no executor closure and no resolve/reject wrappers.
 */
function capture(resolve: () => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * A pushed task, from its push until the broker answers it (or it times out, is aborted or the source closes). A
 * class, so that every entry has one shape and carries its own promise: no closure per push.
 */
class PendingPush implements PushRecord {
  readonly id: string;
  readonly idBytes: number;
  readonly body: Uint8Array;
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** When it was last sent; 0 while it has never been. */
  sentAt = 0;
  /** `performance.now()` at `push()`, for the acknowledgement latency. */
  readonly pushedAt = performance.now();
  /** Waiting in the batch: the batch sends it (not a new connection). */
  batched = false;
  /** No longer pending (answered, timed out, aborted, or the source closed): nothing sends it any more. */
  done = false;
  /** Disarms the timeout/signal of a push that has one. */
  disarm: (() => void) | undefined = undefined;

  constructor(id: string, idBytes: number, body: Uint8Array) {
    this.id = id;
    this.idBytes = idBytes;
    this.body = body;
    this.promise = new Promise<void>(capture);
    this.resolve = capturedResolve;
    this.reject = capturedReject;
  }
}

/** Most tasks (and body bytes) in one PUSH of resent tasks. */
const RESEND_MAX_TASKS = 256;
const RESEND_MAX_BYTES = 1 << 20;
const FOREVER_MS = 2_147_483_647;
const DONE = Promise.resolve();

/** The counters of {@link ReliablePushes}. @internal */
export interface ReliablePushCounts {
  readonly pushed: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly resent: number;
  readonly pending: number;
  readonly latency: LatencyStats;
}

/** Pending pushes towards one broker, and the link that carries them. @internal */
export class ReliablePushes {
  readonly #config: ReliablePushConfig;
  readonly #what: string;
  readonly #client: QueueClient;
  readonly #pending = new Map<string, PendingPush>();
  readonly #room = new Waiters();
  /** Pushes waiting in {@link ReliablePushes.#room}: an answer checks the room only when some wait. */
  #waitingForRoom = 0;
  readonly #idPrefix = `${randomBytes(4).toString("hex")}-`;
  readonly #frames: PushFrames;
  readonly #batch: CountingBatch<PendingPush> | undefined;
  #drained = signalled();
  #counter = 0;
  #pushed = 0;
  #accepted = 0;
  #rejected = 0;
  #resent = 0;
  readonly #latency = new LatencyHistogram();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param what - Who pushes, for messages: `PipelineSource("jobs.v1").push()`. */
  constructor(config: ReliablePushConfig, what: string) {
    this.#config = config;
    this.#what = what;
    this.#frames = new PushFrames(config.queue);
    this.#client = new QueueClient(config.client, {
      message: (message) => this.#answer(message),
      up: () => this.#sendAll([...this.#pending.values()].filter((p) => !p.batched)),
      invalid: () => undefined,
      connection: config.onEvent,
    });
    this.#batch =
      config.batch === undefined
        ? undefined
        : new CountingBatch<PendingPush>(config.batch, (entries) => this.#sendBatch(entries));
  }

  /** The link, for the owner to open. */
  get client(): QueueClient {
    return this.#client;
  }

  /** A snapshot of the counters. */
  get counts(): ReliablePushCounts {
    return {
      pushed: this.#pushed,
      accepted: this.#accepted,
      rejected: this.#rejected,
      resent: this.#resent,
      pending: this.#pending.size,
      latency: this.#latency.snapshot(),
    };
  }

  /**
   * Sends one encoded task and resolves once the broker accepted it. `place` describes the wait for messages.
   * The caller has checked that the source is open. Rejects only with an `Error`, never throws.
   *
   * The usual push (no `id`, `timeoutMs` or `signal`, and room among the pending) takes a fast path: no async
   * function, one promise (the entry's own). With the async path for every push the source spent about 8% of its
   * CPU here.
   */
  push(body: Uint8Array, options: ReliablePushOptions | undefined, place: DeadlinePlace): Promise<void> {
    if (options === undefined || (options.id === undefined && options.timeoutMs === undefined && options.signal === undefined)) {
      const id = this.#idPrefix + String(++this.#counter);
      if (this.#pending.has(id)) return Promise.reject(this.#alreadyPending(id));
      if (this.#pending.size < this.#config.maxPending) {
        // An automatic id is ASCII: as many bytes as characters.
        const entry = new PendingPush(id, id.length, body);
        this.#pending.set(id, entry);
        this.#start(entry);
        return entry.promise;
      }
      return this.#pushWaiting(id, body, options, place);
    }
    return this.#pushWaiting(undefined, body, options, place);
  }

  /** A push with a deadline, an own id, or no room yet. `id`: the automatic id already drawn, if any. */
  async #pushWaiting(
    autoId: string | undefined,
    body: Uint8Array,
    options: ReliablePushOptions | undefined,
    place: DeadlinePlace,
  ): Promise<void> {
    const id = autoId ?? (options?.id === undefined ? this.#idPrefix + String(++this.#counter) : this.#checkId(options.id));
    const timeoutMs = checkTimeout(options?.timeoutMs, FOREVER_MS, "timeoutMs", this.#what);
    const signal = options?.signal;
    checkSignal(signal, this.#what);
    if (this.#pending.has(id)) throw this.#alreadyPending(id);
    const started = Date.now();
    // A loop: one answer wakes every waiting push, and the first of them takes the room again.
    while (this.#pending.size >= this.#config.maxPending) {
      const left = timeoutMs === FOREVER_MS ? FOREVER_MS : Math.max(1, timeoutMs - (Date.now() - started));
      this.#waitingForRoom++;
      try {
        await this.#room.until(
          () => this.#pending.size < this.#config.maxPending,
          signal === undefined ? { timeoutMs: left } : { timeoutMs: left, signal },
          {
            ...place,
            waitingFor: `room among the ${this.#config.maxPending} pending pushes (\`maxPending\`)`,
            hint: "Nothing was sent. Check that the broker is running and accepting tasks, or raise { maxPending } or { timeoutMs }.",
          },
          FOREVER_MS,
          () => ` (${this.#pending.size} pending)`,
        );
      } finally {
        this.#waitingForRoom--;
      }
      if (this.#closed) throw this.#closedWaiting();
      if (this.#pending.has(id)) {
        throw new InvalidArgumentError(`${this.#what}: task "${id}" was pushed again while this push waited for room.`);
      }
    }
    const remaining = Math.max(1, timeoutMs - (Date.now() - started));
    const entry = new PendingPush(id, autoId === undefined ? Buffer.byteLength(id, "utf8") : id.length, body);
    this.#pending.set(id, entry);
    if (timeoutMs !== FOREVER_MS || signal !== undefined) {
      entry.disarm = watchDeadline(timeoutMs === FOREVER_MS ? FOREVER_MS : remaining, signal, place, (error) => {
        if (error instanceof TimeoutError) {
          callHook(this.#config.onEvent, { type: "timed-out", what: "push", target: "task", afterMs: timeoutMs });
        }
        this.#forget(entry);
        entry.reject(error);
      });
      if (entry.done) return entry.promise; // the signal had already fired
    }
    this.#start(entry);
    return entry.promise;
  }

  /** Sends a new pending entry, or puts it in the batch. */
  #start(entry: PendingPush): void {
    try {
      this.#armResend();
      if (this.#batch === undefined) {
        this.#sendAll([entry]);
      } else {
        entry.batched = true;
        this.#batch.add(entry, entry.body.length);
      }
    } catch (err) {
      this.#forget(entry);
      entry.reject(toError(err));
    }
  }

  /** Sends the waiting batch now. */
  flush(): Promise<void> {
    try {
      this.#batch?.flush();
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return DONE;
  }

  /**
   * Flushes, waits up to `drainTimeoutMs` for every pending push to be answered, then rejects the rest with a
   * {@link ClosedError} and closes the link. Pushes waiting for room are rejected at once.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#room.rejectAll(this.#closedWaiting());
    await this.flush();
    if (this.#pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#drained.promise,
        new Promise((resolve) => (timer = setTimeout(resolve, this.#config.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const left = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of left) {
      entry.done = true;
      entry.disarm?.();
      entry.reject(
        new ClosedError(
          `${this.#what} rejected: the source was closed before the broker answered task "${entry.id}" (waited \`drainTimeoutMs\` = ${this.#config.drainTimeoutMs} ms). ` +
            `The broker may or may not have stored it: push it again with the same id (harmless if it was stored).`,
        ),
      );
    }
    await this.#client.close(this.#config.lingerMs);
  }

  #alreadyPending(id: string): InvalidArgumentError {
    return new InvalidArgumentError(
      `${this.#what}: task "${id}" is already pending (pushed and not yet answered by the broker). Await that push, or use another id.`,
    );
  }

  #closedWaiting(): ClosedError {
    return new ClosedError(`${this.#what} rejected: the source was closed while the push waited for room; nothing was sent.`);
  }

  #checkId(id: unknown): string {
    if (typeof id !== "string") throw new InvalidArgumentError(`${this.#what}: \`id\` must be a string, got ${typeof id}.`);
    const bytes = Buffer.byteLength(id, "utf8");
    if (bytes < 1 || bytes > MAX_ID_BYTES) {
      throw new OutOfRangeError(`${this.#what}: \`id\` must be 1 to ${MAX_ID_BYTES} bytes of UTF-8, got ${bytes}.`);
    }
    if (Buffer.from(id, "utf8").toString("utf8") !== id) {
      throw new OutOfRangeError(`${this.#what}: \`id\` must be valid UTF-8 text (it holds a lone surrogate).`);
    }
    return id;
  }

  /** A batch is due: sends those of its entries still pending (the others timed out or were aborted meanwhile). */
  #sendBatch(entries: PendingPush[]): void {
    let kept = 0;
    for (const entry of entries) {
      if (entry.done) continue;
      entry.batched = false;
      entries[kept++] = entry;
    }
    entries.length = kept;
    this.#sendAll(entries);
  }

  /** Sends `entries` in as few PUSH messages as the limits allow; nothing while no connection is up. */
  #sendAll(entries: readonly PendingPush[]): void {
    const maxTasks = this.#config.batch?.maxMessages ?? RESEND_MAX_TASKS;
    const maxBytes = this.#config.batch?.maxBytes ?? RESEND_MAX_BYTES;
    let from = 0;
    while (from < entries.length) {
      let to = from;
      let bytes = 0;
      while (to < entries.length && to - from < maxTasks && (to === from || bytes + entries[to]!.body.length <= maxBytes)) {
        bytes += entries[to]!.body.length;
        to++;
      }
      if (!this.#client.send(this.#frames.encode(entries, from, to))) return; // sent on the next connection
      const now = Date.now();
      let resent = 0;
      for (let i = from; i < to; i++) {
        const entry = entries[i]!;
        if (entry.sentAt === 0) this.#pushed++;
        else resent++;
        entry.sentAt = now;
      }
      if (resent > 0) {
        this.#resent += resent;
        callHook(this.#config.onEvent, { type: "retried", what: "push", count: resent });
      }
      from = to;
    }
  }

  #answer(message: QueueReply): void {
    if (message.kind === "results") return; // only sinks get results
    const now = performance.now();
    for (const id of message.ids) {
      const entry = this.#pending.get(id);
      if (entry === undefined) continue; // answered already, or given up on
      this.#remove(entry);
      this.#latency.record(now - entry.pushedAt);
      if (message.kind === "accepted") {
        this.#accepted++;
        entry.resolve();
      } else {
        this.#rejected++;
        entry.reject(new TaskRejectedError(this.#what, id, message.code, message.message));
      }
    }
    this.#madeRoom();
  }

  /** Removes a pending push (timed out or aborted), and makes room. */
  #forget(entry: PendingPush): void {
    if (entry.done) return;
    this.#remove(entry);
    this.#madeRoom();
  }

  #remove(entry: PendingPush): void {
    entry.done = true;
    entry.disarm?.();
    this.#pending.delete(entry.id);
  }

  /** After pending pushes were removed: wakes the pushes waiting for room, and the drain once none is left. */
  #madeRoom(): void {
    if (this.#waitingForRoom > 0) this.#room.check();
    if (this.#pending.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#drained.resolve();
      this.#drained = signalled();
    }
  }

  /** While pushes are pending, every `resendMs` resends those sent at least that long ago. */
  #armResend(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const before = Date.now() - this.#config.resendMs;
      const stale: PendingPush[] = [];
      for (const entry of this.#pending.values()) if (entry.sentAt !== 0 && entry.sentAt <= before) stale.push(entry);
      this.#sendAll(stale);
      if (this.#pending.size > 0) this.#armResend();
    }, this.#config.resendMs);
  }
}
