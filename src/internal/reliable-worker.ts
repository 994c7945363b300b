/**
 * @packageDocumentation
 * The reliable mode of `PipelineWorker` (protocol 1.3, docs/protocol.md "Reliable pipeline"): an MDP 0.1 worker of
 * one or more `PipelineBroker`s (one {@link MdpWorkerLink} per broker), whose REQUESTs carry one task or a batch
 * (protocol/queue.ts). It owns the bookkeeping between a REQUEST and its REPLY; the owner runs each task.
 *
 * - Credit: READY announces `capacity` (the owner's concurrency) and the `"batch"` feature, so the broker never has
 *   more tasks here than that. Tasks wait in a FIFO of requests for a slot of the owner's {@link HandlerPool} (the
 *   link's read loop never pauses: heartbeats arrive on the same socket), started by one loop, so a batch of tasks
 *   answered synchronously costs no promise and no recursion.
 * - One REPLY per REQUEST, sent when all its tasks are settled, with the REQUEST's client frame as the token: a
 *   single task gets `encodeTaskReply`, a batch one `encodeTaskBatchReply`.
 * - A REPLY goes back only on the socket (link + generation) its REQUEST came on. When that socket is replaced (the
 *   broker fell silent or sent DISCONNECT), the broker has given up on it and will deliver its tasks again: tasks not
 *   started are never started, running ones have their signal aborted, and every outcome is dropped and counted.
 * - Departure ({@link ReliableWorker.close}): HEARTBEAT + "leaving" to every broker (bounded: a strict broker never
 *   echoes it), the tasks received until then are run (bounded by the drain timeout), what finished is sent (a batch
 *   may be answered with the subset that finished: the rest is delivered again), then DISCONNECT.
 * @internal
 */
import * as zmq from "zeromq";
import { ErrorCode } from "../errors/index.js";
import {
  encodeTaskBatchReply,
  encodeTaskReply,
  OutcomeStatus,
  parseTask,
  type DispatchedTask,
  type Outcome,
} from "../protocol/queue.js";
import { readServiceName, MMI_PREFIX } from "../protocol/mdp.js";
import { JobSignal, type HandlerPool } from "./handler-pool.js";
import { tooManyFrames, type Limits } from "./limits.js";
import { MdpWorkerLink, type WorkerLinkConfig, type WorkerLinkEvent } from "./mdp-worker-link.js";
import type { OptionReader } from "./options.js";
import { settleWithin, signalled } from "./timing.js";

/** The MDP settings of a reliable worker, as read from the owner's options. @internal */
export interface ReliableLinkSettings {
  readonly service: string;
  readonly name: string;
  readonly heartbeatMs: number;
  readonly liveness: number;
  readonly strict: boolean;
}

/**
 * Reads `queue` (default `defaultQueue`), `name`, `heartbeatMs`, `liveness` and `strictMdp`.
 * @internal
 */
export function readReliableLinkSettings(read: OptionReader, defaultQueue: string, defaultName: string): ReliableLinkSettings {
  const service = read.optionalString("queue") ?? defaultQueue;
  const checked = readServiceName(Buffer.from(service, "utf8"));
  if (typeof checked !== "string") throw read.fail("queue", `a queue name (${checked.error})`, service);
  if (service.startsWith(MMI_PREFIX))
    throw read.fail("queue", `a name outside the broker's own "${MMI_PREFIX}" namespace`, service);
  const name = read.optionalString("name") ?? defaultName;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (Buffer.byteLength(name) > 200 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw read.fail("name", "printable text of at most 200 bytes (it prefixes the socket's routing id)", name);
  }
  const heartbeatMs = read.nonNegativeMs("heartbeatMs", 1_000);
  if (heartbeatMs < 10) throw read.fail("heartbeatMs", "at least 10 ms", heartbeatMs);
  return { service, name, heartbeatMs, liveness: read.positiveInt("liveness", 3), strict: read.flag("strictMdp", false) };
}

/** Everything a {@link ReliableWorker} needs besides its hooks. @internal */
export interface ReliableWorkerConfig {
  readonly label: string;
  readonly settings: ReliableLinkSettings;
  readonly capacity: number;
  readonly limits: Limits;
  /** Per link: everything but the endpoint and the MDP settings. */
  readonly link: Omit<
    WorkerLinkConfig,
    "endpoint" | "service" | "name" | "capacity" | "batch" | "heartbeatMs" | "liveness" | "strict"
  >;
}

/** What the owner does for a {@link ReliableWorker}. @internal */
export interface ReliableWorkerHooks {
  /**
   * Runs task `index` of `job` (a pool slot is already taken for it) and calls {@link TaskJob.settle} once, now or
   * later. Must not throw.
   */
  readonly run: (task: DispatchedTask, job: TaskJob, index: number) => void;
  /** A REQUEST that cannot be run (not a task shape, too many frames): count and report it; returns the failure body. */
  readonly refuse: (code: string, message: string) => Uint8Array;
  /** Outcomes that will not reach the broker (`count` tasks), and why. */
  readonly dropped: (count: number, message: string, cause?: unknown) => void;
  readonly event: (event: WorkerLinkEvent) => void;
  /** The broker sent something that is not a worker-side MDP command (ignored). */
  readonly invalid: (reason: string) => void;
  readonly failed: (err: unknown) => void;
}

/** The tasks of one REQUEST, from their arrival to the REPLY. @internal */
export class TaskJob {
  readonly link: MdpWorkerLink;
  readonly generation: number;
  readonly client: Buffer;
  readonly tasks: readonly DispatchedTask[];
  readonly batch: boolean;
  /** The signal of every task of this request: the pool's stop signal, or the socket being replaced. */
  readonly scope: JobSignal;
  readonly outcomes: Array<Outcome | undefined>;
  /** The next task to start. */
  next = 0;
  /** Tasks not settled yet (never started ones included). */
  left: number;
  /** The socket it came on was replaced: nothing of it is sent. */
  orphaned = false;
  readonly #owner: ReliableWorker;

  constructor(
    owner: ReliableWorker,
    link: MdpWorkerLink,
    generation: number,
    client: Buffer,
    tasks: DispatchedTask[],
    batch: boolean,
    stop: AbortSignal,
  ) {
    this.#owner = owner;
    this.link = link;
    this.generation = generation;
    this.client = client;
    this.tasks = tasks;
    this.batch = batch;
    this.left = tasks.length;
    this.outcomes = new Array<Outcome | undefined>(tasks.length);
    this.scope = new JobSignal(stop, undefined);
  }

  /** The outcome of task `index`; frees its pool slot. */
  settle(index: number, status: OutcomeStatus, body: Uint8Array): void {
    this.outcomes[index] = {
      status,
      body: asBuffer(body),
    };
    this.#owner.settled(this);
  }
}

/** The reliable worker's links and requests. @internal */
export class ReliableWorker {
  readonly #config: ReliableWorkerConfig;
  readonly #hooks: ReliableWorkerHooks;
  readonly #pool: HandlerPool;
  readonly #links: MdpWorkerLink[] = [];
  /** Requests not answered yet. */
  readonly #open = new Set<TaskJob>();
  /** Requests with tasks not started yet, in arrival order. */
  #backlog: TaskJob[] = [];
  #pumping = false;
  #accepting = true;
  #starting = true;
  #idle: (() => void) | undefined;
  #received = 0;
  #completed = 0;
  #dropped = 0;
  #drainTimeoutMs = 0;

  constructor(config: ReliableWorkerConfig, pool: HandlerPool, hooks: ReliableWorkerHooks) {
    this.#config = config;
    this.#pool = pool;
    this.#hooks = hooks;
  }

  /** Tasks received. */
  get received(): number {
    return this.#received;
  }

  /** Results (status OK) handed to a link. */
  get completed(): number {
    return this.#completed;
  }

  /** Tasks whose outcome was not sent (their socket was replaced or closed first, or they came while closing). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Opens one link per endpoint; `attach` validates and connects each first socket. */
  async open(endpoints: readonly string[], attach: (socket: zmq.Dealer, endpoint: string) => Promise<void>): Promise<void> {
    for (const endpoint of endpoints) {
      const link = this.#newLink(endpoint);
      this.#links.push(link);
      await link.open((socket) => attach(socket, endpoint));
    }
  }

  #newLink(endpoint: string): MdpWorkerLink {
    const { settings, capacity, link } = this.#config;
    const config: WorkerLinkConfig = { ...link, ...settings, endpoint, capacity, batch: true };
    return new MdpWorkerLink(config, {
      request: (from, generation, client, body) => this.#request(from, generation, client, body),
      event: this.#hooks.event,
      invalid: this.#hooks.invalid,
      failed: this.#hooks.failed,
      replaced: (from, generation) => this.#orphan(from, generation),
    });
  }

  #request(link: MdpWorkerLink, generation: number, client: Buffer, body: Buffer[]): void {
    if (!this.#accepting) {
      const parsed = parseTask(body);
      const count = parsed.kind === "batch" ? parsed.tasks.length : 1;
      this.#drop(
        count,
        `${count} task(s) from the broker at ${link.endpoint} arrived after this worker left; not run (the broker delivers them again).`,
      );
      return;
    }
    const where = `${this.#config.label} at ${link.endpoint}`;
    const over = tooManyFrames(this.#config.limits, body, where);
    const parsed = over === undefined ? parseTask(body) : undefined;
    if (parsed === undefined || parsed.kind === "malformed") {
      this.#received++;
      const code = parsed === undefined ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.MALFORMED;
      const message =
        parsed === undefined
          ? (over ?? "")
          : `${where}: a REQUEST body must be a task [body, H] or a batch ["", ids, bodies, deliveries]: ${parsed.reason}.`;
      const failure = this.#hooks.refuse(code, message);
      this.#send(link, generation, client, encodeTaskReply({ status: OutcomeStatus.FAILED, body: asBuffer(failure) }), 1, 0);
      return;
    }
    const tasks = parsed.kind === "task" ? [parsed.task] : parsed.tasks;
    const job = new TaskJob(this, link, generation, client, tasks, parsed.kind === "batch", this.#pool.signal);
    this.#received += tasks.length;
    this.#open.add(job);
    this.#backlog.push(job);
    this.#pump();
  }

  /** Starts waiting tasks while the pool has room; re-entered from a synchronous settle, it lets the outer loop go on. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#starting && this.#pool.free && this.#backlog.length > 0) {
        const job = this.#backlog[0]!;
        const index = job.next++;
        if (job.next >= job.tasks.length) this.#backlog.shift();
        this.#pool.begin();
        this.#hooks.run(job.tasks[index]!, job, index);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** A task of `job` settled (called by {@link TaskJob.settle}). */
  settled(job: TaskJob): void {
    this.#pool.end();
    if (--job.left === 0) this.#finish(job);
    this.#pump();
  }

  #finish(job: TaskJob): void {
    this.#forget(job);
    if (job.orphaned) return;
    const outcomes = job.outcomes as Outcome[];
    const payload = job.batch
      ? encodeTaskBatchReply(
          job.tasks.map((task) => task.id),
          outcomes,
        )
      : encodeTaskReply(outcomes[0]!);
    this.#send(job.link, job.generation, job.client, payload, job.tasks.length, countOk(outcomes));
  }

  #forget(job: TaskJob): void {
    this.#open.delete(job);
    job.scope.end();
    if (this.#open.size === 0) this.#idle?.();
  }

  #send(link: MdpWorkerLink, generation: number, client: Buffer, payload: Buffer[], tasks: number, ok: number): void {
    const sent = link.reply(generation, client, payload);
    if (sent === undefined) {
      this.#drop(
        tasks,
        `${this.#config.label}: ${tasks} outcome(s) could not be sent: the link to the broker at ${link.endpoint} was replaced or closed since the request arrived (the broker delivers the tasks again).`,
      );
      return;
    }
    this.#completed += ok;
    sent.catch((err: unknown) => {
      this.#completed -= ok;
      this.#drop(
        tasks,
        `${this.#config.label}: ${tasks} outcome(s) could not be sent to the broker at ${link.endpoint} (the broker delivers the tasks again).`,
        err,
      );
    });
  }

  #drop(count: number, message: string, cause?: unknown): void {
    this.#dropped += count;
    this.#hooks.dropped(count, message, cause);
  }

  /** A link's socket was replaced: its requests can no longer be answered. */
  #orphan(link: MdpWorkerLink, generation: number): void {
    let tasks = 0;
    for (const job of this.#open) {
      if (job.link !== link || job.generation !== generation) continue;
      job.orphaned = true;
      tasks += job.tasks.length;
      job.scope.abort(
        new DOMException(`The link to the broker at ${link.endpoint} was lost; no outcome can be sent.`, "AbortError"),
      );
      // Tasks not started never will be; the running ones settle (and free their slots) as they finish.
      job.left -= job.tasks.length - job.next;
      job.next = job.tasks.length;
      if (job.left === 0) this.#forget(job);
    }
    if (tasks === 0) return;
    this.#backlog = this.#backlog.filter((job) => !job.orphaned);
    this.#drop(
      tasks,
      `${this.#config.label}: the link to the broker at ${link.endpoint} was lost with ${tasks} task(s) not answered; their outcomes are dropped (the broker delivers them again).`,
    );
  }

  /**
   * Leaves every broker (bounded), runs what arrived until then for up to `drainTimeoutMs`, aborts what still runs
   * (`abort` aborts the pool's signal), sends what finished, and closes the links.
   */
  async close(drainTimeoutMs: number, abort: () => Promise<unknown>): Promise<void> {
    this.#drainTimeoutMs = drainTimeoutMs;
    await settleWithin(Promise.all(this.#links.map((link) => link.leave())), Math.min(drainTimeoutMs, 1_000));
    this.#accepting = false;
    if (this.#open.size > 0) {
      const idle = signalled();
      this.#idle = idle.resolve;
      await settleWithin(idle.promise, drainTimeoutMs);
    }
    this.#starting = false;
    await abort();
    for (const job of [...this.#open]) this.#sendFinished(job);
    await Promise.all(this.#links.map((link) => link.close()));
  }

  /** At close: a batch whose drain timed out is answered with the outcomes it has; the rest is delivered again. */
  #sendFinished(job: TaskJob): void {
    this.#forget(job);
    if (job.orphaned) return;
    // What finishes later is not sent (the links are closing): counted here, once.
    job.orphaned = true;
    const ids: string[] = [];
    const outcomes: Outcome[] = [];
    job.outcomes.forEach((outcome, i) => {
      if (outcome === undefined) return;
      ids.push(job.tasks[i]!.id);
      outcomes.push(outcome);
    });
    const unsent = job.tasks.length - ids.length;
    if (unsent > 0) {
      this.#drop(
        unsent,
        `${this.#config.label}: ${unsent} task(s) had not finished when the worker closed (drainTimeoutMs ${this.#drainTimeoutMs}); the broker delivers them again.`,
      );
    }
    if (job.batch && ids.length > 0)
      this.#send(job.link, job.generation, job.client, encodeTaskBatchReply(ids, outcomes), ids.length, countOk(outcomes));
  }
}

/** A codec's bytes as a Buffer, without a copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function countOk(outcomes: readonly Outcome[]): number {
  let ok = 0;
  for (const outcome of outcomes) if (outcome.status === OutcomeStatus.OK) ok++;
  return ok;
}
