// The reliable pipeline broker's pure core: no sockets, no timers, no clock. Each input returns the actions to take;
// a "turn" here is what the shell does at the end of one: take the staged writes, commit (or fail), flush. The
// actions are read back with the protocol's own parsers, so the tests see what a source, sink or worker would.
import { describe, expect, test } from "vitest";
import {
  MAX_QUEUES,
  QueueBroker,
  Deque,
  type QueueBrokerAction,
  type QueueBrokerConfig,
} from "../../src/internal/queue-broker.js";
import type { StoreBatch } from "../../src/internal/queue-store.js";
import {
  encodeFetch,
  encodePush,
  encodeQueueDisconnect,
  encodeQueueHeartbeat,
  encodeTaken,
  encodeTaskBatchReply,
  encodeTaskReply,
  OutcomeStatus,
  parseQueueBrokerMessage,
  parseTask,
  type DispatchedTask,
} from "../../src/protocol/queue.js";
import { encodeDisconnect, encodeHeartbeat, encodeReady, encodeWorkerReply, parseWorkerCommand } from "../../src/protocol/mdp.js";
import type { PipelineBrokerEvent } from "../../src/pipeline-broker.js";

const CONFIG: QueueBrokerConfig = {
  leaseMs: 10_000,
  maxDeliveries: 3,
  heartbeatMs: 1000,
  liveness: 3,
  maxTasks: 100,
  maxBatch: 4,
  durable: true,
};
const Q = "jobs.v1";
const b = (s: string): Buffer => Buffer.from(s);

/** What a worker got in one REQUEST: its token frame and tasks. */
interface Request {
  readonly worker: string;
  readonly token: Buffer;
  readonly tasks: DispatchedTask[];
  readonly batch: boolean;
}

/** A broker and everything it sent, sorted by kind. */
class Harness {
  readonly core: QueueBroker;
  readonly requests: Request[] = [];
  readonly toWorkers: { worker: string; kind: string }[] = [];
  readonly toClients: { peer: string; message: ReturnType<typeof parseQueueBrokerMessage> }[] = [];
  readonly events: PipelineBrokerEvent[] = [];
  readonly commits: StoreBatch[] = [];
  now = 1_000;

  constructor(config: Partial<QueueBrokerConfig> = {}, loaded?: ConstructorParameters<typeof QueueBroker>[2]) {
    this.core = new QueueBroker({ ...CONFIG, ...config }, 7, loaded);
  }

  take(actions: readonly QueueBrokerAction[]): this {
    for (const action of actions) {
      if (action.kind === "event") this.events.push(action.event);
      else if (action.kind === "to-client") {
        const [peer, ...rest] = action.frames.map((f) => Buffer.from(f));
        this.toClients.push({ peer: peer!.toString(), message: parseQueueBrokerMessage(rest) });
      } else {
        const [worker, ...rest] = action.frames.map((f) => Buffer.from(f));
        const command = parseWorkerCommand(rest);
        this.toWorkers.push({ worker: worker!.toString(), kind: command.kind });
        if (command.kind === "request") {
          const parsed = parseTask(command.body);
          if (parsed.kind === "malformed") throw new Error(parsed.reason);
          const tasks = parsed.kind === "task" ? [parsed.task] : parsed.tasks;
          this.requests.push({ worker: worker!.toString(), token: command.client, tasks, batch: parsed.kind === "batch" });
        }
      }
    }
    return this;
  }

  /** End of turn: commit (or fail with `code`), then flush. */
  turn(fail?: string): this {
    const batch = this.core.takeBatch();
    this.commits.push(batch);
    this.take(fail === undefined ? this.core.committed() : this.core.commitFailed(fail, "the disk is full"));
    return this.take(this.core.flush(this.now));
  }

  push(source: string, ids: string[], queue = Q): this {
    return this.take(
      this.core.fromClient(
        [
          b(source),
          ...encodePush(
            queue,
            ids,
            ids.map((id) => b(`body-${id}`)),
          ),
        ],
        this.now,
      ),
    );
  }

  ready(worker: string, capacity?: number, batch = false): this {
    return this.take(this.core.fromWorker([b(worker), ...encodeReady(Q, capacity, batch)], this.now));
  }

  reply(request: Request, outcomes: Array<{ id: string; status: 0 | 1 | 2; body?: string }>): this {
    const worker = request.worker;
    const body = request.batch
      ? encodeTaskBatchReply(
          outcomes.map((o) => o.id),
          outcomes.map((o) => ({ status: o.status, body: b(o.body ?? `result-${o.id}`) })),
        )
      : encodeTaskReply({ status: outcomes[0]!.status, body: b(outcomes[0]!.body ?? `result-${outcomes[0]!.id}`) });
    return this.take(this.core.fromWorker([b(worker), ...(encodeWorkerReply(request.token, body) as Buffer[])], this.now));
  }

  fetch(sink: string, window: number): this {
    return this.take(this.core.fromClient([b(sink), ...encodeFetch(Q, window)], this.now));
  }

  taken(sink: string, ids: string[]): this {
    return this.take(this.core.fromClient([b(sink), ...encodeTaken(Q, ids)], this.now));
  }

  tick(ms: number): this {
    this.now += ms;
    return this.take(this.core.tick(this.now));
  }

  accepted(peer?: string): string[] {
    return this.toClients.flatMap((c) =>
      c.message.kind === "accepted" && (peer === undefined || c.peer === peer) ? c.message.ids : [],
    );
  }

  rejected(): { ids: string[]; code: string }[] {
    return this.toClients.flatMap((c) => (c.message.kind === "rejected" ? [{ ids: c.message.ids, code: c.message.code }] : []));
  }

  /** Outcomes sent to sinks: `peer:id:status`. */
  results(): string[] {
    return this.toClients.flatMap((c) =>
      c.message.kind === "results"
        ? c.message.ids.map((id, i) => `${c.peer}:${id}:${(c.message as { outcomes: { status: number }[] }).outcomes[i]!.status}`)
        : [],
    );
  }

  dispatchedIds(worker?: string): string[] {
    return this.requests.filter((r) => worker === undefined || r.worker === worker).flatMap((r) => r.tasks.map((t) => t.id));
  }
}

const ids = (n: number, prefix = "t"): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe("Deque", () => {
  test("pushes and pops at both ends across growth, in order", () => {
    const d = new Deque<number>();
    for (let i = 0; i < 40; i++) d.push(i);
    d.unshift(-1);
    expect(d.shift()).toBe(-1);
    const out: number[] = [];
    while (d.size > 0) out.push(d.shift()!);
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(d.shift()).toBeUndefined();
  });
});

describe("QueueBroker: sources", () => {
  test("ACCEPTED only after the commit, in one message per source, with the new tasks staged as added", () => {
    const h = new Harness().push("s1", ["a", "b"]).push("s1", ["c"]);
    expect(h.accepted()).toEqual([]);
    h.turn();
    expect(h.accepted("s1")).toEqual(["a", "b", "c"]);
    expect(h.toClients.filter((c) => c.message.kind === "accepted")).toHaveLength(1);
    expect(h.commits[0]!.added.map((t) => [t.id, t.deliveries, t.body.toString()])).toEqual([
      ["a", 0, "body-a"],
      ["b", 0, "body-b"],
      ["c", 0, "body-c"],
    ]);
    expect(h.core.stats).toMatchObject({ accepted: 3, queued: 3 });
  });

  test("a PUSH of an id already held (queued, in flight, with its outcome, or completed) is accepted again, not stored twice", () => {
    const h = new Harness().push("s1", ["a", "b", "c"]).turn().ready("w", 1).turn();
    h.reply(h.requests[0]!, [{ id: "a", status: 0 }]).turn(); // a: outcome held
    const before = h.commits.length;
    h.push("s2", ["a", "b", "c"]).turn();
    expect(h.accepted("s2")).toEqual(["a", "b", "c"]);
    expect(h.commits[before]!.added).toEqual([]);
    expect(h.core.stats).toMatchObject({ accepted: 3, duplicates: 3 });
  });

  test("a taken id is remembered: its PUSH again is a duplicate until the last recentIds taken no longer include it", () => {
    const h = new Harness({ recentIds: 3 }).ready("w", 10, true).fetch("k", 100);
    const run = (batch: string[]): void => {
      h.push("s1", batch).turn();
      const request = h.requests.at(-1)!;
      h.reply(
        request,
        request.tasks.map((t) => ({ id: t.id, status: 0 as const })),
      ).turn();
      h.taken("k", batch).turn();
    };
    run(["a"]);
    h.push("s2", ["a"]).turn();
    expect(h.accepted("s2")).toEqual(["a"]);
    expect(h.core.stats).toMatchObject({ duplicates: 1, dispatched: 1, taken: 1 });
    run(["b", "c"]); // the ring holds a, b, c
    h.push("s2", ["a"]).turn();
    expect(h.core.stats).toMatchObject({ duplicates: 2, dispatched: 3 });
    run(["d"]); // a leaves the ring: it is forgotten
    h.push("s3", ["a"]).turn();
    expect(h.accepted("s3")).toEqual(["a"]);
    expect(h.core.stats).toMatchObject({ duplicates: 2, dispatched: 5 });
    expect(h.dispatchedIds().filter((id) => id === "a")).toHaveLength(2);
  });

  test("PUSH beyond maxTasks is REJECTED QUEUE_FULL, per id, and the rest accepted", () => {
    const h = new Harness({ maxTasks: 3 }).push("s1", ["a", "b", "c", "d", "e"]).turn();
    expect(h.accepted()).toEqual(["a", "b", "c"]);
    expect(h.rejected()).toEqual([{ ids: ["d", "e"], code: "QUEUE_FULL" }]);
    expect(h.events).toContainEqual(expect.objectContaining({ type: "task:rejected", code: "QUEUE_FULL", count: 2 }));
    expect(h.core.stats.rejected).toBe(2);
  });

  test("a failed commit REJECTs the new tasks with its code, forgets them, and keeps the other writes staged", () => {
    const h = new Harness().push("s1", ["a"]).turn().ready("w", 1).turn(); // a dispatched: a delivered write staged
    h.push("s1", ["b", "c", "a"]).turn("STORE_FULL");
    expect(h.rejected()).toEqual([{ ids: ["b", "c"], code: "STORE_FULL" }]);
    expect(h.accepted()).toEqual(["a", "a"]); // the repeated a was stored before
    expect(h.events).toContainEqual(expect.objectContaining({ type: "store:error", code: "STORE_FULL", rejected: 2 }));
    expect(h.core.stats).toMatchObject({ storeErrors: 1, rejected: 2, queued: 0, inFlight: 1 });
    // The delivery write of a comes again in the next commit; b and c are unknown now, so pushing them is new.
    h.push("s1", ["b"]).turn();
    const next = h.commits.at(-1)!;
    expect(next.delivered).toEqual([{ queue: Q, id: "a", deliveries: 1 }]);
    expect(next.added.map((t) => t.id)).toEqual(["b"]);
  });

  test("a full store: outcomes that cannot be stored go to sinks anyway, and their TAKEN is staged (it deletes the task)", () => {
    const h = new Harness().push("s1", ["a", "b"]).turn().ready("w", 2).fetch("k", 10).turn();
    for (const request of h.requests)
      h.reply(
        request,
        request.tasks.map((t) => ({ id: t.id, status: 0 as const })),
      );
    // The commit holding the two completions fails: nothing reaches the sink yet.
    h.turn("STORE_FULL");
    expect(h.results()).toEqual([]);
    expect(h.core.releaseUnstored()).toBe(2);
    expect(h.core.releaseUnstored()).toBe(0);
    h.turn();
    expect(h.commits.at(-1)!.completed).toEqual([]); // not tried again: they were released unstored
    expect(h.results().sort()).toEqual(["k:a:0", "k:b:0"]);
    h.taken("k", ["a", "b"]).turn();
    expect(h.commits.at(-1)!.taken).toEqual([
      { queue: Q, id: "a" },
      { queue: Q, id: "b" },
    ]);
    expect(h.core.stats).toMatchObject({ unstored: 2, taken: 2, results: 0 });
  });

  test("a TAKEN from another sink of the queue takes the outcome (a sink that reconnected acknowledges what its old connection got)", () => {
    const h = new Harness().push("s1", ["a"]).turn().ready("w", 1).fetch("old", 10).turn();
    h.reply(h.requests[0]!, [{ id: "a", status: 0 }]).turn();
    expect(h.results()).toEqual(["old:a:0"]);
    h.fetch("new", 10).taken("new", ["a"]).turn();
    expect(h.core.stats).toMatchObject({ taken: 1, results: 0 });
    expect(h.commits.at(-1)!.taken).toEqual([{ queue: Q, id: "a" }]);
  });

  test(`a broker opens at most ${MAX_QUEUES} queues: a PUSH naming one more is REJECTED QUEUE_FULL, a READY gets DISCONNECT`, () => {
    const h = new Harness({ maxTasks: 2 * MAX_QUEUES });
    for (let i = 0; i < MAX_QUEUES; i++) h.push("s1", [`t${i}`], `q${i}`);
    h.turn();
    expect(h.accepted()).toHaveLength(MAX_QUEUES);
    h.push("s1", ["x"], "one-too-many").turn();
    expect(h.rejected()).toEqual([{ ids: ["x"], code: "QUEUE_FULL" }]);
    expect(h.toClients.at(-1)?.message).toMatchObject({
      message: expect.stringContaining(`already serves ${MAX_QUEUES} queues`),
    });
    h.take(h.core.fromWorker([b("w"), ...encodeReady("one-too-many", 1)], h.now));
    expect(h.toWorkers.at(-1)).toEqual({ worker: "w", kind: "disconnect" });
    // Known queues still work.
    h.push("s1", ["y"], "q1").turn();
    expect(h.accepted().at(-1)).toBe("y");
  });

  test("a malformed frontend message is dropped and counted", () => {
    const h = new Harness();
    h.take(h.core.fromClient([b("s1"), b(""), b("TZPC01"), b("\x09")], h.now));
    expect(h.core.stats.dropped).toBe(1);
    expect(h.toClients).toEqual([]);
  });
});

describe("QueueBroker: workers", () => {
  test("credit: a plain worker gets one task per REQUEST and never more than its capacity", () => {
    const h = new Harness().push("s1", ids(5)).turn().ready("plain", 2).turn();
    expect(h.requests.map((r) => [r.batch, r.tasks.length])).toEqual([
      [false, 1],
      [false, 1],
    ]);
    expect(h.requests[0]!.tasks[0]).toMatchObject({ id: "t1", delivery: 1 });
    h.reply(h.requests[0]!, [{ id: "t1", status: 0 }]).turn();
    expect(h.dispatchedIds()).toEqual(["t1", "t2", "t3"]);
    expect(h.core.stats).toMatchObject({ queued: 2, inFlight: 2, completed: 1 });
  });

  test("a worker with no capacity frame (strict RFC 7) takes one task at a time", () => {
    const h = new Harness().push("s1", ids(3)).turn().ready("rfc7").turn();
    expect(h.dispatchedIds()).toEqual(["t1"]);
  });

  test("a batch worker gets several tasks per REQUEST, up to its credit and maxBatch", () => {
    const h = new Harness().push("s1", ids(10)).turn().ready("batcher", 6, true).turn();
    expect(h.requests.map((r) => [r.batch, r.tasks.map((t) => t.id)])).toEqual([
      [true, ["t1", "t2", "t3", "t4"]],
      [true, ["t5", "t6"]],
    ]);
    h.reply(h.requests[0]!, [
      { id: "t2", status: 0 },
      { id: "t1", status: 1 },
    ]).turn();
    expect(h.requests[2]!.tasks.map((t) => t.id)).toEqual(["t7", "t8"]);
    expect(h.core.stats).toMatchObject({ completed: 2, inFlight: 6, queued: 2 });
  });

  test("a batch REPLY in any order, in parts, with a repeat or an id not sent: each slot answered once, the rest late", () => {
    const h = new Harness().push("s1", ids(4)).turn().ready("batcher", 4, true).turn().fetch("k", 10);
    const request = h.requests[0]!;
    h.reply(request, [
      { id: "t4", status: 0 },
      { id: "t2", status: 0 },
      { id: "t4", status: 0 }, // a repeat in the same REPLY
      { id: "nope", status: 0 }, // never sent in this dispatch
    ]).turn();
    expect(h.core.stats).toMatchObject({ completed: 2, late: 2, inFlight: 2 });
    h.reply(request, [
      { id: "t1", status: 0 },
      { id: "t3", status: 1 },
    ]).turn();
    expect(h.core.stats).toMatchObject({ completed: 4, late: 2, inFlight: 0 });
    expect(h.results().sort()).toEqual(["k:t1:0", "k:t2:0", "k:t3:1", "k:t4:0"]);
    // The dispatch is closed: the same REPLY again is late as a whole, and the worker's credit is whole again.
    h.reply(request, [{ id: "t1", status: 0 }]).turn();
    expect(h.core.stats).toMatchObject({ completed: 4, late: 3 });
    h.push("s1", ["t5", "t6", "t7", "t8"]).turn();
    expect(h.requests.at(-1)!.tasks.map((t) => t.id)).toEqual(["t5", "t6", "t7", "t8"]);
  });

  test('a worker that leaves (HEARTBEAT + "leaving") gets its echo and no new task; what it holds still completes', () => {
    const h = new Harness().push("s1", ids(6)).turn().ready("w1", 2, true).turn();
    expect(h.dispatchedIds("w1")).toEqual(["t1", "t2"]);
    const echo = h.core.fromWorker([b("w1"), ...encodeHeartbeat(true)], h.now);
    h.take(echo);
    const answers = echo.flatMap((a) =>
      a.kind === "to-worker" ? [parseWorkerCommand(a.frames.slice(1).map((f) => Buffer.from(f)))] : [],
    );
    expect(answers).toEqual([{ kind: "heartbeat", leaving: true }]);
    h.reply(h.requests[0]!, [
      { id: "t1", status: 0 },
      { id: "t2", status: 0 },
    ]).turn();
    expect(h.dispatchedIds("w1")).toEqual(["t1", "t2"]); // its credit came back, and nothing new was sent
    h.ready("w2", 8, true).turn();
    expect(h.dispatchedIds("w2")).toEqual(["t3", "t4", "t5", "t6"]);
    expect(h.core.stats).toMatchObject({ completed: 2, redelivered: 0 });
  });

  test("tasks are shared between workers with credit", () => {
    const h = new Harness().push("s1", ids(4)).turn().ready("w1", 4, true).ready("w2", 4, true).turn();
    expect(h.dispatchedIds("w1")).toHaveLength(2);
    expect(h.dispatchedIds("w2")).toHaveLength(2);
  });

  test("an evicted worker's tasks go back to the head of the queue, in order, with their delivery counted", () => {
    const h = new Harness().push("s1", ids(4)).turn().ready("w1", 2, true).turn();
    expect(h.dispatchedIds("w1")).toEqual(["t1", "t2"]);
    h.tick(3000); // silent for heartbeatMs × liveness
    expect(h.events).toContainEqual(expect.objectContaining({ type: "worker:evicted", worker: "w1", returned: 2 }));
    expect(h.toWorkers.at(-1)).toEqual({ worker: "w1", kind: "disconnect" });
    h.ready("w2", 4, true).turn();
    expect(h.requests.at(-1)!.tasks.map((t) => [t.id, t.delivery])).toEqual([
      ["t1", 2],
      ["t2", 2],
      ["t3", 1],
      ["t4", 1],
    ]);
    expect(h.core.stats).toMatchObject({ redelivered: 2, evicted: 1 });
  });

  test("a worker that keeps heartbeating is not evicted, and gets heartbeats", () => {
    const h = new Harness().ready("w1", 1);
    for (let i = 0; i < 5; i++) {
      h.tick(900);
      h.take(h.core.fromWorker([b("w1"), ...encodeHeartbeat()], h.now));
    }
    expect(h.core.workers()).toBe(1);
    expect(h.toWorkers.filter((w) => w.kind === "heartbeat").length).toBeGreaterThan(0);
  });

  test("a DISCONNECT from a worker sends its tasks elsewhere", () => {
    const h = new Harness().push("s1", ["a"]).turn().ready("w1", 1).turn();
    h.take(h.core.fromWorker([b("w1"), ...encodeDisconnect()], h.now));
    h.ready("w2", 1).turn();
    expect(h.dispatchedIds("w2")).toEqual(["a"]);
  });

  test("a passed lease sends the task again; the first outcome wins, the other is late", () => {
    const h = new Harness().push("s1", ["a"]).turn().ready("w1", 1).ready("w2", 1).turn();
    const first = h.requests[0]!;
    h.take(h.core.fromWorker([b("w1"), ...encodeHeartbeat()], h.now + 500));
    h.now += 500;
    // Both keep heartbeating past the lease.
    for (let t = 0; t < 11; t++) {
      h.take(h.core.fromWorker([b(first.worker), ...encodeHeartbeat()], h.now));
      h.take(h.core.fromWorker([b(first.worker === "w1" ? "w2" : "w1"), ...encodeHeartbeat()], h.now));
      h.tick(1000);
    }
    h.turn();
    expect(h.events).toContainEqual(expect.objectContaining({ type: "task:redelivered", taskId: "a", deliveries: 1 }));
    const second = h.requests[1]!;
    expect(second.worker).not.toBe(first.worker); // the first still holds its slot
    expect(second.tasks[0]).toMatchObject({ id: "a", delivery: 2 });
    h.reply(first, [{ id: "a", status: 0, body: "from the slow one" }]).turn(); // late worker, but first result
    h.reply(second, [{ id: "a", status: 0 }]).turn();
    expect(h.core.stats).toMatchObject({ completed: 1, late: 1, inFlight: 0, results: 1 });
    expect(h.events).toContainEqual(expect.objectContaining({ type: "task:late", taskId: "a", worker: second.worker }));
  });

  test("a failure marked retry delivers the task again; a final failure is an outcome", () => {
    const h = new Harness().push("s1", ["a", "b"]).turn().ready("w1", 2, true).turn();
    h.reply(h.requests[0]!, [
      { id: "a", status: 2, body: "oops" },
      { id: "b", status: 1, body: "bad task" },
    ]).turn();
    expect(h.requests[1]!.tasks.map((t) => [t.id, t.delivery])).toEqual([["a", 2]]);
    expect(h.core.stats).toMatchObject({ redelivered: 1, completed: 1 });
    expect(h.commits.at(-1)!.completed.map((r) => [r.id, r.status])).toEqual([["b", 1]]);
  });

  test("a task that fails its maxDeliveries-th delivery too ends as one POISON_TASK failure", () => {
    const h = new Harness().push("s1", ["p"]).turn().ready("w1", 1).turn();
    for (let i = 0; i < 3; i++) h.reply(h.requests[i]!, [{ id: "p", status: 2 }]).turn();
    expect(h.requests.map((r) => r.tasks[0]!.delivery)).toEqual([1, 2, 3]);
    expect(h.core.stats).toMatchObject({ poisoned: 1, completed: 1, queued: 0, inFlight: 0, redelivered: 2 });
    const poison = h.commits.at(-1)!.completed[0]!;
    expect(poison.status).toBe(OutcomeStatus.BROKER_FAILED);
    expect(JSON.parse(poison.body.toString())).toMatchObject({ code: "POISON_TASK", details: { taskId: "p", deliveries: 3 } });
    h.fetch("sink", 10).turn();
    expect(h.results()).toEqual(["sink:p:3"]);
  });

  test("a REPLY from a worker the broker forgot is answered DISCONNECT and counted late", () => {
    const h = new Harness().push("s1", ["a"]).turn().ready("w1", 1).turn();
    const request = h.requests[0]!;
    h.tick(3000); // evicted
    h.reply(request, [{ id: "a", status: 0 }]);
    expect(h.toWorkers.at(-1)).toEqual({ worker: "w1", kind: "disconnect" });
    expect(h.core.stats.late).toBe(1);
  });
});

describe("QueueBroker: sinks", () => {
  function withResults(n: number): Harness {
    const h = new Harness({ maxBatch: 100 }).push("s1", ids(n)).turn().ready("w", n, true).turn();
    h.reply(
      h.requests[0]!,
      ids(n).map((id) => ({ id, status: 0 as const })),
    ).turn();
    return h;
  }

  test("outcomes go to a sink only after their commit, never more than its window not taken", () => {
    const h = new Harness().push("s1", ids(3)).turn().ready("w", 3, true).fetch("k", 2).turn();
    h.reply(
      h.requests[0]!,
      ids(3).map((id) => ({ id, status: 0 as const })),
    );
    expect(h.results()).toEqual([]); // not committed yet
    h.turn();
    expect(h.results()).toEqual(["k:t1:0", "k:t2:0"]);
    h.taken("k", ["t1"]).turn();
    expect(h.results()).toEqual(["k:t1:0", "k:t2:0", "k:t3:0"]);
    expect(h.commits.at(-1)!.taken).toEqual([{ queue: Q, id: "t1" }]);
    expect(h.core.stats).toMatchObject({ taken: 1, results: 2 });
  });

  test("a lost sink's outcomes not taken go back to the head for the next sink", () => {
    const h = withResults(4).fetch("k1", 10).turn();
    h.taken("k1", ["t2"]);
    h.now += 1000;
    h.fetch("k2", 1); // registers k2 (heard now), k1 stays silent
    h.tick(2500); // k1 silent 3500 ms
    expect(h.events).toContainEqual(expect.objectContaining({ type: "sink:lost", returned: 3 }));
    h.turn();
    expect(h.results().filter((r) => r.startsWith("k2"))).toEqual(["k2:t1:0"]);
    h.taken("k2", ["t1"]).turn();
    expect(h.results().filter((r) => r.startsWith("k2"))).toEqual(["k2:t1:0", "k2:t3:0"]);
  });

  test("a sink that sends FETCH again gets everything not taken again (it starts over)", () => {
    const h = withResults(2).fetch("k", 10).turn().fetch("k", 10).turn();
    expect(h.results()).toEqual(["k:t1:0", "k:t2:0", "k:t1:0", "k:t2:0"]);
  });

  test("TAKEN out of order, and a sink that never takes its first outcome: the others flow, and a FETCH again sends back only what is not taken, once", () => {
    const h = withResults(40).fetch("k", 3).turn();
    const taken = new Set<string>();
    expect(h.results()).toEqual(["k:t1:0", "k:t2:0", "k:t3:0"]);
    // The sink takes everything but t1, newest first within each RESULTS: 39 outcomes pass a window of 3 that t1
    // keeps one slot of, long past the point where the broker's record of what it sent is rebuilt.
    for (let round = 0; round < 60 && h.core.stats.taken < 39; round++) {
      const sent = h.results().map((r) => r.split(":")[1]!);
      const open = sent.filter((id) => id !== "t1" && !taken.has(id)).reverse();
      for (const id of open) taken.add(id);
      h.taken("k", open).turn();
    }
    expect(h.core.stats).toMatchObject({ taken: 39, results: 1 });
    const before = h.results().length;
    h.fetch("k", 3).turn();
    expect(h.results().slice(before)).toEqual(["k:t1:0"]);
  });

  test("a DISCONNECT from a sink puts its outcomes back; TAKEN or HEARTBEAT from an unknown peer gets DISCONNECT", () => {
    const h = withResults(1).fetch("k", 10).turn();
    h.take(h.core.fromClient([b("k"), ...encodeQueueDisconnect()], h.now));
    expect(h.events).toContainEqual(expect.objectContaining({ type: "sink:lost", reason: "disconnected", returned: 1 }));
    h.taken("ghost", ["t1"]);
    h.take(h.core.fromClient([b("ghost2"), ...encodeQueueHeartbeat()], h.now));
    expect(h.toClients.slice(-2).map((c) => [c.peer, c.message.kind])).toEqual([
      ["ghost", "disconnect"],
      ["ghost2", "disconnect"],
    ]);
    expect(h.core.stats).toMatchObject({ taken: 0, results: 1 });
  });

  test("sinks get heartbeats from the broker", () => {
    const h = new Harness().fetch("k", 1);
    h.tick(1000);
    expect(h.toClients.at(-1)).toMatchObject({ peer: "k", message: { kind: "heartbeat" } });
  });
});

describe("QueueBroker: restart", () => {
  test("loaded tasks are queued again with their deliveries, loaded outcomes wait for sinks, seq continues", () => {
    const h = new Harness(
      {},
      {
        tasks: [
          { queue: Q, id: "x", seq: 5, body: b("bx"), deliveries: 2 },
          { queue: Q, id: "y", seq: 7, body: b("by"), deliveries: 0 },
        ],
        results: [{ queue: Q, id: "r", seq: 3, status: 0, body: b("done") }],
      },
    );
    expect(h.core.stats).toMatchObject({ queued: 2, results: 1 });
    h.ready("w", 4, true).fetch("k", 10).turn();
    expect(h.requests[0]!.tasks.map((t) => [t.id, t.delivery, t.body.toString()])).toEqual([
      ["x", 3, "bx"],
      ["y", 1, "by"],
    ]);
    expect(h.results()).toEqual(["k:r:0"]);
    h.push("s", ["z", "x", "r"]).turn();
    expect(h.accepted()).toEqual(["z", "x", "r"]);
    expect(h.commits.at(-1)!.added.map((t) => [t.id, t.seq])).toEqual([["z", 8]]);
  });

  test("memory mode (durable false) stages nothing but still gates ACCEPTED on the turn", () => {
    const h = new Harness({ durable: false }).push("s1", ["a"]);
    expect(h.accepted()).toEqual([]);
    h.turn();
    expect(h.accepted()).toEqual(["a"]);
    expect(h.commits[0]).toEqual({ added: [], delivered: [], completed: [], taken: [] });
  });
});
