/**
 * @packageDocumentation
 * `PipelineBroker`: the broker of the reliable (acknowledged) pipeline, protocol 1.3 (docs/protocol.md, "Reliable
 * pipeline"). Sources and sinks speak `TZPC01` to its frontend ROUTER; workers speak Majordomo 0.1 to its backend
 * ROUTER. It holds every task until a worker returned its outcome and every outcome until a sink has taken it, in
 * memory or, with `store`, in an SQLite file. Every decision is made by the pure core in `internal/queue-broker.ts`;
 * this file owns the sockets, the read loops, the one timer, the store and its once-per-turn commits, and shutdown.
 */
import { randomBytes } from "node:crypto";
import * as zmq from "zeromq";
import type { CurveAllow, CurveOptions } from "./curve.js";
import { ClosedError } from "./errors/index.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import { callHook } from "./internal/hooks.js";
import { BACKEND, FRONTEND, watchConnections } from "./internal/socket-events.js";
import type { BrokerConnectionEvent } from "./events.js";
import { readBackendLimits, readLimits, tooManyFrames, type LimitOptions, type Limits } from "./internal/limits.js";
import { resolveOptions as resolve } from "./internal/options.js";
import { QueueBroker, type QueueBrokerAction } from "./internal/queue-broker.js";
import { memoryQueueStore, openQueueStore, type QueueStore } from "./internal/queue-store.js";
import { readLoop } from "./internal/read-loop.js";
import { SendQueue } from "./internal/send-queue.js";
import { settleWithin } from "./internal/timing.js";
import { TwoSided } from "./internal/two-sided.js";
import { Waiters } from "./internal/waiters.js";
import type { BrokerEndpoints } from "./rpc-broker.js";
import type { WaitOptions } from "./signal.js";

/**
 * Something a {@link PipelineBroker} did, as reported to `onEvent`. Workers are named by their routing id when it
 * is printable text (typed-zmq workers set one), else `queue#n`.
 */
export type PipelineBrokerEvent =
  /**
   * A peer connected to a face, or its connection was lost, or its handshake failed without CURVE (a CURVE failure
   * is the `handshake-failed` below): `face` says which socket (`frontend`: sources and sinks; `backend`: workers).
   */
  | BrokerConnectionEvent
  /** A worker registered (READY) for `queue`: it takes up to `capacity` tasks at once, several per REQUEST if `batch`. */
  | {
      readonly type: "worker:ready";
      readonly queue: string;
      readonly worker: string;
      readonly capacity: number;
      readonly batch: boolean;
    }
  /** A worker missed its heartbeats for `silentMs` and was evicted; `returned` of its tasks went back to the queue. */
  | {
      readonly type: "worker:evicted";
      readonly queue: string;
      readonly worker: string;
      readonly silentMs: number;
      readonly returned: number;
    }
  /** A worker went away (DISCONNECT, unreachable, or a protocol error, in `reason`); its tasks went back. */
  | {
      readonly type: "worker:gone";
      readonly queue: string;
      readonly worker: string;
      readonly reason: string;
      readonly returned: number;
    }
  /** A task goes to the head of its queue again after delivery number `deliveries` ended without an outcome. */
  | {
      readonly type: "task:redelivered";
      readonly queue: string;
      readonly taskId: string;
      readonly deliveries: number;
      readonly reason: string;
    }
  /** An outcome for a task that already had one (or that the broker no longer knows): dropped. */
  | { readonly type: "task:late"; readonly queue: string; readonly taskId: string; readonly worker: string }
  /** A task ended as a `POISON_TASK` failure after `deliveries` deliveries without an outcome. */
  | { readonly type: "task:poisoned"; readonly queue: string; readonly taskId: string; readonly deliveries: number }
  /** `count` tasks of one PUSH were REJECTED with `code` (`QUEUE_FULL`). */
  | {
      readonly type: "task:rejected";
      readonly queue: string;
      readonly code: string;
      readonly count: number;
      readonly reason: string;
    }
  /** A sink registered (FETCH) for `queue` with `window`; `results` outcomes wait in that queue. */
  | { readonly type: "sink:ready"; readonly queue: string; readonly window: number; readonly results: number }
  /** A sink was lost (silent, DISCONNECT, unreachable); `returned` outcomes it had not taken went back. */
  | { readonly type: "sink:lost"; readonly queue: string; readonly reason: string; readonly returned: number }
  /**
   * A store commit failed with `code` (`STORE_FULL` or `STORE_FAILED`): the `rejected` new tasks of that turn were
   * REJECTED (not stored); the other writes are retried at the next commit.
   */
  | { readonly type: "store:error"; readonly code: string; readonly message: string; readonly rejected: number }
  /** A message was dropped: malformed, over a limit, or a reply to no dispatch. */
  | { readonly type: "message:dropped"; readonly reason: string }
  /** A CURVE handshake failed on one face. Nothing from that peer reached the broker. */
  | {
      readonly type: "handshake-failed";
      readonly face: "frontend" | "backend";
      readonly endpoint: string;
      readonly reason: string;
    };

/** Counters of one queue of a {@link PipelineBroker}. */
export interface PipelineQueueStats {
  /** Tasks waiting for a worker. */
  readonly queued: number;
  /** Tasks at workers. */
  readonly inFlight: number;
  /** Outcomes held until a sink takes them (sent or not). */
  readonly results: number;
  /** Workers registered for the queue. */
  readonly workers: number;
  /** Sinks registered for the queue. */
  readonly sinks: number;
}

/** Counters of a {@link PipelineBroker}: totals since it started, and the current state per queue. */
export interface PipelineBrokerStats extends PipelineQueueStats {
  /** New tasks stored (with a store: committed) and acknowledged with ACCEPTED. */
  readonly accepted: number;
  /** PUSHes of an id the broker already held or had completed recently: acknowledged, not stored twice. */
  readonly duplicates: number;
  /** Tasks REJECTED (`QUEUE_FULL`, `STORE_FULL`, `STORE_FAILED`, `UNAVAILABLE` while closing). */
  readonly rejected: number;
  /** Task deliveries (a redelivered task counts again). */
  readonly dispatched: number;
  /** Tasks sent again: their worker was lost, their lease passed, or their failure asked for another delivery. */
  readonly redelivered: number;
  /** Tasks that got their outcome (poisoned ones included). */
  readonly completed: number;
  /** Outcomes dropped because their task already had one. */
  readonly late: number;
  /** Tasks ended as `POISON_TASK` after `maxDeliveries`. */
  readonly poisoned: number;
  /** Outcomes taken by sinks (and forgotten). */
  readonly taken: number;
  /** Store commits that failed. */
  readonly storeErrors: number;
  /**
   * Outcomes offered to sinks without being stored because the store was full: their tasks stay on disk until a
   * sink takes them, so a crash before that runs them again (at least once, as always).
   */
  readonly unstored: number;
  /** Workers evicted for missing their heartbeats. */
  readonly evicted: number;
  /** Messages dropped (malformed, over a limit). */
  readonly dropped: number;
  /** The same counters per queue. */
  readonly queues: Readonly<Record<string, PipelineQueueStats>>;
}

/** Options of {@link PipelineBroker.bind} (and of `Broker.pipeline` in reliable mode). */
export interface PipelineBrokerOptions extends LimitOptions {
  /** `"reliable"`: what `Broker.pipeline` reads to return a `PipelineBroker`; implied by `store`. */
  readonly mode?: "reliable";
  /**
   * Path of the SQLite file that keeps tasks and outcomes (durable mode; needs `better-sqlite3` 12). Every accepted
   * task is committed before its ACCEPTED; every outcome stays on disk until a sink took it. One broker owns a file
   * at a time. Without it the broker keeps everything in memory (lost when it stops).
   * @defaultValue none: memory
   */
  readonly store?: string;
  /**
   * SQLite's `synchronous`: `"full"`, a committed transaction survives a power cut (an fsync per commit);
   * `"normal"`, it survives a process crash (SIGKILL included) but a power cut may lose the last commits.
   * @defaultValue "full"
   */
  readonly synchronous?: "full" | "normal";
  /** Largest size of the store file in bytes; past it new tasks are REJECTED `STORE_FULL`. @defaultValue no limit */
  readonly maxStoreBytes?: number;
  /** How long a worker may hold a dispatch before its tasks are sent again, in ms. @defaultValue 30000 */
  readonly leaseMs?: number;
  /** Deliveries after which a task that again ended without an outcome becomes a `POISON_TASK` failure. @defaultValue 5 */
  readonly maxDeliveries?: number;
  /** Heartbeat interval to workers and sinks, and expected from them, in ms. @defaultValue 1000 */
  readonly heartbeatMs?: number;
  /** Heartbeats a worker or sink may miss: silent for `heartbeatMs × liveness`, it is lost. @defaultValue 3 */
  readonly liveness?: number;
  /** Tasks plus outcomes held at once; PUSH beyond is REJECTED `QUEUE_FULL`. @defaultValue 100000 */
  readonly maxTasks?: number;
  /**
   * Most tasks in one REQUEST to a batch worker and outcomes in one RESULTS. A batch is also bounded by the worker's
   * credit (its `concurrency`) and the sink's window, so this only caps what a worker or sink with room for more
   * gets at once. The default is large because each message costs every process on its way a wake-up: with small
   * tasks, 1,024 per message took the reliable pipeline from about 0.4 to about 0.5 of plain batched push-pull on
   * 2 cores (npm run bench), where 256 left it spending a quarter more CPU per task.
   * @defaultValue 1024
   */
  readonly maxBatch?: number;
  /** `ZMQ_SNDHWM` and `ZMQ_RCVHWM` of both sockets. @defaultValue 1000 */
  readonly highWaterMark?: number;
  /** Called for every event worth a log line. Errors it throws are ignored. */
  readonly onEvent?: (event: PipelineBrokerEvent) => void;
  /**
   * The backend's hard frame limit (`ZMQ_MAXMSGSIZE`), at least the frontend's `hardMaxMessageBytes`.
   * @defaultValue the frontend's `hardMaxMessageBytes`
   */
  readonly backendHardMaxMessageBytes?: number;
  /**
   * CURVE on both faces, which are CURVE servers: the broker's keys. Who may connect is said per face, in
   * `frontendAllow` (sources and sinks) and `backendAllow` (workers), both required with `curve`.
   * @defaultValue none: plaintext on both faces
   */
  readonly curve?: Omit<CurveOptions, "allow" | "zapDomain" | "serverKey">;
  /** With `curve`: the sources and sinks allowed on the frontend. */
  readonly frontendAllow?: CurveAllow;
  /** With `curve`: the workers allowed on the backend. */
  readonly backendAllow?: CurveAllow;
}

/** Options of {@link PipelineBroker.waitForWorkers} and {@link PipelineBroker.waitForSinks}. */
export interface WaitForQueuePeersOptions extends WaitOptions {
  /** Count only the workers (or sinks) of this queue. */
  readonly queue?: string;
}

const OWNER = "PipelineBroker.bind";
/** Staged writes past which the broker commits at once instead of at the end of the turn. */
const COMMIT_AT = 2_000;

function resolveOptions(options: PipelineBrokerOptions) {
  return resolve(OWNER, options, (read) => {
    const heartbeatMs = read.positiveInt("heartbeatMs", 1_000);
    const leaseMs = read.positiveInt("leaseMs", 30_000);
    const frontendLimits = readLimits(read, { derive: false });
    const mode = read.raw("mode");
    if (mode !== undefined && mode !== "reliable") throw read.fail("mode", '"reliable" (or absent)', mode);
    return {
      frontendLimits,
      backendLimits: readBackendLimits(read, frontendLimits),
      store: read.optionalString("store"),
      synchronous: read.oneOf("synchronous", ["full", "normal"] as const, "full"),
      maxStoreBytes: read.optionalPositiveInt("maxStoreBytes"),
      leaseMs,
      maxDeliveries: read.positiveInt("maxDeliveries", 5),
      heartbeatMs,
      liveness: read.positiveInt("liveness", 3),
      maxTasks: read.positiveInt("maxTasks", 100_000),
      maxBatch: read.positiveInt("maxBatch", 1024),
      highWaterMark: read.positiveInt("highWaterMark", 1000),
      onEvent: read.hook<(event: PipelineBrokerEvent) => void>("onEvent"),
      frontendCurve: readCurveOptions(read, "curve", { allowKey: "frontendAllow" }),
      backendCurve: readCurveOptions(read, "curve", { allowKey: "backendAllow" }),
      // A quarter of the shorter of heartbeat and lease, within 5 to 50 ms.
      tickMs: Math.max(5, Math.min(50, Math.floor(Math.min(heartbeatMs, leaseMs) / 4))),
    };
  });
}

type PipelineBrokerConfig = ReturnType<typeof resolveOptions>;

function errorText(err: unknown): { code: string; message: string } {
  const code: unknown = typeof err === "object" && err !== null ? Reflect.get(err, "code") : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return { code: code === "STORE_FULL" ? "STORE_FULL" : "STORE_FAILED", message };
}

/**
 * The broker of the reliable pipeline. Make one with {@link PipelineBroker.bind} (or `Broker.pipeline` with
 * `store` or `mode: "reliable"`).
 *
 * Sources PUSH tasks (each with an id) to the frontend; the broker answers ACCEPTED once it holds them (with a
 * store, once they are committed). Workers register on the backend for a queue (MDP 0.1, the queue is the service)
 * and get tasks on credit: never more at once than their READY capacity; a worker that announced `"batch"` gets
 * several per REQUEST. A worker's REPLY with the outcome is the acknowledgement; the first outcome of a task wins and
 * later ones are counted as late. A task goes back to the head of its queue when its worker is lost (heartbeats,
 * DISCONNECT), its lease passes, or its failure asks for another delivery; after `maxDeliveries` it ends as a
 * `POISON_TASK` failure. Outcomes wait for sinks (FETCH with a window) and are forgotten when a sink says TAKEN; a
 * lost sink's outcomes go back for the next one, so outcomes are delivered at least once across sink restarts.
 *
 * With `store`: `load()` at start queues again every task without an outcome (deliveries kept) and offers again
 * every outcome not taken. The writes of one turn (every message read before the event loop moves on, or 2,000
 * writes) are committed in one transaction; only then are the turn's ACCEPTED sent and its outcomes offered to
 * sinks. A failed commit REJECTs the turn's new tasks with `STORE_FULL` or `STORE_FAILED` (nothing is dropped
 * silently), keeps the other writes for the next commit, and reports `store:error`.
 *
 * `close()` stops reading, commits what is staged, sends DISCONNECT to every worker and sink, closes both sockets,
 * then the store. Tasks still held stay in the store (none survive in memory mode).
 *
 * @example
 * ```ts
 * await using broker = await PipelineBroker.bind(
 *   { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
 *   { store: "queue.db" },
 * );
 * ```
 */
export class PipelineBroker extends TwoSided {
  /** Which kind of broker or device this is: always `"pipeline"`. */
  readonly kind = "pipeline" as const;
  /** The pipeline mode it serves: always `"reliable"`. */
  readonly mode = "reliable" as const;
  readonly #config: PipelineBrokerConfig;
  readonly #store: QueueStore;
  readonly #core: QueueBroker;
  readonly #front: zmq.Router;
  readonly #back: zmq.Router;
  readonly #frontQueue: SendQueue;
  readonly #backQueue: SendQueue;
  readonly #waiters = new Waiters();
  readonly #curve: readonly (CurveGuard | undefined)[];
  #loops: Promise<void>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #turnScheduled = false;
  #stopping = false;
  /** The store is closed: a turn scheduled before close does nothing. */
  #finished = false;

  private constructor(config: PipelineBrokerConfig, store: QueueStore) {
    super();
    this.#config = config;
    this.#store = store;
    const loaded = store.load();
    this.#core = new QueueBroker(
      {
        leaseMs: config.leaseMs,
        maxDeliveries: config.maxDeliveries,
        heartbeatMs: config.heartbeatMs,
        liveness: config.liveness,
        maxTasks: config.maxTasks,
        maxBatch: config.maxBatch,
        durable: store.path !== undefined,
      },
      randomBytes(4).readUInt32BE(0),
      loaded,
    );
    const hwm = config.highWaterMark;
    const common = { linger: 0, sendHighWaterMark: hwm, receiveHighWaterMark: hwm, mandatory: true, sendTimeout: 0 };
    this.#front = new zmq.Router({ ...common, ...config.frontendLimits.socket, ...curveSocketOptions(config.frontendCurve) });
    this.#back = new zmq.Router({ ...common, ...config.backendLimits.socket, ...curveSocketOptions(config.backendCurve) });
    const failed = (face: "frontend" | "backend") => (failure: { endpoint: string; reason: string }) =>
      callHook(config.onEvent, { type: "handshake-failed", face, ...failure });
    this.#curve = [
      CurveGuard.open(config.frontendCurve, failed("frontend")),
      CurveGuard.open(config.backendCurve, failed("backend")),
    ];
    this.#curve[0]?.watch(this.#front);
    this.#curve[1]?.watch(this.#back);
    watchConnections(this.#front, config.onEvent, { extra: FRONTEND, guardReports: this.#curve[0] !== undefined });
    watchConnections(this.#back, config.onEvent, { extra: BACKEND, guardReports: this.#curve[1] !== undefined });
    this.#frontQueue = new SendQueue(this.#front);
    this.#backQueue = new SendQueue(this.#back);
  }

  /**
   * Binds a reliable pipeline broker. Sources and sinks connect to `frontend`; workers (`PipelineWorker` in reliable
   * mode, or any MDP 0.1 worker) to `backend`. Options are checked and the store is opened and loaded before any
   * socket exists.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; the store's errors (locked by another broker,
   *   corrupt, unavailable); `TypeError`/`RangeError` for bad options.
   */
  static override async bind(endpoints: BrokerEndpoints, options: PipelineBrokerOptions = {}): Promise<PipelineBroker> {
    const config = resolveOptions(options);
    const store =
      config.store === undefined
        ? memoryQueueStore()
        : openQueueStore(config.store, {
            synchronous: config.synchronous,
            ...(config.maxStoreBytes === undefined ? {} : { maxBytes: config.maxStoreBytes }),
          });
    let broker: PipelineBroker;
    try {
      broker = new PipelineBroker(config, store);
    } catch (err) {
      store.close();
      throw err;
    }
    try {
      await broker.bindBoth(broker.#front, broker.#back, endpoints, OWNER);
    } catch (err) {
      for (const guard of broker.#curve) guard?.release();
      store.close();
      throw err;
    }
    const core = broker.#core;
    broker.#loops = [
      readLoop(
        broker.#front,
        broker.#checked(config.frontendLimits, "frontend", (f, now) => core.fromClient(f, now)),
      ),
      readLoop(
        broker.#back,
        broker.#checked(config.backendLimits, "backend", (f, now) => core.fromWorker(f, now)),
      ),
    ];
    broker.#timer = setInterval(() => {
      broker.#perform(core.tick(Date.now()));
      broker.#schedule();
    }, config.tickMs);
    broker.#timer.unref();
    broker.#schedule(); // loaded tasks and outcomes wait for workers and sinks
    return broker;
  }

  /** A receive path with the frame-count check first: a message over `maxFrames` is dropped (`message:dropped`). */
  #checked(limits: Limits, face: string, handle: (frames: Buffer[], now: number) => readonly QueueBrokerAction[]) {
    return (frames: Buffer[]): void => {
      if (this.#stopping) return; // closing: a PUSH read now gets no answer, and its source sends it again
      const over = tooManyFrames(limits, frames, `PipelineBroker ${face}`);
      this.#perform(over === undefined ? handle(frames, Date.now()) : this.#core.dropMessage(over));
      if (this.#core.staged >= COMMIT_AT) this.#endTurn();
      else this.#schedule();
    };
  }

  /** The store file, or undefined for a broker that keeps everything in memory. */
  get storePath(): string | undefined {
    return this.#store.path;
  }

  /** A snapshot of the counters, totals and per queue. */
  get stats(): PipelineBrokerStats {
    return this.#core.stats;
  }

  /**
   * Waits until at least `count` workers (of `options.queue`, or of any queue) are registered.
   * @throws {@link TimeoutError} after `timeoutMs` (default 10 000 ms); {@link AbortedError}; {@link ClosedError}.
   */
  waitForWorkers(count: number, options: WaitForQueuePeersOptions = {}): Promise<void> {
    return this.#waitFor("workers", count, options, () => this.#core.workers(options.queue));
  }

  /**
   * Waits until at least `count` sinks (of `options.queue`, or of any queue) are registered (FETCH).
   * @throws {@link TimeoutError} after `timeoutMs` (default 10 000 ms); {@link AbortedError}; {@link ClosedError}.
   */
  waitForSinks(count: number, options: WaitForQueuePeersOptions = {}): Promise<void> {
    return this.#waitFor("sinks", count, options, () => this.#core.sinks(options.queue));
  }

  #waitFor(what: "workers" | "sinks", count: number, options: WaitForQueuePeersOptions, have: () => number): Promise<void> {
    const { queue } = options;
    const name = `PipelineBroker.waitFor${what === "workers" ? "Workers" : "Sinks"}(${count}${queue === undefined ? "" : `, { queue: "${queue}" }`})`;
    if (this.closed) return Promise.reject(new ClosedError(`${name} rejected: the broker is closed.`));
    const face = what === "workers" ? this.backends : this.frontends;
    const place = {
      what: name,
      endpoint: what === "workers" ? this.backend : this.frontend,
      waitingFor: `${what}${queue === undefined ? "" : ` of "${queue}"`} to connect to ${face.join(", ")}`,
      hint:
        what === "workers"
          ? 'Check that the workers use PipelineWorker.connect() with { mode: "reliable" } and this backend endpoint, or raise { timeoutMs }.'
          : 'Check that the sinks use PipelineSink.connect() with { mode: "reliable" } and this frontend endpoint, or raise { timeoutMs }.',
    };
    return this.#waiters.until(
      () => have() >= count,
      options,
      place,
      10_000,
      () => ` (${have()} ready)`,
    );
  }

  #schedule(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(this.#endTurn);
  }

  /** The end of a turn: one commit of the staged writes, then what became sendable (dispatches, RESULTS). */
  readonly #endTurn = (): void => {
    this.#turnScheduled = false;
    if (this.#finished) return;
    this.#commit();
    if (!this.#stopping) this.#perform(this.#core.flush(Date.now()));
  };

  #commit(): void {
    const core = this.#core;
    if (!core.needsCommit) return;
    // A failed commit with new tasks is tried again without them: outcomes and TAKENs (which free space in a full
    // store) must not wait behind tasks that no longer fit. If the store is still full, the outcomes go to sinks
    // without being stored (their tasks stay on disk) and the rest is tried once more: a full store must not stop
    // the results that would empty it from reaching a sink.
    for (let attempt = 0; attempt < 3; attempt++) {
      const batch = core.takeBatch();
      const withNew = batch.added.length > 0;
      let failed: { code: string; message: string } | undefined;
      try {
        this.#store.commit(batch);
      } catch (err) {
        failed = errorText(err);
        this.#perform(core.commitFailed(failed.code, failed.message));
      }
      if (failed === undefined) {
        this.#perform(core.committed());
        return;
      }
      if (!withNew && (failed.code !== "STORE_FULL" || core.releaseUnstored() === 0)) return;
      if (core.staged === 0) return;
    }
  }

  /** Carries out what the core decided. */
  #perform(actions: readonly QueueBrokerAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case "to-worker": {
          const { frames } = action;
          this.#backQueue.send(frames).catch(() => {
            if (this.#back.closed || frames[0] === undefined) return;
            this.#perform(this.#core.workerUnreachable(frames[0]));
            this.#schedule();
          });
          break;
        }
        case "to-client": {
          const { frames, sink } = action;
          const sent = this.#frontQueue.send(frames);
          if (sink === true) {
            sent.catch(() => {
              if (this.#front.closed || frames[0] === undefined) return;
              this.#perform(this.#core.sinkUnreachable(frames[0]));
              this.#schedule();
            });
          } else {
            sent.catch(() => undefined); // an ACCEPTED or REJECTED for a source that is gone: it resends
          }
          break;
        }
        case "event":
          callHook(this.#config.onEvent, action.event);
          break;
      }
    }
    if (actions.length > 0) this.#waiters.check();
  }

  /**
   * Stops reading, commits what is staged, sends DISCONNECT to every worker and sink, closes both sockets, then
   * the store.
   */
  protected override async shutdown(): Promise<void> {
    this.#stopping = true;
    this.#core.close();
    clearInterval(this.#timer);
    this.#commit();
    this.#perform(this.#core.farewell());
    await settleWithin(Promise.all([this.#frontQueue.idle(), this.#backQueue.idle()]), 1_000);
    this.#front.close();
    this.#back.close();
    for (const guard of this.#curve) guard?.release();
    await Promise.all(this.#loops);
    this.#finished = true;
    this.#store.close();
    this.#waiters.rejectAll(new ClosedError("PipelineBroker: a wait was rejected: the broker was closed."));
  }
}
