import { describe, expect, test } from "vitest";
import * as z from "zod";
import {
  PipelineBroker,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  defineJobs,
  isEndpointInUseError,
  type JobOutcome,
  type PipelineBrokerEvent,
  type PipelineBrokerOptions,
} from "../../src/index.js";
import { endpointFor, type TestTransport } from "../helpers/endpoints.js";
import { missingPython, withPeers } from "./python.js";

// The reliable pipeline (docs/protocol.md, "Reliable pipeline (1.3)") between a typed PipelineBroker, run in this
// process, and foreign peers written in Python from the protocol text alone (./peers/reliable_*.py), each its own
// process: a strict RFC 7 worker, a worker that takes batches, a source and a sink. Heartbeats are short (250 ms,
// liveness 3) so that a killed worker is found within a second. Skipped without pyzmq unless REQUIRE_INTEROP=1.

const skip = missingPython !== undefined && process.env["REQUIRE_INTEROP"] !== "1";
const why = missingPython === undefined ? "" : ` [skipped: ${missingPython}]`;

const HEARTBEAT_MS = 250;
const hb = ["--heartbeat-ms", HEARTBEAT_MS, "--liveness", 3] as const;

const Squares = defineJobs("squares.v1", {
  task: z.object({ n: z.number().int() }),
  result: z.object({ n: z.number().int(), square: z.number().int(), worker: z.string() }),
});
const QUEUE = Squares.name;

/** What reliable_worker.py prints for each task it answers. */
interface WorkerTask {
  readonly taskId: string;
  readonly delivery: number;
  readonly n: number;
  readonly batch: boolean;
}
/** What reliable_sink.py prints at the end. */
interface SinkDone {
  readonly unique: number;
  readonly repeats: number;
  readonly maxHeld: number;
  readonly outcomes: Record<string, [number, unknown]>;
  readonly heartbeats: number;
  readonly fetches: number;
}
/** What reliable_source.py prints at the end. */
interface SourceDone {
  readonly accepted: number;
  readonly rejected: number;
  readonly resent: number;
  readonly answers: number;
  readonly codes: Record<string, number>;
}

/** A broker on `transport` with short heartbeats, and the events it reported. */
async function startBroker(
  transport: TestTransport,
  options: PipelineBrokerOptions = {},
): Promise<{ broker: PipelineBroker; events: PipelineBrokerEvent[] }> {
  const events: PipelineBrokerEvent[] = [];
  const broker = await PipelineBroker.bind(
    { frontend: endpointFor(transport), backend: endpointFor(transport) },
    { heartbeatMs: HEARTBEAT_MS, liveness: 3, onEvent: (e) => events.push(e), ...options },
  );
  return { broker, events };
}

/** Pushes tasks n = 0..count-1 with ids `${prefix}${n}` and waits until the broker has acknowledged each. */
async function pushAll(source: PipelineSource<typeof Squares>, count: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, n) => `${prefix}${n}`);
  await Promise.all(ids.map((id, n) => source.push({ n }, { id, timeoutMs: 10_000 })));
  return ids;
}

/** The outcomes by task id; fails on a repeated id (user code must see each task once). */
function byTaskId(outcomes: readonly JobOutcome<typeof Squares>[]): Map<string, JobOutcome<typeof Squares>> {
  const map = new Map<string, JobOutcome<typeof Squares>>();
  for (const outcome of outcomes) {
    expect(outcome.taskId, "a reliable outcome without its task id").toBeDefined();
    expect(map.has(outcome.taskId ?? ""), `task ${outcome.taskId} reached the sink twice`).toBe(false);
    map.set(outcome.taskId ?? "", outcome);
  }
  return map;
}

/** `bind()`, tried again while the endpoint is still held by a socket that was just closed (at most 3 s). */
async function rebind<T>(bind: () => Promise<T>): Promise<T> {
  const end = Date.now() + 3_000;
  for (;;) {
    try {
      return await bind();
    } catch (err) {
      if (!isEndpointInUseError(err) || Date.now() > end) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Resolves once `check()` holds, looking every 20 ms, or rejects after `ms` naming `what`. */
async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(skip)(`reliable pipeline with pyzmq peers written from docs/protocol.md${why}`, () => {
  test.each(["tcp", "ipc"] as const)(
    "%s: typed source -> broker -> strict RFC 7 Python worker -> typed sink: every result, once, by task id",
    async (transport) => {
      const { broker, events } = await startBroker(transport);
      await using _broker = broker;
      await withPeers(async (start) => {
        const worker = start("reliable_worker", [broker.backend, QUEUE, "--name", "py-strict", ...hb]);
        await broker.waitForWorkers(1, { queue: QUEUE, timeoutMs: 5_000 });
        await using source = await PipelineSource.connect(broker.frontend, Squares, { mode: "reliable" });
        await using sink = await PipelineSink.connect(broker.frontend, Squares, { mode: "reliable", heartbeatMs: HEARTBEAT_MS });
        const ids = await pushAll(source, 40, `strict-${transport}-`);
        const outcomes = byTaskId(await sink.collect(40, { timeoutMs: 10_000 }));
        expect([...outcomes.keys()].sort()).toEqual([...ids].sort());
        for (const [id, outcome] of outcomes) {
          const n = Number(id.slice(id.lastIndexOf("-") + 1));
          expect(outcome).toEqual({ ok: true, taskId: id, result: { n, square: n * n, worker: "py-strict" } });
        }
        // READY had no capacity frame: the broker took it as one at a time, no batches.
        expect(events.filter((e) => e.type === "worker:ready")).toEqual([
          expect.objectContaining({ queue: QUEUE, capacity: 1, batch: false }),
        ]);
        const seen = worker.printed<WorkerTask>("task");
        expect(seen.map((t) => t.taskId).sort()).toEqual([...ids].sort());
        expect(seen.every((t) => t.delivery === 1 && !t.batch)).toBe(true);
        // The sink acknowledges what its user code has: TAKEN travels after collect() resolves.
        await until("the sink's TAKEN for all 40", () => broker.stats.taken === 40);
        expect(broker.stats).toMatchObject({ accepted: 40, completed: 40, results: 0, redelivered: 0, late: 0 });
      });
    },
    20_000,
  );

  test.each(["tcp", "ipc"] as const)(
    "%s: a Python worker that announces capacity and batch gets batch REQUESTs and answers them in two REPLYs",
    async (transport) => {
      const { broker, events } = await startBroker(transport);
      await using _broker = broker;
      await withPeers(async (start) => {
        await using source = await PipelineSource.connect(broker.frontend, Squares, { mode: "reliable" });
        // The tasks wait in the broker first, so that the worker's first REQUESTs are full batches.
        const ids = await pushAll(source, 60, `batch-${transport}-`);
        const worker = start("reliable_worker", [
          broker.backend,
          QUEUE,
          "--capacity",
          8,
          "--batch",
          "--split",
          "--name",
          "py-batch",
          ...hb,
        ]);
        await using sink = await PipelineSink.connect(broker.frontend, Squares, { mode: "reliable", heartbeatMs: HEARTBEAT_MS });
        const outcomes = byTaskId(await sink.collect(60, { timeoutMs: 10_000 }));
        expect([...outcomes.keys()].sort()).toEqual([...ids].sort());
        for (const [id, outcome] of outcomes) {
          const n = Number(id.slice(id.lastIndexOf("-") + 1));
          expect(outcome).toEqual({ ok: true, taskId: id, result: { n, square: n * n, worker: "py-batch" } });
        }
        expect(events.filter((e) => e.type === "worker:ready")).toEqual([expect.objectContaining({ capacity: 8, batch: true })]);
        const seen = worker.printed<WorkerTask>("task");
        expect(seen).toHaveLength(60);
        expect(seen.filter((t) => t.batch).length, "no task came in a batch REQUEST").toBeGreaterThan(0);
        expect(seen.every((t) => t.delivery === 1)).toBe(true);
        expect(broker.stats).toMatchObject({ completed: 60, redelivered: 0, late: 0, dropped: 0 });
      });
    },
    20_000,
  );

  test.each(["tcp", "ipc"] as const)(
    "%s: Python source (every PUSH sent twice) -> broker -> typed worker -> Python sink that starts after the work",
    async (transport) => {
      const { broker } = await startBroker(transport);
      await using _broker = broker;
      await withPeers(async (start) => {
        await using worker = await PipelineWorker.connect(
          { tasks: broker.backend },
          Squares,
          ({ n }) => ({ n, square: n * n, worker: "typed" }),
          { mode: "reliable", heartbeatMs: HEARTBEAT_MS, concurrency: 4 },
        );
        await broker.waitForWorkers(1, { queue: QUEUE, timeoutMs: 5_000 });
        const source = start("reliable_source", [broker.frontend, QUEUE, 40, "--per-push", 7, "--prefix", "py-", "--twice"]);
        const sent = await source.waitFor<SourceDone>("done", 10_000);
        expect(await source.program.exited).toBe(0);
        // Every id answered once per PUSH that carried it; the second copies were not stored again.
        expect(sent).toEqual({ accepted: 40, rejected: 0, resent: 0, answers: 80, codes: {} });
        await until("the broker to hold 40 results", () => broker.stats.results === 40);
        expect(worker.stats.completed).toBe(40);
        expect(broker.stats).toMatchObject({ accepted: 40, duplicates: 40, completed: 40 });
        // Window 5, acknowledged in tens: the broker must stop at 5 outcomes not taken, and wait for TAKEN.
        const sink = start("reliable_sink", [broker.frontend, QUEUE, 40, "--window", 5, "--take-every", 10, ...hb]);
        const got = await sink.waitFor<SinkDone>("done", 10_000);
        expect(await sink.program.exited).toBe(0);
        expect(got.unique).toBe(40);
        expect(got.repeats).toBe(0);
        expect(got.maxHeld).toBe(5);
        for (let n = 0; n < 40; n++) expect(got.outcomes[`py-${n}`]).toEqual([0, { n, square: n * n, worker: "typed" }]);
        await until("the broker to forget the taken results", () => broker.stats.taken === 40);
        expect(broker.stats).toMatchObject({ results: 0, taken: 40 });
      });
    },
    20_000,
  );

  test("ipc: a Python worker's retry failures end as POISON_TASK after maxDeliveries; a final failure reaches the sink as sent", async () => {
    const { broker, events } = await startBroker("ipc", { maxDeliveries: 3 });
    await using _broker = broker;
    await withPeers(async (start) => {
      const worker = start("reliable_worker", [broker.backend, QUEUE, "--retry-n", 3, "--fail-n", 7, "--name", "py", ...hb]);
      await broker.waitForWorkers(1, { queue: QUEUE, timeoutMs: 5_000 });
      await using source = await PipelineSource.connect(broker.frontend, Squares, { mode: "reliable" });
      await using sink = await PipelineSink.connect(broker.frontend, Squares, { mode: "reliable", heartbeatMs: HEARTBEAT_MS });
      await pushAll(source, 10, "poison-");
      const outcomes = byTaskId(await sink.collect(10, { timeoutMs: 10_000 }));
      expect(outcomes.get("poison-3")).toEqual({
        ok: false,
        taskId: "poison-3",
        error: expect.objectContaining({ code: "POISON_TASK", details: { taskId: "poison-3", deliveries: 3 } }),
      });
      expect(outcomes.get("poison-7")).toEqual({
        ok: false,
        taskId: "poison-7",
        error: { code: "REFUSED", message: "task 7 is refused", details: { n: 7 } },
      });
      for (const n of [0, 1, 2, 4, 5, 6, 8, 9]) {
        expect(outcomes.get(`poison-${n}`)).toEqual({
          ok: true,
          taskId: `poison-${n}`,
          result: { n, square: n * n, worker: "py" },
        });
      }
      // The worker saw task 3 exactly maxDeliveries times, counted 1, 2, 3 in H; the final failure once.
      const seen = worker.printed<WorkerTask>("task");
      expect(seen.filter((t) => t.n === 3).map((t) => t.delivery)).toEqual([1, 2, 3]);
      expect(seen.filter((t) => t.n === 7).map((t) => t.delivery)).toEqual([1]);
      expect(events.filter((e) => e.type === "task:poisoned")).toEqual([
        { type: "task:poisoned", queue: QUEUE, taskId: "poison-3", deliveries: 3 },
      ]);
      expect(broker.stats).toMatchObject({ poisoned: 1, completed: 10, redelivered: 2 });
    });
  }, 20_000);

  test("tcp: a Python worker killed with SIGKILL mid-run: its tasks complete on the other Python worker, none lost", async () => {
    const { broker, events } = await startBroker("tcp");
    await using _broker = broker;
    await withPeers(async (start) => {
      const doomed = start("reliable_worker", [
        broker.backend,
        QUEUE,
        "--capacity",
        4,
        "--work-ms",
        10,
        "--name",
        "doomed",
        ...hb,
      ]);
      const survivor = start("reliable_worker", [broker.backend, QUEUE, "--work-ms", 5, "--name", "survivor", ...hb]);
      await broker.waitForWorkers(2, { queue: QUEUE, timeoutMs: 5_000 });
      await using source = await PipelineSource.connect(broker.frontend, Squares, { mode: "reliable" });
      await using sink = await PipelineSink.connect(broker.frontend, Squares, { mode: "reliable", heartbeatMs: HEARTBEAT_MS });
      const ids = await pushAll(source, 200, "kill-");
      await doomed.waitUntil<WorkerTask>("task", () => doomed.printed("task").length >= 20, 5_000);
      doomed.program.child.kill("SIGKILL");
      expect(await doomed.program.exited).toBe("SIGKILL");
      const outcomes = byTaskId(await sink.collect(200, { timeoutMs: 15_000 }));
      expect([...outcomes.keys()].sort()).toEqual([...ids].sort());
      for (const [id, o] of outcomes) {
        const n = Number(id.slice("kill-".length));
        expect(o).toEqual({ ok: true, taskId: id, result: { n, square: n * n, worker: expect.any(String) } });
      }
      const workers = new Set([...outcomes.values()].map((o) => (o.ok ? o.result.worker : "failed")));
      expect(workers).toEqual(new Set(["doomed", "survivor"]));
      // It held tasks when it died: they went back and were run by the survivor.
      const lost = events.filter((e) => e.type === "worker:gone" || e.type === "worker:evicted");
      expect(lost).toHaveLength(1);
      expect(broker.stats.redelivered).toBeGreaterThan(0);
      expect(broker.stats).toMatchObject({ completed: 200, poisoned: 0 });
      const survived = survivor.printed<WorkerTask>("task");
      expect(
        survived.some((t) => t.delivery === 2),
        "no redelivered task reached the survivor",
      ).toBe(true);
    });
  }, 30_000);

  test("ipc: a Python sink answers the DISCONNECT of a restarted broker with FETCH and gets the new results", async () => {
    const frontend = endpointFor("ipc");
    const backend = endpointFor("ipc");
    const options = { heartbeatMs: HEARTBEAT_MS, liveness: 3 };
    await withPeers(async (start) => {
      const first = await PipelineBroker.bind({ frontend, backend }, options);
      const sink = start("reliable_sink", [frontend, QUEUE, 10, "--window", 100, ...hb]);
      await first.waitForSinks(1, { queue: QUEUE, timeoutMs: 5_000 });
      await first.close();
      // libzmq lets go of the ipc listener in its reaper thread, a moment after close(): until then the path still
      // accepts connections and a bind refuses to take it over. Bind again once it is free (bounded).
      await using second = await rebind(() => PipelineBroker.bind({ frontend, backend }, options));
      // The sink's next HEARTBEAT reaches a broker that does not know it: DISCONNECT, and the sink FETCHes again.
      await sink.waitFor("disconnected", 5_000);
      await second.waitForSinks(1, { queue: QUEUE, timeoutMs: 5_000 });
      await using _worker = await PipelineWorker.connect(
        { tasks: second.backend },
        Squares,
        ({ n }) => ({ n, square: n * n, worker: "typed" }),
        { mode: "reliable", heartbeatMs: HEARTBEAT_MS },
      );
      await using source = await PipelineSource.connect(second.frontend, Squares, { mode: "reliable" });
      await pushAll(source, 10, "again-");
      const got = await sink.waitFor<SinkDone>("done", 10_000);
      expect(await sink.program.exited).toBe(0);
      expect(got.unique).toBe(10);
      expect(got.fetches).toBeGreaterThanOrEqual(2);
      for (let n = 0; n < 10; n++) expect(got.outcomes[`again-${n}`]).toEqual([0, { n, square: n * n, worker: "typed" }]);
    });
  }, 20_000);
});
