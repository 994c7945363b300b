/**
 * @packageDocumentation
 * The pushes of a reliable `PipelineSource` (protocol 1.3, docs/protocol.md "Reliable pipeline"): every task has an
 * id and stays pending until the broker answers it (ACCEPTED resolves its `push()`, REJECTED rejects it with a
 * {@link TaskRejectedError}). Pending pushes are sent again, with the same ids (the broker accepts a known id without
 * a second copy), on every new connection to the broker and every `resendMs` while unanswered. At most `maxPending`
 * are pending: a push waits for room. With `batch`, the {@link Batcher} packs many tasks into one PUSH.
 * @internal
 */
import { randomBytes } from "node:crypto";
import { ClosedError, InvalidArgumentError, OutOfRangeError, TaskRejectedError } from "../errors/index.js";
import { encodePush, MAX_ID_BYTES } from "../protocol/queue.js";
import type { WaitOptions } from "../signal.js";
import { Batcher, type Limits } from "./batcher.js";
import { checkSignal, checkTimeout, watchDeadline, type DeadlinePlace } from "./deadline.js";
import { QueueClient, type QueueClientConfig, type QueueReply } from "./queue-client.js";
import { signalled } from "./timing.js";
import { Waiters } from "./waiters.js";

/** Settings of the reliable side of a source. @internal */
export interface ReliablePushConfig {
  readonly queue: string;
  readonly maxPending: number;
  readonly resendMs: number;
  readonly drainTimeoutMs: number;
  readonly lingerMs: number;
  readonly batch: Limits | undefined;
  readonly client: QueueClientConfig;
}

/** Options of one reliable push. @internal */
export interface ReliablePushOptions extends WaitOptions {
  readonly id?: string;
}

interface PendingPush {
  readonly id: string;
  readonly body: Uint8Array;
  /** When it was last sent; 0 while it has never been. */
  sentAt: number;
  /** Waiting in the batcher: the batch sends it (not a new connection). */
  batched: boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  disarm: () => void;
}

/** Most tasks (and body bytes) in one PUSH of resent tasks. */
const RESEND_MAX_TASKS = 256;
const RESEND_MAX_BYTES = 1 << 20;
const FOREVER_MS = 2_147_483_647;

/** The counters of {@link ReliablePushes}. @internal */
export interface ReliablePushCounts {
  readonly pushed: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly resent: number;
  readonly pending: number;
}

/** Pending pushes towards one broker, and the link that carries them. @internal */
export class ReliablePushes {
  readonly #config: ReliablePushConfig;
  readonly #what: string;
  readonly #client: QueueClient;
  readonly #pending = new Map<string, PendingPush>();
  readonly #room = new Waiters();
  readonly #sourceId = randomBytes(4).toString("hex");
  readonly #batcher: Batcher<""> | undefined;
  /** The tasks in the batcher, in order: a batch of `count` tasks is the first `count` of them. */
  #batched: PendingPush[] = [];
  #drained = signalled();
  #counter = 0;
  #pushed = 0;
  #accepted = 0;
  #rejected = 0;
  #resent = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param what - Who pushes, for messages: `PipelineSource("jobs.v1").push()`. */
  constructor(config: ReliablePushConfig, what: string) {
    this.#config = config;
    this.#what = what;
    this.#client = new QueueClient(config.client, {
      message: (message) => this.#answer(message),
      up: () => this.#sendAll([...this.#pending.values()].filter((p) => !p.batched)),
      invalid: () => undefined,
    });
    this.#batcher =
      config.batch === undefined
        ? undefined
        : new Batcher<"">(config.batch, (_key, _packed, count) => {
            const entries = this.#batched.splice(0, count).filter((p) => this.#pending.get(p.id) === p);
            for (const entry of entries) entry.batched = false;
            this.#sendAll(entries);
            return Promise.resolve();
          });
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
    };
  }

  /**
   * Sends one encoded task and resolves once the broker accepted it. `place` describes the wait for messages.
   * The caller has checked that the source is open.
   */
  async push(body: Uint8Array, options: ReliablePushOptions | undefined, place: DeadlinePlace): Promise<void> {
    const id = options?.id === undefined ? `${this.#sourceId}-${++this.#counter}` : this.#checkId(options.id);
    const timeoutMs = checkTimeout(options?.timeoutMs, FOREVER_MS, "timeoutMs", this.#what);
    const signal = options?.signal;
    checkSignal(signal, this.#what);
    if (this.#pending.has(id)) {
      throw new InvalidArgumentError(
        `${this.#what}: task "${id}" is already pending (pushed and not yet answered by the broker). Await that push, or use another id.`,
      );
    }
    const started = Date.now();
    // A loop: one answer wakes every waiting push, and the first of them takes the room again.
    while (this.#pending.size >= this.#config.maxPending) {
      const left = timeoutMs === FOREVER_MS ? FOREVER_MS : Math.max(1, timeoutMs - (Date.now() - started));
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
      if (this.#closed) throw this.#closedWaiting();
      if (this.#pending.has(id)) {
        throw new InvalidArgumentError(`${this.#what}: task "${id}" was pushed again while this push waited for room.`);
      }
    }
    const remaining = Math.max(1, timeoutMs - (Date.now() - started));
    await new Promise<void>((resolve, reject) => {
      const entry: PendingPush = { id, body, sentAt: 0, batched: false, resolve, reject, disarm: () => undefined };
      this.#pending.set(id, entry);
      if (timeoutMs !== FOREVER_MS || signal !== undefined) {
        entry.disarm = watchDeadline(timeoutMs === FOREVER_MS ? FOREVER_MS : remaining, signal, place, (error) => {
          this.#forget(entry);
          reject(error);
        });
        if (!this.#pending.has(id)) return; // the signal had already fired
      }
      this.#armResend();
      if (this.#batcher === undefined) {
        this.#sendAll([entry]);
      } else {
        entry.batched = true;
        this.#batched.push(entry);
        void this.#batcher.add("", body);
      }
    });
  }

  /** Sends the waiting batch now. */
  async flush(): Promise<void> {
    await this.#batcher?.flush();
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
      entry.disarm();
      entry.reject(
        new ClosedError(
          `${this.#what} rejected: the source was closed before the broker answered task "${entry.id}" (waited \`drainTimeoutMs\` = ${this.#config.drainTimeoutMs} ms). ` +
            `The broker may or may not have stored it: push it again with the same id (harmless if it was stored).`,
        ),
      );
    }
    await this.#client.close(this.#config.lingerMs);
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
      const chunk = entries.slice(from, to);
      const frames = encodePush(
        this.#config.queue,
        chunk.map((e) => e.id),
        chunk.map((e) => e.body),
      );
      if (!this.#client.send(frames)) return; // sent on the next connection
      const now = Date.now();
      for (const entry of chunk) {
        if (entry.sentAt === 0) this.#pushed++;
        else this.#resent++;
        entry.sentAt = now;
      }
      from = to;
    }
  }

  #answer(message: QueueReply): void {
    if (message.kind === "results") return; // only sinks get results
    for (const id of message.ids) {
      const entry = this.#pending.get(id);
      if (entry === undefined) continue; // answered already, or given up on
      this.#forget(entry);
      if (message.kind === "accepted") {
        this.#accepted++;
        entry.resolve();
      } else {
        this.#rejected++;
        entry.reject(new TaskRejectedError(this.#what, id, message.code, message.message));
      }
    }
  }

  /** Removes a pending push (answered, timed out or aborted), and makes room. */
  #forget(entry: PendingPush): void {
    if (this.#pending.get(entry.id) !== entry) return;
    entry.disarm();
    this.#pending.delete(entry.id);
    this.#room.check();
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
