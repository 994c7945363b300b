/**
 * @packageDocumentation
 * The reliable pipeline broker's decisions (docs/protocol.md, "Reliable pipeline"): queues of tasks, workers and
 * their credit, dispatches and their leases, redelivery and poison tasks, first-result-wins, outcomes waiting for
 * sinks and the sinks' windows, heartbeats both ways, idempotent PUSH by id, and the staging of store writes. Pure:
 * no sockets, no timers, no clock. Every input (a message, `tick(now)`, a commit's result) returns the actions to
 * take, in order; `pipeline-broker.ts` performs them, commits the staged writes once per turn and reports back.
 *
 * The turn: messages are handled as they are read; their store writes are staged. At the end of the turn the owner
 * takes the staged writes ({@link QueueBroker.takeBatch}), commits them, and calls {@link QueueBroker.committed}
 * (or {@link QueueBroker.commitFailed}), then {@link QueueBroker.flush}. Only after the commit are new tasks
 * ACCEPTED and dispatchable and new outcomes sendable to sinks; the flush sends what is dispatchable in batches
 * (one REQUEST per batch worker up to its credit and `maxBatch`, one RESULTS per sink up to its room and
 * `maxBatch`). Bookkeeping is O(1) per task: maps keyed by id, ring-buffer deques with lazy deletion, and a lease
 * deque in dispatch order (every lease is `leaseMs` long, so dispatch order is expiry order).
 * @internal
 */
import { DispatchTokens } from "./dispatch-tokens.js";
import { RecentIds } from "./recent-ids.js";
import {
  encodeAccepted,
  encodeBrokerFailure,
  encodeQueueDisconnect,
  encodeQueueHeartbeat,
  encodeRejected,
  encodeResults,
  encodeTask,
  encodeTaskBatch,
  OutcomeStatus,
  parseQueueClientMessage,
  parseTaskReply,
  type Outcome,
} from "../protocol/queue.js";
import { encodeDisconnect, encodeHeartbeat, encodeWorkerRequest, parseWorkerCommand, readServiceName } from "../protocol/mdp.js";
import type { PipelineBrokerEvent, PipelineBrokerStats, PipelineQueueStats } from "../pipeline-broker.js";
import type { StoreBatch, StoredResult, StoredTask } from "./queue-store.js";

/** What the broker must do, in the order given. */
export type QueueBrokerAction =
  /** Send `frames` (`[worker-id, ...]`) on the backend; on failure call {@link QueueBroker.workerUnreachable}. */
  | { readonly kind: "to-worker"; readonly frames: Uint8Array[] }
  /**
   * Send `frames` (`[peer-id, ...]`) on the frontend. `sink` is set on what goes to a sink (RESULTS, HEARTBEAT,
   * DISCONNECT): on failure call {@link QueueBroker.sinkUnreachable}. A failed ACCEPTED/REJECTED is harmless (the
   * source resends).
   */
  | { readonly kind: "to-client"; readonly frames: Uint8Array[]; readonly sink?: true }
  /** Report `event` to `onEvent`. */
  | { readonly kind: "event"; readonly event: PipelineBrokerEvent };

/** Settings of a {@link QueueBroker}, already checked. */
export interface QueueBrokerConfig {
  /** How long a dispatch may be held before its tasks are sent again. */
  readonly leaseMs: number;
  /** Deliveries after which a task that again ended without an outcome becomes a `POISON_TASK` failure. */
  readonly maxDeliveries: number;
  /** Heartbeat interval, both faces. */
  readonly heartbeatMs: number;
  /** Heartbeats a worker or sink may miss before it is lost. */
  readonly liveness: number;
  /** Tasks plus outcomes held at once; PUSH beyond is REJECTED `QUEUE_FULL`. */
  readonly maxTasks: number;
  /** Tasks per REQUEST and outcomes per RESULTS at most. */
  readonly maxBatch: number;
  /** Fill the store batches (false: memory, nothing to write; the turn still gates ACCEPTED). */
  readonly durable: boolean;
  /** Ids remembered after they were taken, per queue; {@link RECENT_IDS} when not given (tests use a few). */
  readonly recentIds?: number;
}

/** What a store held at start (design B: `QueueStore.load()`). */
export interface LoadedState {
  readonly tasks: readonly StoredTask[];
  readonly results: readonly StoredResult[];
}

/** Ids remembered after they were taken, per queue (exactly the last this many), so that a repeated PUSH is accepted without a second copy. */
export const RECENT_IDS = 65_536;

/** `Sink.order` is rebuilt when it holds more than this many times the sink's window. */
const ORDER_SLACK = 4;

/** The tasks of a closed dispatch. */
const NO_TASKS: readonly Task[] = [];

const PENDING = 0; // accepted by the broker, waiting for the commit
const QUEUED = 1;
const FLIGHT = 2;
const DONE = 3; // completed, or rejected by a failed commit: terminal
type TaskState = typeof PENDING | typeof QUEUED | typeof FLIGHT | typeof DONE;

const R_FRESH = 0; // waiting for the commit
const R_WAITING = 1;
const R_SENT = 2;
const R_TAKEN = 3;
type ResultState = typeof R_FRESH | typeof R_WAITING | typeof R_SENT | typeof R_TAKEN;

/** A growable ring buffer: push and pop at both ends in O(1). */
export class Deque<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(16);
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item;
    this.#size++;
  }

  unshift(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#items.length - 1);
    this.#items[this.#head] = item;
    this.#size++;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#size--;
    return item;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  #grow(): void {
    const old = this.#items;
    const items = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#size; i++) items[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = items;
    this.#head = 0;
  }
}

/**
 * A task, and from its first outcome on the outcome too: one object for both (the outcome reuses the task's, so
 * that completing a task allocates nothing and leaves its entry in `held` as it is). `state` is the task's side
 * (DONE once it has its outcome, which is all the task-side code needs to know); `rstate` the outcome's.
 */
interface Entry {
  /** It has its outcome (`status`, `body`, `rstate` and `sink` are the outcome's). */
  result: boolean;
  readonly queue: Queue;
  readonly id: string;
  readonly seq: number;
  /** The task's body; once it has its outcome, the outcome's body. */
  body: Buffer;
  /** Deliveries so far (the number of the last one): with id and body, what a REQUEST carries. */
  delivery: number;
  state: TaskState;
  /** The dispatch that holds it now (FLIGHT); an expired dispatch keeps its slot but no longer holds the task. */
  dispatch: Dispatch | undefined;
  /** With `body`, the outcome as RESULTS carries it. */
  status: OutcomeStatus;
  rstate: ResultState;
  sink: Sink | undefined;
}

/** An entry as a task. */
type Task = Entry;
/** An entry that has its outcome. */
type Result = Entry;

interface Dispatch {
  readonly token: number;
  readonly worker: Worker;
  /**
   * The tasks sent, in REQUEST order (emptied once every slot is answered, so that a closed dispatch waiting in the
   * lease deque holds no task). A batch REPLY names its tasks in that order as a rule, so the slot of an answer is
   * found by comparing the id at the expected index; a map of the ids is built only for a REPLY that departs from
   * the order. (A map per dispatch cost a set, a get and a delete per task.)
   */
  tasks: readonly Task[];
  /** Per slot: 1 once answered. */
  answered: Uint8Array;
  /** Slots not answered yet: the worker's credit in use. */
  open: number;
  /** Task id → slot, built on the first answer out of order. */
  index: Map<string, number> | undefined;
  readonly leaseAt: number;
  /** Every slot answered, or its worker lost: the lease deque skips it. */
  closed: boolean;
}

interface Worker {
  readonly id: Buffer;
  readonly key: string;
  readonly name: string;
  readonly queue: Queue;
  readonly capacity: number;
  readonly batch: boolean;
  /** It sent HEARTBEAT "leaving" (closing): it gets no new tasks; what it holds it still answers. */
  leaving: boolean;
  /** Open slots over its dispatches. */
  load: number;
  readonly dispatches: Set<Dispatch>;
  heardAt: number;
  sentAt: number;
}

interface Peer {
  readonly id: Buffer;
  readonly key: string;
  readonly sinks: Map<string, Sink>;
  heardAt: number;
  sentAt: number;
}

interface Sink {
  readonly peer: Peer;
  readonly queue: Queue;
  window: number;
  /** Outcomes sent and not taken (each has `sink` set to this sink and state R_SENT). */
  sent: number;
  /**
   * What was sent to it, in RESULTS order, with lazy deletion: an entry no longer R_SENT to this sink is skipped.
   * A sink takes its outcomes in the order they came, so a TAKEN's id is compared with the head first and looked up
   * in `held` only when it is not there (with a map of the sent outcomes, each cost a set and a delete); when the
   * sink is lost or starts over, this is the list of what goes back. Rebuilt when it grows past
   * {@link ORDER_SLACK} times the window, so a sink that takes out of order cannot grow it without end.
   */
  order: Deque<Result>;
}

interface Queue {
  readonly name: string;
  /**
   * Every task (pending, queued or in flight) and outcome (until taken) held, by id: one map, so that the checks
   * of a PUSH and the step from task to outcome cost one lookup each.
   */
  readonly held: Map<string, Entry>;
  readonly ready: Deque<Task>;
  queued: number;
  inFlight: number;
  /** Outcomes in `held`. */
  results: number;
  readonly waiting: Deque<Result>;
  waitingCount: number;
  readonly workers: Worker[];
  readonly sinks: Sink[];
  /** The ids taken last (at most {@link RECENT_IDS}): a PUSH of one is a duplicate. */
  readonly recent: RecentIds;
  /** Round-robin start over workers and sinks. */
  turn: number;
}

/** Messages of the broker's own answers and failures. */
/**
 * Queues one broker opens at most: a queue is opened by the first PUSH, FETCH or READY naming it, so without a
 * bound a peer inventing names would grow the broker without end.
 */
export const MAX_QUEUES = 10_000;

export const QUEUE_REASONS = {
  queueFull: (max: number) =>
    `the broker holds ${max} tasks and outcomes (maxTasks); the task was not stored. Retry later, start more workers or sinks, or raise maxTasks.`,
  closing: "the broker is shutting down; the task was not stored. Retry on another broker or later.",
  tooManyQueues: (name: string) =>
    `the broker already serves ${MAX_QUEUES} queues, so it does not open queue "${name}"; the task was not stored. Check the queue names your peers use (a queue is named by its contract, or the \`queue\` option).`,
  poison: (id: string, deliveries: number, last: string) =>
    `task "${id}" was delivered ${deliveries} times and no delivery ended with an outcome (the last: ${last}); it is not delivered again (maxDeliveries).`,
} as const;

/**
 * The bookkeeping of one reliable pipeline broker. See the package documentation above.
 * @internal
 */
export class QueueBroker {
  readonly #c: QueueBrokerConfig;
  readonly #silenceMs: number;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Map<string, Worker>();
  readonly #peers = new Map<string, Peer>();
  readonly #dispatches = new Map<number, Dispatch>();
  readonly #leases = new Deque<Dispatch>();
  readonly #dirty = new Set<Queue>();
  readonly #tokens: DispatchTokens;
  #named = 0;
  #seq = 0;
  #held = 0;
  #closing = false;

  // Staged for the next commit.
  #added: StoredTask[] = [];
  #delivered: { queue: string; id: string; deliveries: number }[] = [];
  #completed: StoredResult[] = [];
  #taken: { queue: string; id: string }[] = [];
  #ops = 0;
  /** New tasks waiting for the commit, in PUSH order. */
  #newTasks: Task[] = [];
  /** Outcomes waiting for the commit. */
  #fresh: Result[] = [];
  /** ACCEPTED owed after the commit, per source and queue. */
  #owed = new Map<string, { readonly peer: Buffer; readonly queue: Queue; readonly ids: string[] }>();
  /** The batch being committed (between takeBatch and committed/commitFailed). */
  #inCommit: StoreBatch | undefined;

  readonly #n = {
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    dispatched: 0,
    redelivered: 0,
    completed: 0,
    late: 0,
    poisoned: 0,
    taken: 0,
    storeErrors: 0,
    unstored: 0,
    evicted: 0,
    dropped: 0,
  };

  constructor(config: QueueBrokerConfig, tokenEpoch: number, loaded?: LoadedState) {
    this.#c = config;
    this.#silenceMs = config.heartbeatMs * config.liveness;
    this.#tokens = new DispatchTokens(tokenEpoch);
    if (loaded !== undefined) this.#load(loaded);
  }

  #load(loaded: LoadedState): void {
    for (const stored of loaded.tasks) {
      const queue = this.#queue(stored.queue);
      if (queue.held.has(stored.id)) continue;
      const task: Task = {
        result: false,
        queue,
        id: stored.id,
        seq: stored.seq,
        body: stored.body,
        delivery: stored.deliveries,
        state: QUEUED,
        dispatch: undefined,
        status: OutcomeStatus.OK,
        rstate: R_FRESH,
        sink: undefined,
      };
      queue.held.set(task.id, task);
      queue.ready.push(task);
      queue.queued++;
      this.#held++;
      if (stored.seq > this.#seq) this.#seq = stored.seq;
      this.#dirty.add(queue);
    }
    for (const stored of loaded.results) {
      const queue = this.#queue(stored.queue);
      if (queue.held.has(stored.id)) continue;
      const result: Result = {
        result: true,
        queue,
        id: stored.id,
        seq: stored.seq,
        body: stored.body,
        delivery: 0,
        state: DONE,
        dispatch: undefined,
        status: stored.status,
        rstate: R_WAITING,
        sink: undefined,
      };
      queue.held.set(result.id, result);
      queue.results++;
      queue.waiting.push(result);
      queue.waitingCount++;
      this.#held++;
      if (stored.seq > this.#seq) this.#seq = stored.seq;
      this.#dirty.add(queue);
    }
  }

  /** A snapshot of the counters. */
  get stats(): PipelineBrokerStats {
    const queues: Record<string, PipelineQueueStats> = {};
    let queued = 0;
    let inFlight = 0;
    let results = 0;
    let sinks = 0;
    for (const q of this.#queues.values()) {
      queues[q.name] = {
        queued: q.queued,
        inFlight: q.inFlight,
        results: q.results,
        workers: q.workers.length,
        sinks: q.sinks.length,
      };
      queued += q.queued;
      inFlight += q.inFlight;
      results += q.results;
      sinks += q.sinks.length;
    }
    return { ...this.#n, queued, inFlight, results, workers: this.#workers.size, sinks, queues };
  }

  /** Workers registered, of `queue` or of all queues. */
  workers(queue?: string): number {
    return queue === undefined ? this.#workers.size : (this.#queues.get(queue)?.workers.length ?? 0);
  }

  /** Sinks registered (FETCH), of `queue` or of all queues. */
  sinks(queue?: string): number {
    if (queue !== undefined) return this.#queues.get(queue)?.sinks.length ?? 0;
    let n = 0;
    for (const q of this.#queues.values()) n += q.sinks.length;
    return n;
  }

  /** Writes staged for the next commit (the owner commits early past its limit). */
  get staged(): number {
    return this.#ops;
  }

  /** Something waits for a commit (new tasks, outcomes, or writes kept after a failed commit). */
  get needsCommit(): boolean {
    return this.#ops > 0 || this.#newTasks.length > 0 || this.#fresh.length > 0 || this.#owed.size > 0;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Frontend: sources and sinks

  /** A message read on the frontend: `[peer-id, "", "TZPC01", command, ...]`. */
  fromClient(frames: Buffer[], now: number): QueueBrokerAction[] {
    const id = frames[0];
    if (id === undefined) return this.#drop("an empty frontend message");
    const message = parseQueueClientMessage(frames.slice(1));
    const key = id.toString("latin1");
    const peer = this.#peers.get(key);
    if (peer !== undefined) peer.heardAt = now;
    switch (message.kind) {
      case "malformed":
        return this.#drop(`a frontend message that is not TZPC01: ${message.reason}`);
      case "push":
        return this.#push(id, key, message.queue, message.ids, message.bodies);
      case "fetch":
        return this.#fetch(id, key, peer, message.queue, message.window, now);
      case "taken":
        if (peer === undefined) return [this.#toPeer(id, encodeQueueDisconnect())];
        return this.#takenBy(peer, message.queue, message.ids);
      case "heartbeat":
        return peer === undefined ? [this.#toPeer(id, encodeQueueDisconnect())] : [];
      case "disconnect":
        return peer === undefined ? [] : this.#losePeer(peer, "disconnected");
    }
  }

  #push(id: Buffer, key: string, queueName: string, ids: string[], bodies: Buffer[]): QueueBrokerAction[] {
    if (this.#closing) {
      this.#n.rejected += ids.length;
      return [this.#toPeer(id, encodeRejected(ids, "UNAVAILABLE", `Broker: ${QUEUE_REASONS.closing}`))];
    }
    const queue = this.#queueIfRoom(queueName);
    if (queue === undefined) {
      this.#n.rejected += ids.length;
      return [this.#toPeer(id, encodeRejected(ids, "QUEUE_FULL", `Broker: ${QUEUE_REASONS.tooManyQueues(queueName)}`))];
    }
    const owedKey = `${key}\u0000${queueName}`;
    let owed = this.#owed.get(owedKey);
    if (owed === undefined) {
      owed = { peer: id, queue, ids: [] };
      this.#owed.set(owedKey, owed);
    }
    let full: string[] | undefined;
    for (let i = 0; i < ids.length; i++) {
      const taskId = ids[i]!;
      if (queue.held.has(taskId) || queue.recent.has(taskId)) {
        this.#n.duplicates++;
        owed.ids.push(taskId);
        continue;
      }
      if (this.#held >= this.#c.maxTasks) {
        (full ??= []).push(taskId);
        continue;
      }
      const task: Task = {
        result: false,
        queue,
        id: taskId,
        seq: ++this.#seq,
        body: bodies[i]!,
        delivery: 0,
        state: PENDING,
        dispatch: undefined,
        status: OutcomeStatus.OK,
        rstate: R_FRESH,
        sink: undefined,
      };
      queue.held.set(taskId, task);
      this.#held++;
      this.#newTasks.push(task);
      owed.ids.push(taskId);
      this.#ops++;
      if (this.#c.durable) this.#added.push({ queue: queueName, id: taskId, seq: task.seq, body: task.body, deliveries: 0 });
    }
    if (full === undefined) return [];
    this.#n.rejected += full.length;
    const reason = QUEUE_REASONS.queueFull(this.#c.maxTasks);
    return [
      { kind: "event", event: { type: "task:rejected", queue: queueName, code: "QUEUE_FULL", count: full.length, reason } },
      this.#toPeer(id, encodeRejected(full, "QUEUE_FULL", `Broker: ${reason}`)),
    ];
  }

  #fetch(id: Buffer, key: string, known: Peer | undefined, queueName: string, window: number, now: number): QueueBrokerAction[] {
    if (this.#closing) return [this.#toPeer(id, encodeQueueDisconnect())];
    let peer = known;
    if (peer === undefined) {
      peer = { id, key, sinks: new Map(), heardAt: now, sentAt: now };
      this.#peers.set(key, peer);
    }
    const queue = this.#queueIfRoom(queueName);
    if (queue === undefined) return this.#drop(`a FETCH for queue "${queueName}": ${QUEUE_REASONS.tooManyQueues(queueName)}`);
    let sink = peer.sinks.get(queueName);
    if (sink !== undefined) {
      // A FETCH again: the sink starts over (it reconnected, or lost what was in transit): everything not taken goes back.
      this.#putBack(sink);
      sink.window = window;
    } else {
      sink = { peer, queue, window, sent: 0, order: new Deque() };
      peer.sinks.set(queueName, sink);
      queue.sinks.push(sink);
    }
    this.#dirty.add(queue);
    return [{ kind: "event", event: { type: "sink:ready", queue: queueName, window, results: queue.results } }];
  }

  #takenBy(peer: Peer, queueName: string, ids: readonly string[]): QueueBrokerAction[] {
    const queue = this.#queues.get(queueName);
    const sink = peer.sinks.get(queueName);
    if (queue === undefined || sink === undefined) return [this.#toPeer(peer.id, encodeQueueDisconnect(), true)];
    const order = sink.order;
    for (const taskId of ids) {
      let head = order.peek();
      while (head !== undefined && (head.rstate !== R_SENT || head.sink !== sink)) {
        order.shift();
        head = order.peek();
      }
      let result: Entry | undefined;
      if (head?.id === taskId) result = order.shift();
      else result = queue.held.get(taskId);
      if (result?.result !== true) continue;
      if (result.rstate === R_SENT) {
        // Usually this sink's; another sink's when this one got it over an earlier connection (a sink that
        // reconnects is a new peer, and the old one is not yet known lost): its user code has it either way.
        if (result.sink !== undefined) result.sink.sent--;
      } else if (result.rstate === R_WAITING) {
        queue.waitingCount--; // put back, and taken after all: its deque entry is skipped
      } else {
        continue;
      }
      result.rstate = R_TAKEN;
      result.sink = undefined;
      queue.held.delete(taskId);
      queue.recent.add(taskId);
      queue.results--;
      this.#held--;
      this.#n.taken++;
      this.#ops++;
      if (this.#c.durable) this.#taken.push({ queue: queueName, id: taskId });
    }
    this.#dirty.add(queue);
    return [];
  }

  /** Every outcome sent to `sink` and not taken goes back to the head of its queue. */
  #putBack(sink: Sink): number {
    const queue = sink.queue;
    const back: Result[] = [];
    for (let result = sink.order.shift(); result !== undefined; result = sink.order.shift()) {
      if (result.rstate !== R_SENT || result.sink !== sink) continue; // taken, or an entry it has twice
      result.rstate = R_WAITING;
      result.sink = undefined;
      back.push(result);
    }
    sink.sent = 0;
    // Oldest first at the head: unshift in reverse.
    back.sort((a, b) => a.seq - b.seq);
    for (let i = back.length - 1; i >= 0; i--) {
      const result = back[i]!;
      queue.waiting.unshift(result);
      queue.waitingCount++;
    }
    if (back.length > 0) this.#dirty.add(queue);
    return back.length;
  }

  #losePeer(peer: Peer, how: string): QueueBrokerAction[] {
    if (this.#peers.get(peer.key) !== peer) return [];
    this.#peers.delete(peer.key);
    const actions: QueueBrokerAction[] = [];
    for (const sink of peer.sinks.values()) {
      const back = this.#putBack(sink);
      const list = sink.queue.sinks;
      const at = list.indexOf(sink);
      if (at >= 0) list.splice(at, 1);
      actions.push({ kind: "event", event: { type: "sink:lost", queue: sink.queue.name, reason: how, returned: back } });
    }
    peer.sinks.clear();
    return actions;
  }

  /** A send to this sink failed: it is gone. */
  sinkUnreachable(id: Uint8Array): QueueBrokerAction[] {
    const peer = this.#peers.get(Buffer.from(id).toString("latin1"));
    return peer === undefined ? [] : this.#losePeer(peer, "became unreachable");
  }

  // -------------------------------------------------------------------------------------------------------------
  // Backend: workers (MDP 0.1)

  /** A message read on the backend: `[worker-id, "", "MDPW01", command, ...]`. */
  fromWorker(frames: Buffer[], now: number): QueueBrokerAction[] {
    const id = frames[0];
    if (id === undefined) return this.#drop("an empty backend message");
    const command = parseWorkerCommand(frames.slice(1));
    if (command.kind === "invalid") return this.#drop(`a backend message that is not MDP/Worker: ${command.reason}`);
    const key = id.toString("latin1");
    const worker = this.#workers.get(key);
    if (worker === undefined) {
      switch (command.kind) {
        case "ready":
          return this.#ready(id, key, command.service, command.capacity, command.batch, now);
        case "disconnect":
          return [];
        case "reply":
          // A worker the broker forgot (evicted) answering late: its tasks went elsewhere.
          this.#lateReply(undefined, command.body, "a worker the broker no longer knows");
          return [{ kind: "to-worker", frames: [id, ...encodeDisconnect()] }];
        default:
          return [{ kind: "to-worker", frames: [id, ...encodeDisconnect()] }];
      }
    }
    worker.heardAt = now;
    switch (command.kind) {
      case "ready":
        return [this.#toWorker(worker, encodeDisconnect()), ...this.#loseWorker(worker, "gone", "sent a second READY")];
      case "reply":
        return this.#reply(worker, command.client, command.body);
      case "heartbeat":
        if (!command.leaving) return [];
        // The departure extension (mdp.ts): no new tasks from now on; the echo goes out behind every REQUEST sent
        // before, so the worker knows it has them all.
        worker.leaving = true;
        return [this.#toWorker(worker, encodeHeartbeat(true))];
      case "disconnect":
        return this.#loseWorker(worker, "gone", "disconnected");
      case "request":
        return [
          this.#toWorker(worker, encodeDisconnect()),
          ...this.#loseWorker(worker, "gone", "sent a REQUEST, which only a broker sends"),
        ];
    }
  }

  #ready(
    id: Buffer,
    key: string,
    queueName: string,
    announced: number | undefined,
    batch: boolean,
    now: number,
  ): QueueBrokerAction[] {
    const queue = this.#closing ? undefined : this.#queueIfRoom(queueName);
    if (queue === undefined) return [{ kind: "to-worker", frames: [id, ...encodeDisconnect()] }];
    const printable = readServiceName(id);
    const capacity = announced ?? 1;
    const worker: Worker = {
      id,
      key,
      name: typeof printable === "string" ? printable : `${queueName}#${++this.#named}`,
      queue,
      capacity,
      batch,
      leaving: false,
      load: 0,
      dispatches: new Set(),
      heardAt: now,
      sentAt: now,
    };
    this.#workers.set(key, worker);
    queue.workers.push(worker);
    this.#dirty.add(queue);
    return [{ kind: "event", event: { type: "worker:ready", queue: queueName, worker: worker.name, capacity, batch } }];
  }

  #reply(worker: Worker, client: Buffer, body: Buffer[]): QueueBrokerAction[] {
    const dispatch = this.#dispatchOf(client, worker);
    if (dispatch === undefined) return this.#lateReply(worker, body, `worker "${worker.name}"`);
    const parsed = parseTaskReply(body);
    const actions: QueueBrokerAction[] = [];
    if (parsed.kind === "malformed") {
      // The slots stay held until the lease passes or the worker is lost; its tasks are then sent again.
      return this.#drop(`a REPLY from worker "${worker.name}" with a malformed body: ${parsed.reason}`);
    }
    if (parsed.kind === "outcome") {
      if (dispatch.open !== 1) {
        return this.#drop(
          `a REPLY from worker "${worker.name}" with one outcome and no id, for a batch of ${dispatch.open} tasks`,
        );
      }
      const slot = dispatch.answered.indexOf(0);
      this.#answer(dispatch, dispatch.tasks[slot]!.id, parsed.outcome, actions, slot);
    } else {
      for (let i = 0; i < parsed.ids.length; i++) this.#answer(dispatch, parsed.ids[i]!, parsed.outcomes[i]!, actions, i);
    }
    this.#dirty.add(worker.queue);
    return actions;
  }

  /** The outcome of one slot of `dispatch` (`hint`: the slot it is expected at). */
  #answer(dispatch: Dispatch, id: string, outcome: Outcome, actions: QueueBrokerAction[], hint: number): void {
    const slot = this.#slotOf(dispatch, id, hint);
    const worker = dispatch.worker;
    if (slot < 0 || dispatch.answered[slot] === 1) {
      this.#late(worker.queue.name, id, worker.name, actions);
      return;
    }
    const task = dispatch.tasks[slot]!;
    dispatch.answered[slot] = 1;
    dispatch.open--;
    worker.load--;
    if (dispatch.open === 0) this.#closeDispatch(dispatch);
    if (task.state === DONE) {
      this.#late(task.queue.name, id, worker.name, actions);
      return;
    }
    if (outcome.status === OutcomeStatus.RETRY) {
      // Only the delivery that holds the task decides on another; an expired one's retry changes nothing.
      if (task.dispatch === dispatch) this.#endDelivery(task, "retry", actions);
      else this.#late(task.queue.name, id, worker.name, actions);
      return;
    }
    this.#complete(task, outcome);
  }

  /** The slot of task `id` in `dispatch`, or -1: `hint` first, else by the ids (a map built once per dispatch). */
  #slotOf(dispatch: Dispatch, id: string, hint: number): number {
    const tasks = dispatch.tasks;
    if (hint < tasks.length && tasks[hint]!.id === id) return hint;
    let index = dispatch.index;
    if (index === undefined) {
      index = new Map();
      for (let i = 0; i < tasks.length; i++) index.set(tasks[i]!.id, i);
      dispatch.index = index;
    }
    return index.get(id) ?? -1;
  }

  /** The tasks `dispatch` still holds: slots not answered whose task it was last sent with. */
  #stillHeld(dispatch: Dispatch, into: Task[]): void {
    const { tasks, answered } = dispatch;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      if (answered[i] === 0 && task.dispatch === dispatch) into.push(task);
    }
  }

  #late(queue: string, taskId: string, worker: string | undefined, actions: QueueBrokerAction[]): void {
    this.#n.late++;
    actions.push({ kind: "event", event: { type: "task:late", queue, taskId, worker: worker ?? "(unknown)" } });
  }

  /** A REPLY that matches no open dispatch of its worker: every outcome in it is late. */
  #lateReply(worker: Worker | undefined, body: Buffer[], from: string): QueueBrokerAction[] {
    const parsed = parseTaskReply(body);
    const actions: QueueBrokerAction[] = [];
    const queue = worker?.queue.name ?? "";
    if (parsed.kind === "batch") for (const id of parsed.ids) this.#late(queue, id, worker?.name, actions);
    else if (parsed.kind === "outcome") this.#late(queue, "", worker?.name, actions);
    else return this.#drop(`a malformed REPLY from ${from}: ${parsed.reason}`);
    return actions;
  }

  #dispatchOf(frame: Buffer, worker: Worker): Dispatch | undefined {
    const token = this.#tokens.read(frame);
    if (token === undefined) return undefined;
    const dispatch = this.#dispatches.get(token);
    return dispatch?.worker === worker ? dispatch : undefined;
  }

  #closeDispatch(dispatch: Dispatch): void {
    dispatch.closed = true;
    dispatch.tasks = NO_TASKS;
    dispatch.index = undefined;
    this.#dispatches.delete(dispatch.token);
    dispatch.worker.dispatches.delete(dispatch);
  }

  /** A task has its outcome: the first one wins; the task becomes a result waiting for the commit. */
  #complete(task: Task, outcome: Outcome): void {
    const queue = task.queue;
    if (task.state === QUEUED) queue.queued--;
    else if (task.state === FLIGHT) queue.inFlight--;
    task.state = DONE;
    task.dispatch = undefined;
    const status = outcome.status === OutcomeStatus.RETRY ? OutcomeStatus.FAILED : outcome.status;
    const result: Result = task; // the same entry: `held` keeps it
    result.result = true;
    result.status = status;
    result.body = outcome.body;
    result.rstate = R_FRESH;
    result.sink = undefined;
    queue.results++;
    this.#fresh.push(result);
    this.#n.completed++;
    this.#ops++;
    if (this.#c.durable) {
      this.#completed.push({
        queue: queue.name,
        id: task.id,
        seq: task.seq,
        status,
        body: outcome.body,
      });
    }
  }

  /** A delivery ended without an outcome (`how`): the task goes back to the head of its queue, or is poison. */
  #endDelivery(task: Task, how: string, actions: QueueBrokerAction[]): void {
    const queue = task.queue;
    task.dispatch = undefined;
    queue.inFlight--;
    task.state = QUEUED; // for #complete's bookkeeping if poisoned below
    queue.queued++;
    if (task.delivery >= this.#c.maxDeliveries) {
      this.#n.poisoned++;
      const message = QUEUE_REASONS.poison(task.id, task.delivery, how);
      const body = encodeBrokerFailure("POISON_TASK", message, { taskId: task.id, deliveries: task.delivery });
      actions.push({
        kind: "event",
        event: { type: "task:poisoned", queue: queue.name, taskId: task.id, deliveries: task.delivery },
      });
      this.#complete(task, { status: OutcomeStatus.BROKER_FAILED, body });
      return;
    }
    queue.ready.unshift(task);
    this.#n.redelivered++;
    this.#dirty.add(queue);
    actions.push({
      kind: "event",
      event: { type: "task:redelivered", queue: queue.name, taskId: task.id, deliveries: task.delivery, reason: how },
    });
  }

  /** A worker is gone: forgotten; every task its dispatches still hold goes back (or is poison). */
  #loseWorker(worker: Worker, type: "evicted" | "gone", how: string, silentMs = 0): QueueBrokerAction[] {
    if (this.#workers.get(worker.key) !== worker) return [];
    this.#workers.delete(worker.key);
    const list = worker.queue.workers;
    const at = list.indexOf(worker);
    if (at >= 0) list.splice(at, 1);
    const held: Task[] = [];
    for (const dispatch of worker.dispatches) {
      this.#stillHeld(dispatch, held);
      dispatch.closed = true;
      dispatch.tasks = NO_TASKS;
      dispatch.index = undefined;
      this.#dispatches.delete(dispatch.token);
    }
    worker.dispatches.clear();
    worker.load = 0;
    const actions: QueueBrokerAction[] = [];
    // Oldest first at the head: end the deliveries in reverse order of acceptance.
    held.sort((a, b) => b.seq - a.seq);
    for (const task of held) this.#endDelivery(task, how, actions);
    const base = { queue: worker.queue.name, worker: worker.name, returned: held.length };
    const event: PipelineBrokerEvent =
      type === "evicted" ? { type: "worker:evicted", ...base, silentMs } : { type: "worker:gone", ...base, reason: how };
    if (type === "evicted") this.#n.evicted++;
    actions.unshift({ kind: "event", event });
    return actions;
  }

  /** A send to this worker failed: it is gone. */
  workerUnreachable(id: Uint8Array): QueueBrokerAction[] {
    const worker = this.#workers.get(Buffer.from(id).toString("latin1"));
    return worker === undefined ? [] : this.#loseWorker(worker, "gone", "became unreachable");
  }

  // -------------------------------------------------------------------------------------------------------------
  // The turn: commit, then flush

  /** Takes the staged writes for one `store.commit()` (the owner calls {@link committed} or {@link commitFailed}). */
  takeBatch(): StoreBatch {
    const batch: StoreBatch = { added: this.#added, delivered: this.#delivered, completed: this.#completed, taken: this.#taken };
    this.#added = [];
    this.#delivered = [];
    this.#completed = [];
    this.#taken = [];
    this.#ops = 0;
    this.#inCommit = batch;
    return batch;
  }

  /** The batch was committed: new tasks are ACCEPTED and queued, new outcomes may go to sinks. */
  committed(): QueueBrokerAction[] {
    this.#inCommit = undefined;
    for (const task of this.#newTasks) {
      if (task.state !== PENDING) continue;
      task.state = QUEUED;
      task.queue.ready.push(task);
      task.queue.queued++;
      this.#dirty.add(task.queue);
    }
    this.#n.accepted += this.#newTasks.length;
    this.#newTasks = [];
    this.#releaseFresh();
    const actions: QueueBrokerAction[] = [];
    for (const { peer, ids } of this.#owed.values()) if (ids.length > 0) actions.push(this.#toPeer(peer, encodeAccepted(ids)));
    this.#owed.clear();
    return actions;
  }

  /**
   * The commit failed (`code`: `STORE_FULL` or `STORE_FAILED`): the new tasks of the batch are REJECTED and
   * forgotten; every other write stays staged, ahead of what was staged since, for the next commit.
   */
  commitFailed(code: string, message: string): QueueBrokerAction[] {
    const failed = this.#inCommit;
    this.#inCommit = undefined;
    if (failed !== undefined) {
      this.#delivered = [...failed.delivered, ...this.#delivered];
      this.#completed = [...failed.completed, ...this.#completed];
      this.#taken = [...failed.taken, ...this.#taken];
      this.#ops += failed.delivered.length + failed.completed.length + failed.taken.length;
    }
    let rejected = 0;
    for (const task of this.#newTasks) {
      if (task.state !== PENDING) continue;
      task.state = DONE;
      task.queue.held.delete(task.id);
      this.#held--;
      rejected++;
    }
    this.#newTasks = [];
    this.#n.storeErrors++;
    this.#n.rejected += rejected;
    const actions: QueueBrokerAction[] = [{ kind: "event", event: { type: "store:error", code, message, rejected } }];
    for (const { peer, queue, ids } of this.#owed.values()) {
      // An id the broker still holds was stored before (a repeated PUSH); the others were in the failed batch.
      const no: string[] = [];
      const yes: string[] = [];
      for (const id of ids) (queue.held.has(id) || queue.recent.has(id) ? yes : no).push(id);
      if (yes.length > 0) actions.push(this.#toPeer(peer, encodeAccepted(yes)));
      if (no.length > 0) actions.push(this.#toPeer(peer, encodeRejected(no, code, `Broker: ${message}`)));
    }
    this.#owed.clear();
    return actions;
  }

  /**
   * After a commit without new tasks failed because the store is full: the outcomes staged for it go to sinks
   * without being stored. Their tasks stay on disk, and the TAKEN of each deletes its task (the store's `taken`
   * deletes the task row too): a crash before a sink takes one runs its task again, which at-least-once allows.
   * Returns how many outcomes were released so.
   */
  releaseUnstored(): number {
    const count = this.#completed.length;
    if (count === 0) return 0;
    this.#ops = Math.max(0, this.#ops - count);
    this.#completed = [];
    this.#releaseFresh();
    this.#n.unstored += count;
    return count;
  }

  /** The outcomes that waited for the commit go to the queues' sinks. */
  #releaseFresh(): void {
    for (const result of this.#fresh) {
      if (result.rstate !== R_FRESH) continue;
      result.rstate = R_WAITING;
      result.queue.waiting.push(result);
      result.queue.waitingCount++;
      this.#dirty.add(result.queue);
    }
    this.#fresh = [];
  }

  /** Sends what is dispatchable and deliverable in the queues touched since the last flush. */
  flush(now: number): QueueBrokerAction[] {
    if (this.#dirty.size === 0) return [];
    const actions: QueueBrokerAction[] = [];
    for (const queue of this.#dirty) {
      this.#dispatch(queue, now, actions);
      this.#deliver(queue, now, actions);
    }
    this.#dirty.clear();
    return actions;
  }

  #dispatch(queue: Queue, now: number, actions: QueueBrokerAction[]): void {
    const workers = queue.workers;
    if (workers.length === 0 || queue.queued === 0) return;
    for (;;) {
      let eligible = 0;
      for (const w of workers) if (w.load < w.capacity && !w.leaving) eligible++;
      if (eligible === 0 || queue.queued === 0) return;
      const share = Math.ceil(queue.queued / eligible);
      let progressed = false;
      for (let k = 0; k < workers.length && queue.queued > 0; k++) {
        const worker = workers[(queue.turn + k) % workers.length]!;
        const room = worker.capacity - worker.load;
        if (room <= 0 || worker.leaving) continue;
        if (worker.batch) {
          const tasks = this.#takeReady(queue, Math.min(room, this.#c.maxBatch, share));
          if (tasks.length > 0) {
            actions.push(this.#send(worker, tasks, now));
            progressed = true;
          }
        } else {
          // A plain worker: one task per REQUEST, up to its credit.
          for (let n = Math.min(room, share); n > 0; n--) {
            const tasks = this.#takeReady(queue, 1);
            if (tasks.length === 0) break;
            actions.push(this.#send(worker, tasks, now));
            progressed = true;
          }
        }
      }
      queue.turn = (queue.turn + 1) % workers.length;
      if (!progressed) return;
    }
  }

  #takeReady(queue: Queue, max: number): Task[] {
    const out: Task[] = [];
    while (out.length < max) {
      const task = queue.ready.shift();
      if (task === undefined) break;
      if (task.state !== QUEUED) continue; // completed while queued (a late first result)
      out.push(task);
    }
    return out;
  }

  #send(worker: Worker, tasks: Task[], now: number): QueueBrokerAction {
    const token = this.#tokens.next();
    const dispatch: Dispatch = {
      token,
      worker,
      tasks,
      answered: new Uint8Array(tasks.length),
      open: tasks.length,
      index: undefined,
      leaseAt: now + this.#c.leaseMs,
      closed: false,
    };
    const queue = worker.queue;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      task.delivery++;
      task.state = FLIGHT;
      task.dispatch = dispatch;
      this.#ops++;
      if (this.#c.durable) this.#delivered.push({ queue: queue.name, id: task.id, deliveries: task.delivery });
    }
    queue.queued -= tasks.length;
    queue.inFlight += tasks.length;
    worker.load += tasks.length;
    worker.dispatches.add(dispatch);
    worker.sentAt = now;
    this.#dispatches.set(token, dispatch);
    this.#leases.push(dispatch);
    this.#n.dispatched += tasks.length;
    const body = worker.batch ? encodeTaskBatch(tasks) : encodeTask(tasks[0]!);
    return { kind: "to-worker", frames: [worker.id, ...encodeWorkerRequest(this.#tokens.frame(token), body)] };
  }

  #deliver(queue: Queue, now: number, actions: QueueBrokerAction[]): void {
    const sinks = queue.sinks;
    if (sinks.length === 0 || queue.waitingCount === 0) return;
    for (;;) {
      let progressed = false;
      for (let k = 0; k < sinks.length && queue.waitingCount > 0; k++) {
        const sink = sinks[(queue.turn + k) % sinks.length]!;
        const room = Math.min(sink.window - sink.sent, this.#c.maxBatch);
        if (room <= 0) continue;
        if (sink.order.size > ORDER_SLACK * sink.window) this.#compactOrder(sink);
        const ids: string[] = [];
        const outcomes: Outcome[] = [];
        while (ids.length < room) {
          const result = queue.waiting.shift();
          if (result === undefined) break;
          if (result.rstate !== R_WAITING) continue; // taken while it waited
          queue.waitingCount--;
          result.rstate = R_SENT;
          result.sink = sink;
          sink.sent++;
          sink.order.push(result);
          ids.push(result.id);
          outcomes.push(result);
        }
        if (ids.length === 0) continue;
        sink.peer.sentAt = now;
        actions.push(this.#toPeer(sink.peer.id, encodeResults(queue.name, ids, outcomes), true));
        progressed = true;
      }
      if (!progressed) return;
    }
  }

  /** Drops the entries of `sink.order` that are no longer sent to it (see `Sink.order`). */
  #compactOrder(sink: Sink): void {
    const live = new Deque<Result>();
    for (let result = sink.order.shift(); result !== undefined; result = sink.order.shift()) {
      if (result.rstate === R_SENT && result.sink === sink) live.push(result);
    }
    sink.order = live;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Time

  /** Heartbeats due, workers and sinks silent too long (lost), leases passed (tasks sent again). */
  tick(now: number): QueueBrokerAction[] {
    const actions: QueueBrokerAction[] = [];
    for (const worker of [...this.#workers.values()]) {
      const silent = now - worker.heardAt;
      if (silent >= this.#silenceMs) {
        const how = `missed its heartbeats (silent ${silent} ms, limit ${this.#c.heartbeatMs} ms × ${this.#c.liveness})`;
        actions.push(this.#toWorker(worker, encodeDisconnect()), ...this.#loseWorker(worker, "evicted", how, silent));
      } else if (now - worker.sentAt >= this.#c.heartbeatMs) {
        actions.push(this.#toWorker(worker, encodeHeartbeat()));
        worker.sentAt = now;
      }
    }
    for (const peer of [...this.#peers.values()]) {
      const silent = now - peer.heardAt;
      if (silent >= this.#silenceMs) {
        actions.push(this.#toPeer(peer.id, encodeQueueDisconnect()));
        actions.push(...this.#losePeer(peer, `missed its heartbeats (silent ${silent} ms)`));
      } else if (now - peer.sentAt >= this.#c.heartbeatMs) {
        actions.push(this.#toPeer(peer.id, encodeQueueHeartbeat(), true));
        peer.sentAt = now;
      }
    }
    for (
      let dispatch = this.#leases.peek();
      dispatch !== undefined && (dispatch.closed || dispatch.leaseAt <= now);
      dispatch = this.#leases.peek()
    ) {
      this.#leases.shift();
      if (dispatch.closed) continue;
      // The lease passed: the tasks go elsewhere; the worker keeps the slots (it still holds the tasks) until it
      // answers (late, unless first) or is lost.
      const held: Task[] = [];
      this.#stillHeld(dispatch, held);
      for (let i = held.length - 1; i >= 0; i--) {
        this.#endDelivery(held[i]!, `its lease passed (${this.#c.leaseMs} ms at worker "${dispatch.worker.name}")`, actions);
      }
    }
    return actions;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Close

  /** Takes no new tasks, workers or sinks from now on. */
  close(): void {
    this.#closing = true;
  }

  /** DISCONNECT to every worker and sink, which are then forgotten (the last step of close). */
  farewell(): QueueBrokerAction[] {
    const actions: QueueBrokerAction[] = [];
    for (const w of this.#workers.values()) actions.push(this.#toWorker(w, encodeDisconnect()));
    for (const p of this.#peers.values()) actions.push(this.#toPeer(p.id, encodeQueueDisconnect()));
    this.#workers.clear();
    this.#peers.clear();
    for (const q of this.#queues.values()) {
      q.workers.length = 0;
      q.sinks.length = 0;
    }
    return actions;
  }

  /** A message the owner refused before parsing (over a limit): counted as dropped and reported. */
  dropMessage(reason: string): QueueBrokerAction[] {
    return this.#drop(reason);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Mechanics

  /** The queue `name`, opened if the broker has room for another ({@link MAX_QUEUES}). */
  #queueIfRoom(name: string): Queue | undefined {
    return this.#queues.size < MAX_QUEUES || this.#queues.has(name) ? this.#queue(name) : undefined;
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = {
        name,
        held: new Map(),
        ready: new Deque(),
        queued: 0,
        inFlight: 0,
        results: 0,
        waiting: new Deque(),
        waitingCount: 0,
        workers: [],
        sinks: [],
        recent: new RecentIds(this.#c.recentIds ?? RECENT_IDS),
        turn: 0,
      };
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #toWorker(worker: Worker, frames: Uint8Array[]): QueueBrokerAction {
    return { kind: "to-worker", frames: [worker.id, ...frames] };
  }

  #toPeer(id: Buffer, frames: Uint8Array[], sink?: true): QueueBrokerAction {
    return sink === true ? { kind: "to-client", frames: [id, ...frames], sink } : { kind: "to-client", frames: [id, ...frames] };
  }

  #drop(reason: string): QueueBrokerAction[] {
    this.#n.dropped++;
    return [{ kind: "event", event: { type: "message:dropped", reason } }];
  }
}
