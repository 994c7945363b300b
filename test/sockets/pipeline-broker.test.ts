// PipelineBroker over real sockets: raw zeromq DEALER peers written from docs/protocol.md speak TZPC01 (sources,
// sinks) and MDP 0.1 (workers) to it; among them a strict RFC 7 worker that never sends a capacity frame and
// reads only the first frame of a REQUEST body.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { afterEach, describe, expect, test } from "vitest";
import { Broker, PipelineBroker, PipelineStreamer, type PipelineBrokerEvent } from "../../src/index.js";
import {
  encodeFetch,
  encodePush,
  encodeQueueHeartbeat,
  encodeTaken,
  encodeTaskBatchReply,
  OutcomeStatus,
  parseQueueBrokerMessage,
  parseTask,
  type QueueBrokerMessage,
} from "../../src/protocol/queue.js";
import { encodeHeartbeat, encodeReady, encodeWorkerReply, parseWorkerCommand } from "../../src/protocol/mdp.js";
import { openQueueStore } from "../../src/internal/queue-store.js";
import { endpointFor } from "../helpers/endpoints.js";
import { readUntilClosed } from "../helpers/read-until-closed.js";

const Q = "jobs.v1";
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Resolves when `ready()` holds, checking on every message the peers read; rejects after `ms`. */
async function until(ready: () => boolean, what: string, ms = 4_000): Promise<void> {
  const start = Date.now();
  while (!ready()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A raw DEALER peer on the frontend: a source and/or a sink. */
class QueuePeer {
  readonly socket = new zmq.Dealer({ linger: 0 });
  readonly inbox: QueueBrokerMessage[] = [];
  readonly accepted = new Set<string>();
  readonly rejected: { id: string; code: string }[] = [];
  /** Outcomes received, by task id, in arrival order (repeats kept). */
  readonly results: { id: string; status: number; body: string }[] = [];
  autoTake = true;
  #beat: NodeJS.Timeout | undefined;

  constructor(endpoint: string) {
    this.socket.connect(endpoint);
    closers.push(() => this.close());
    void this.#read();
  }

  async #read(): Promise<void> {
    await readUntilClosed(this.socket, (frames) => {
      const message = parseQueueBrokerMessage(frames);
      this.inbox.push(message);
      if (message.kind === "accepted") for (const id of message.ids) this.accepted.add(id);
      if (message.kind === "rejected") for (const id of message.ids) this.rejected.push({ id, code: message.code });
      if (message.kind === "results") {
        message.ids.forEach((id, i) =>
          this.results.push({ id, status: message.outcomes[i]!.status, body: message.outcomes[i]!.body.toString() }),
        );
        if (this.autoTake) void this.socket.send(encodeTaken(message.queue, message.ids)).catch(() => undefined);
      }
    });
  }

  push(ids: string[]): Promise<void> {
    return this.socket.send(
      encodePush(
        Q,
        ids,
        ids.map((id) => Buffer.from(JSON.stringify({ n: id }))),
      ),
    );
  }

  /** Registers as a sink and keeps heartbeating. */
  async fetch(window: number, heartbeatMs = 100): Promise<void> {
    await this.socket.send(encodeFetch(Q, window));
    this.#beat = setInterval(() => void this.socket.send(encodeQueueHeartbeat()).catch(() => undefined), heartbeatMs);
  }

  /** Stops heartbeating and reading (a frozen or dead sink). */
  mute(): void {
    clearInterval(this.#beat);
    this.autoTake = false;
  }

  close(): void {
    clearInterval(this.#beat);
    if (!this.socket.closed) this.socket.close();
  }
}

/** A raw MDP worker on the backend. `batch` announces capacity + "batch"; without capacity it is strict RFC 7. */
class WorkerPeer {
  readonly socket: zmq.Dealer;
  readonly seen: string[] = [];
  readonly commands: string[] = [];
  #beat: NodeJS.Timeout | undefined;
  /** Answer requests (false: hold them, as a stopped worker would). */
  answering = true;
  readonly held: { client: Buffer; body: Buffer[] }[] = [];

  readonly options: { name: string; capacity?: number; batch?: boolean; heartbeatMs?: number };
  readonly answer: (body: Buffer) => Buffer;

  constructor(
    options: { name: string; capacity?: number; batch?: boolean; heartbeatMs?: number },
    answer: (body: Buffer) => Buffer = (body) => Buffer.from(`done:${body.toString()}`),
  ) {
    this.options = options;
    this.answer = answer;
    this.socket = new zmq.Dealer({ linger: 0, routingId: options.name });
    closers.push(() => this.close());
  }

  async start(endpoint: string): Promise<this> {
    this.socket.connect(endpoint);
    await this.socket.send(encodeReady(Q, this.options.capacity, this.options.batch === true));
    this.#beat = setInterval(
      () => void this.socket.send(encodeHeartbeat()).catch(() => undefined),
      this.options.heartbeatMs ?? 100,
    );
    void this.#read();
    return this;
  }

  async #read(): Promise<void> {
    await readUntilClosed(this.socket, (frames) => {
      const command = parseWorkerCommand(frames, this.options.capacity === undefined);
      this.commands.push(command.kind);
      if (command.kind !== "request") return;
      if (!this.answering) {
        this.held.push(command);
        return;
      }
      this.#serve(command);
    });
  }

  /** Answers the requests held while not answering (a stopped worker that continues). */
  release(): void {
    this.answering = true;
    for (const command of this.held.splice(0)) this.#serve(command);
  }

  #serve(command: { client: Buffer; body: Buffer[] }): void {
    if (this.options.batch === true) {
      const parsed = parseTask(command.body);
      if (parsed.kind !== "batch") throw new Error(`expected a batch, got ${parsed.kind}`);
      this.seen.push(...parsed.tasks.map((t) => t.id));
      const reply = encodeTaskBatchReply(
        parsed.tasks.map((t) => t.id),
        parsed.tasks.map((t) => ({ status: OutcomeStatus.OK, body: this.answer(t.body) })),
      );
      void this.socket.send(encodeWorkerReply(command.client, reply)).catch(() => undefined);
    } else {
      // Strict RFC 7: the first body frame is the request; the answer is one frame.
      this.seen.push(command.body[0]!.toString());
      void this.socket.send(encodeWorkerReply(command.client, [this.answer(command.body[0]!)])).catch(() => undefined);
    }
  }

  /** Dies without a word: no DISCONNECT, no more heartbeats. */
  kill(): void {
    this.close();
  }

  close(): void {
    clearInterval(this.#beat);
    if (!this.socket.closed) this.socket.close();
  }
}

async function broker(transport: "tcp" | "ipc", events: PipelineBrokerEvent[] = []): Promise<PipelineBroker> {
  const b = await PipelineBroker.bind(
    { frontend: endpointFor(transport), backend: endpointFor(transport) },
    { heartbeatMs: 100, liveness: 3, leaseMs: 2_000, onEvent: (e) => events.push(e) },
  );
  closers.push(() => b.close());
  return b;
}

const range = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe.each(["tcp", "ipc"] as const)("PipelineBroker over %s", (transport) => {
  test("tasks from a source reach a strict RFC 7 worker and a batch worker, and every outcome reaches the sink once", async () => {
    const b = await broker(transport);
    const source = new QueuePeer(b.frontend);
    const ids = range(200, "a");
    for (let i = 0; i < ids.length; i += 50) await source.push(ids.slice(i, i + 50));
    await until(() => source.accepted.size === 200, "200 ACCEPTED");
    expect(b.stats).toMatchObject({ accepted: 200, queued: 200 });

    const rfc7 = await new WorkerPeer({ name: "rfc7" }).start(b.backend);
    const batcher = await new WorkerPeer({ name: "batcher", capacity: 16, batch: true }).start(b.backend);
    await b.waitForWorkers(2, { queue: Q });
    const sink = new QueuePeer(b.frontend);
    await sink.fetch(50);
    await until(() => b.stats.taken === 200, "200 taken");

    expect(new Set(sink.results.map((r) => r.id))).toEqual(new Set(ids));
    expect(sink.results).toHaveLength(200);
    expect(sink.results.find((r) => r.id === "a7")).toMatchObject({ status: 0, body: 'done:{"n":"a7"}' });
    expect(rfc7.seen.length).toBeGreaterThan(0);
    expect(batcher.seen.length).toBeGreaterThan(rfc7.seen.length);
    expect(rfc7.seen.length + batcher.seen.length).toBe(200);
    expect(b.stats).toMatchObject({ completed: 200, dispatched: 200, results: 0, inFlight: 0, queued: 0 });
  });

  test("a repeated PUSH of the same ids is accepted again without a second copy", async () => {
    const b = await broker(transport);
    const source = new QueuePeer(b.frontend);
    await source.push(["x", "y"]);
    await until(() => source.accepted.size === 2, "ACCEPTED");
    await source.push(["x", "y", "z"]);
    await until(() => source.inbox.filter((m) => m.kind === "accepted").length === 2, "the second ACCEPTED");
    expect(source.inbox.at(-1)).toMatchObject({ kind: "accepted", ids: ["x", "y", "z"] });
    expect(b.stats).toMatchObject({ accepted: 3, duplicates: 2, queued: 3 });
  });

  test("a worker that dies holding tasks is evicted and its tasks complete at another worker", async () => {
    const events: PipelineBrokerEvent[] = [];
    const b = await broker(transport, events);
    const stuck = await new WorkerPeer({ name: "stuck", capacity: 5, batch: true }).start(b.backend);
    stuck.answering = false;
    await b.waitForWorkers(1);
    const source = new QueuePeer(b.frontend);
    await source.push(range(5, "k"));
    await until(() => stuck.commands.includes("request"), "the stuck worker's REQUEST");
    stuck.kill();
    const healthy = await new WorkerPeer({ name: "healthy", capacity: 5, batch: true }).start(b.backend);
    const sink = new QueuePeer(b.frontend);
    await sink.fetch(10);
    await until(() => b.stats.taken === 5, "5 taken");
    expect(healthy.seen.sort()).toEqual(range(5, "k").sort());
    // Evicted for silence, or found gone first when a heartbeat to it could not be routed.
    const lost = events.find((e) => (e.type === "worker:evicted" || e.type === "worker:gone") && e.worker === "stuck");
    expect(lost).toMatchObject({ returned: 5 });
    expect(b.stats).toMatchObject({ redelivered: 5, completed: 5 });
  });

  test("a worker that holds tasks past its lease (but heartbeats) sees them completed elsewhere; its late outcomes are counted", async () => {
    const events: PipelineBrokerEvent[] = [];
    const b = await PipelineBroker.bind(
      { frontend: endpointFor(transport), backend: endpointFor(transport) },
      { heartbeatMs: 100, leaseMs: 300, onEvent: (e) => events.push(e) },
    );
    closers.push(() => b.close());
    const slow = await new WorkerPeer({ name: "slow", capacity: 3, batch: true }).start(b.backend);
    slow.answering = false;
    await b.waitForWorkers(1);
    const source = new QueuePeer(b.frontend);
    await source.push(range(3, "l"));
    await until(() => slow.held.length === 1, "the slow worker's batch");
    const fast = await new WorkerPeer({ name: "fast", capacity: 3, batch: true }).start(b.backend);
    const sink = new QueuePeer(b.frontend);
    await sink.fetch(10);
    await until(() => b.stats.taken === 3, "3 taken");
    expect(fast.seen.sort()).toEqual(range(3, "l"));
    slow.release();
    await until(() => b.stats.late === 3, "3 late outcomes");
    expect(sink.results).toHaveLength(3);
    expect(events.filter((e) => e.type === "task:late")).toHaveLength(3);
    expect(events.filter((e) => e.type === "task:redelivered")).toHaveLength(3);
  });

  test("a sink that goes silent loses its outcomes to the next sink", async () => {
    const events: PipelineBrokerEvent[] = [];
    const b = await broker(transport, events);
    await new WorkerPeer({ name: "w", capacity: 10, batch: true }).start(b.backend);
    const first = new QueuePeer(b.frontend);
    first.autoTake = false;
    await first.fetch(10);
    const source = new QueuePeer(b.frontend);
    await source.push(range(4, "s"));
    await until(() => first.results.length === 4, "4 outcomes at the first sink");
    first.mute();
    await until(() => events.some((e) => e.type === "sink:lost"), "sink:lost");
    const second = new QueuePeer(b.frontend);
    await second.fetch(10);
    await until(() => b.stats.taken === 4, "4 taken by the second sink");
    expect(second.results.map((r) => r.id).sort()).toEqual(range(4, "s"));
    expect(events).toContainEqual(expect.objectContaining({ type: "sink:lost", returned: 4 }));
  });

  test("close() sends DISCONNECT to workers and sinks", async () => {
    const b = await PipelineBroker.bind({ frontend: endpointFor(transport), backend: endpointFor(transport) });
    const worker = await new WorkerPeer({ name: "w", capacity: 1 }).start(b.backend);
    const sink = new QueuePeer(b.frontend);
    await sink.fetch(1);
    await b.waitForWorkers(1);
    await b.waitForSinks(1);
    await b.close();
    await until(() => worker.commands.includes("disconnect"), "the worker's DISCONNECT");
    await until(() => sink.inbox.some((m) => m.kind === "disconnect"), "the sink's DISCONNECT");
    expect(b.closed).toBe(true);
  });
});

describe("Broker.pipeline", () => {
  test("returns a PipelineBroker for mode reliable (two arguments or one object) and a PipelineStreamer otherwise", async () => {
    const two = await Broker.pipeline(
      { frontend: endpointFor("tcp"), backend: endpointFor("tcp") },
      { mode: "reliable", maxTasks: 10 },
    );
    closers.push(() => two.close());
    const one = await Broker.pipeline({ frontend: endpointFor("tcp"), backend: endpointFor("tcp"), mode: "reliable" });
    closers.push(() => one.close());
    const plain = await Broker.pipeline({ frontend: endpointFor("tcp"), backend: endpointFor("tcp") });
    closers.push(() => plain.close());
    expect(two).toBeInstanceOf(PipelineBroker);
    expect(one).toBeInstanceOf(PipelineBroker);
    expect(plain).toBeInstanceOf(PipelineStreamer);
    expect(two.storePath).toBeUndefined();
  });

  test("bad options are refused before any socket exists", async () => {
    await expect(
      PipelineBroker.bind({ frontend: endpointFor("tcp"), backend: endpointFor("tcp") }, { leaseMs: 0 }),
    ).rejects.toThrow(/leaseMs/);
  });
});

/** The SQLite store is there (the store branch merged and better-sqlite3 installed): the durable tests run. */
function storeAvailable(): boolean {
  const path = join(tmpdir(), `tzmq-probe-${randomUUID()}.db`);
  try {
    openQueueStore(path).close();
    return true;
  } catch {
    return false;
  } finally {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  }
}

describe.skipIf(!storeAvailable())("PipelineBroker with a store", () => {
  const files: string[] = [];
  afterEach(() => {
    for (const file of files.splice(0)) for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
  });
  const storeFile = (): string => {
    const file = join(tmpdir(), `tzmq-queue-${randomUUID()}.db`);
    files.push(file);
    return file;
  };

  test("tasks accepted by one broker are completed through the next one on the same store", async () => {
    const store = storeFile();
    const ends = () => ({ frontend: endpointFor("tcp"), backend: endpointFor("tcp") });
    const first = await PipelineBroker.bind(ends(), { store, heartbeatMs: 100 });
    expect(first.storePath).toBe(store);
    const source = new QueuePeer(first.frontend);
    await source.push(range(50, "d"));
    await until(() => source.accepted.size === 50, "50 ACCEPTED");
    await first.close();

    const second = await PipelineBroker.bind(ends(), { store, heartbeatMs: 100 });
    closers.push(() => second.close());
    expect(second.stats).toMatchObject({ queued: 50, accepted: 0 });
    await new WorkerPeer({ name: "w", capacity: 10, batch: true }).start(second.backend);
    const sink = new QueuePeer(second.frontend);
    await sink.fetch(100);
    await until(() => second.stats.taken === 50, "50 taken");
    expect(new Set(sink.results.map((r) => r.id))).toEqual(new Set(range(50, "d")));
  });

  test("a full store REJECTs new tasks STORE_FULL, counts the failed commits, and keeps only what it acknowledged", async () => {
    const store = storeFile();
    const events: PipelineBrokerEvent[] = [];
    const ends = () => ({ frontend: endpointFor("tcp"), backend: endpointFor("tcp") });
    const b = await PipelineBroker.bind(ends(), { store, maxStoreBytes: 65_536, onEvent: (e) => events.push(e) });
    const source = new QueuePeer(b.frontend);
    const big = (ids: string[]) =>
      source.socket.send(
        encodePush(
          Q,
          ids,
          ids.map(() => Buffer.alloc(4_000, 120)),
        ),
      );
    for (let i = 0; i < 40; i++) await big([`f${i}`]);
    await until(() => source.accepted.size + source.rejected.length === 40, "an answer for every task");
    expect(source.rejected.length).toBeGreaterThan(0);
    expect(new Set(source.rejected.map((r) => r.code))).toEqual(new Set(["STORE_FULL"]));
    expect(b.stats.storeErrors).toBeGreaterThan(0);
    expect(events.some((e) => e.type === "store:error" && e.code === "STORE_FULL")).toBe(true);
    const acknowledged = source.accepted.size;
    await b.close();
    const again = await PipelineBroker.bind(ends(), { store });
    closers.push(() => again.close());
    expect(again.stats.queued).toBe(acknowledged);
  });
});
