/**
 * onEvent and stats.latency of the pipeline classes over real tcp sockets: connection events on a real connect and
 * disconnect, validation-failed (outgoing at the source and the worker's results, incoming from raw zeromq peers)
 * and dropped, and the latency of the reliable source (push → ACCEPTED) and of workers (task time).
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import * as z from "zod";
import {
  PipelineBroker,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  defineJobs,
  type PipelineBrokerEvent,
  type PipelineSinkEvent,
  type PipelineSourceEvent,
  type PipelineWorkerEvent,
  type LatencyStats,
} from "../../src/index.js";
import { EventLog } from "../helpers/event-log.js";

const TCP = "tcp://127.0.0.1:0";
const Jobs = defineJobs("jobs.v1", {
  task: z.object({ n: z.number().int() }),
  result: z.object({ n: z.number().int(), doubled: z.number().int() }),
});
const double = ({ n }: { n: number }) => ({ n, doubled: n * 2 });

function expectPlausible(latency: LatencyStats | undefined, count: number): void {
  expect(latency?.count).toBe(count);
  if (latency === undefined) return;
  expect(latency.p50Ms).toBeGreaterThan(0);
  expect(latency.p50Ms).toBeLessThanOrEqual(latency.p90Ms);
  expect(latency.p90Ms).toBeLessThanOrEqual(latency.p99Ms);
  expect(latency.p99Ms).toBeLessThanOrEqual(latency.maxMs);
  expect(latency.maxMs).toBeLessThan(5_000);
}

describe("plain pipeline events", () => {
  test("source, worker and sink: connected on a real connect, disconnected when the peer closes", async () => {
    const sourceLog = new EventLog<PipelineSourceEvent>();
    const sinkLog = new EventLog<PipelineSinkEvent>();
    const workerLog = new EventLog<PipelineWorkerEvent>();
    await using source = await PipelineSource.bind(TCP, Jobs, { onEvent: sourceLog.onEvent });
    await using sink = await PipelineSink.bind(TCP, Jobs, { onEvent: sinkLog.onEvent });
    const worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, double, {
      onEvent: workerLog.onEvent,
    });
    expect((await sourceLog.next("connected")).endpoint).toBe(source.endpoint);
    expect((await sinkLog.next("connected")).endpoint).toBe(sink.endpoint);
    await workerLog.next("connected", (e) => e.endpoint === source.endpoint);
    await workerLog.next("connected", (e) => e.endpoint === sink.endpoint);
    for (let n = 0; n < 10; n++) await source.push({ n });
    for (let n = 0; n < 10; n++) await sink.receive({ timeoutMs: 5_000 });
    expectPlausible(worker.stats.latency, 10);
    await worker.close();
    expect((await sourceLog.next("disconnected")).endpoint).toBe(source.endpoint);
    expect((await sinkLog.next("disconnected")).endpoint).toBe(sink.endpoint);
  });

  test("worker: disconnected when its source closes", async () => {
    const source = await PipelineSource.bind(TCP, Jobs);
    const log = new EventLog<PipelineWorkerEvent>();
    await using _worker = await PipelineWorker.connect({ tasks: source.endpoint }, Jobs, double, { onEvent: log.onEvent });
    await log.next("connected");
    await source.close();
    expect((await log.next("disconnected")).endpoint).toBe(source.endpoint);
  });

  test("source: validation-failed for a bad task, nothing pushed", async () => {
    const log = new EventLog<PipelineSourceEvent>();
    await using source = await PipelineSource.bind(TCP, Jobs, { onEvent: log.onEvent });
    // @ts-expect-error -- a task that breaks the schema, on purpose
    await expect(source.push({ n: "one" })).rejects.toMatchObject({ name: "ContractValidationError" });
    expect(await log.next("validation-failed")).toMatchObject({ direction: "outgoing", contract: "jobs.v1", method: "task" });
    expect(source.stats.pushed).toBe(0);
  });

  test("worker: validation-failed for a bad task from a raw PUSH, and for a result that breaks the schema", async () => {
    const raw = new zmq.Push({ linger: 0 });
    try {
      await raw.bind(TCP);
      const log = new EventLog<PipelineWorkerEvent>();
      const errors: unknown[] = [];
      await using worker = await PipelineWorker.connect(
        { tasks: raw.lastEndpoint! },
        Jobs,
        ({ n }) => ({ n, doubled: n === 7 ? 1.5 : n * 2 }),
        { onEvent: log.onEvent, onError: (info) => errors.push(info) },
      );
      await raw.send(JSON.stringify({ n: "x" }));
      const incoming = await log.next("validation-failed", (e) => e.direction === "incoming");
      expect(incoming).toMatchObject({ contract: "jobs.v1", method: "task" });
      expect(incoming.issues[0]?.path).toEqual(["n"]);
      await raw.send(JSON.stringify({ n: 7 }));
      const outgoing = await log.next("validation-failed", (e) => e.direction === "outgoing");
      expect(outgoing).toMatchObject({ method: "result" });
      expect(errors).toHaveLength(2); // onError keeps working next to onEvent
      expect(worker.stats.latency.count).toBe(1); // only the handler that ran
    } finally {
      raw.close();
    }
  });

  test("sink: validation-failed and dropped for a bad result from a raw PUSH", async () => {
    const log = new EventLog<PipelineSinkEvent>();
    const drops: unknown[] = [];
    await using sink = await PipelineSink.bind(TCP, Jobs, { onEvent: log.onEvent, onDrop: (info) => drops.push(info) });
    const raw = new zmq.Push({ linger: 0 });
    try {
      raw.connect(sink.endpoint);
      await raw.send(JSON.stringify({ n: 1, doubled: "two" }));
      await raw.send(JSON.stringify({ n: 2, doubled: 4 }));
      expect(await sink.receive({ timeoutMs: 5_000 })).toMatchObject({ ok: true });
      const invalid = await log.next("validation-failed");
      expect(invalid).toMatchObject({ direction: "incoming", contract: "jobs.v1", method: "result" });
      expect(invalid.issues[0]?.path).toEqual(["doubled"]);
      expect(await log.next("dropped")).toMatchObject({ reason: "invalid" });
      expect(drops).toHaveLength(1);
    } finally {
      raw.close();
    }
  });
});

describe("reliable pipeline events and latency", () => {
  test("broker faces, the source's link and stats.latency of the reliable source and worker", async () => {
    const brokerLog = new EventLog<PipelineBrokerEvent>();
    await using broker = await PipelineBroker.bind({ frontend: TCP, backend: TCP }, { onEvent: brokerLog.onEvent });
    const sourceLog = new EventLog<PipelineSourceEvent>();
    const workerLog = new EventLog<PipelineWorkerEvent>();
    await using source = await PipelineSource.connect(broker.frontend, Jobs, { mode: "reliable", onEvent: sourceLog.onEvent });
    const worker = await PipelineWorker.connect({ tasks: broker.backend }, Jobs, double, {
      mode: "reliable",
      onEvent: workerLog.onEvent,
    });
    await using sink = await PipelineSink.connect(broker.frontend, Jobs, { mode: "reliable" });
    expect((await sourceLog.next("connected")).endpoint).toBe(broker.frontend);
    await workerLog.next("broker:connected");
    await brokerLog.next("connected", (e) => e.face === "frontend");
    await brokerLog.next("connected", (e) => e.face === "backend");
    await Promise.all(Array.from({ length: 20 }, (_, n) => source.push({ n })));
    for (let n = 0; n < 20; n++) await sink.receive({ timeoutMs: 5_000 });
    expectPlausible(source.stats.latency, 20);
    expectPlausible(worker.stats.latency, 20);
    await worker.close();
    expect(await brokerLog.next("disconnected", (e) => e.face === "backend")).toMatchObject({ endpoint: broker.backend });
  });

  test("plain source has no latency figure (there is no acknowledgement to time)", async () => {
    await using source = await PipelineSource.bind(TCP, Jobs);
    expect(source.stats.latency).toBeUndefined();
  });
});
