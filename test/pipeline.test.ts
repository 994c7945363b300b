import { describe, expect, test, vi } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import {
  AbortedError,
  ClosedError,
  ContractValidationError,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  RpcError,
  TimeoutError,
  defineJobs,
  msgpackCodec,
  type JobContract,
  type JobOutcome,
  type PipelineWorkerErrorInfo,
  type PipelineSinkDropInfo,
} from "../src/index.js";
import { deferred, within } from "./helpers/deferred.js";
import { TRANSPORTS, endpointFor } from "./helpers/endpoints.js";
import { Gates } from "./helpers/gates.js";

/** The contract most pipeline tests use. */
const Jobs = defineJobs("jobs.v1", {
  task: z.object({ id: z.number().int().nonnegative() }),
  result: z.object({ id: z.number().int(), worker: z.string() }),
});

type Outcome = JobOutcome<typeof Jobs>;

/** Upper bound for any single wait on an event in this file. */
const WAIT_MS = 5_000;

/**
 * Waits until `count` workers are connected to `source`.
 *
 * On tcp and ipc it uses `waitForWorkers`, which counts libzmq handshake events. On inproc it does nothing:
 * libzmq emits no connection events for inproc (so `waitForWorkers` rejects with a TypeError there), and an inproc
 * connection already exists once `PipelineWorker.connect` (or a raw socket's `connect`) has returned, because every
 * test binds the source first.
 */
async function ready<TContract extends JobContract>(source: PipelineSource<TContract>, count: number): Promise<void> {
  if (source.endpoint.startsWith("inproc://")) return;
  await source.waitForWorkers(count, { timeoutMs: WAIT_MS });
}

/** The result of a successful outcome; fails the test on a failure outcome. */
function resultOf(outcome: Outcome): { id: number; worker: string } {
  if (!outcome.ok) throw new Error(`expected a result, got failure ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.result;
}

/** Ids 0..n-1. */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

describe.each(TRANSPORTS)("pipeline over %s", (transport) => {
  test("shares 300 tasks among 3 workers; every result reaches the sink exactly once", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    const perWorker = new Map<string, number[]>();
    const peaks = new Map<string, number>();
    const startWorker = async (name: string, concurrency: number): Promise<PipelineWorker<typeof Jobs>> => {
      let running = 0;
      perWorker.set(name, []);
      peaks.set(name, 0);
      return PipelineWorker.connect(
        { tasks: source.endpoint, results: sink.endpoint },
        Jobs,
        async ({ id }) => {
          running++;
          peaks.set(name, Math.max(peaks.get(name) ?? 0, running));
          perWorker.get(name)?.push(id);
          await new Promise<void>((resolve) => setImmediate(resolve));
          running--;
          return { id, worker: name };
        },
        { concurrency },
      );
    };
    await using w1 = await startWorker("w1", 4);
    await using w2 = await startWorker("w2", 2);
    await using w3 = await startWorker("w3", 1);
    await ready(source, 3);

    for (const id of range(300)) await source.push({ id });
    expect(source.stats.pushed).toBe(300);
    const outcomes = await sink.collect(300, { timeoutMs: WAIT_MS });
    const results = outcomes.map(resultOf);
    expect(results.map((r) => r.id).sort((a, b) => a - b)).toEqual(range(300));

    // Every worker took part, and each result names the worker that ran the task.
    for (const name of ["w1", "w2", "w3"]) {
      const ran = perWorker.get(name) ?? [];
      expect(ran.length, `tasks run by ${name}`).toBeGreaterThan(0);
      expect(
        results
          .filter((r) => r.worker === name)
          .map((r) => r.id)
          .sort((a, b) => a - b),
      ).toEqual([...ran].sort((a, b) => a - b));
    }
    expect(peaks.get("w1")).toBeLessThanOrEqual(4);
    expect(peaks.get("w2")).toBeLessThanOrEqual(2);
    expect(peaks.get("w3")).toBe(1);

    // `completed` counts once the result is handed to libzmq, which may be just after the sink saw it: close
    // (which drains) before reading the counters.
    await Promise.all([w1.close(), w2.close(), w3.close()]);
    const workers = [w1, w2, w3];
    expect(workers.reduce((sum, w) => sum + w.stats.completed, 0)).toBe(300);
    expect(workers.reduce((sum, w) => sum + w.stats.received, 0)).toBe(300);
    for (const w of workers) expect(w.stats.failed).toEqual({});
    expect(sink.stats).toMatchObject({ received: 300, results: 300, failures: 0 });
  });

  test("a handler that throws sends failure outcomes and the worker keeps serving", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    const errors: PipelineWorkerErrorInfo[] = [];
    const onError = vi.fn((info: PipelineWorkerErrorInfo) => void errors.push(info));
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      ({ id }) => {
        if (id % 10 === 1) throw new Error(`boom ${id}`);
        if (id % 10 === 2) throw `plain ${id}`;
        if (id % 10 === 3) throw new RpcError("OUT_OF_STOCK", `item ${id} is out of stock`, { details: { id } });
        return { id, worker: "w" };
      },
      { onError },
    );
    await ready(source, 1);

    for (const id of range(30)) await source.push({ id });
    const outcomes = await sink.collect(30, { timeoutMs: WAIT_MS });
    const ok = outcomes
      .filter((o) => o.ok)
      .map(resultOf)
      .map((r) => r.id)
      .sort((a, b) => a - b);
    expect(ok).toEqual(range(30).filter((id) => id % 10 > 3 || id % 10 === 0));

    const failures = outcomes.flatMap((o) => (o.ok ? [] : [o.error]));
    expect(failures).toHaveLength(9);
    // An unexpected error reaches the sink as a generic message with an error id; the worker's report has the real
    // message under the same id.
    const unexpected = failures.filter((f) => f.code === "HANDLER_ERROR");
    expect(unexpected).toHaveLength(6);
    for (const failure of unexpected) {
      const { errorId } = failure.details as { errorId: string };
      expect(failure.message).toBe(
        `the handler of "jobs.v1" failed unexpectedly (error id ${errorId}). The server's log has the details under this id.`,
      );
      expect(errors.find((e) => e.errorId === errorId)?.message).toMatch(
        /^the handler of "jobs\.v1" threw(?: a non-Error value)?: (boom|plain) \d+ \(error id /,
      );
    }
    for (const id of [1, 11, 21])
      expect(errors.map((e) => e.message)).toContainEqual(expect.stringContaining(`threw: boom ${id} (error id`));
    for (const id of [2, 12, 22]) {
      expect(errors.map((e) => e.message)).toContainEqual(
        expect.stringContaining(`threw a non-Error value: plain ${id} (error id`),
      );
    }
    for (const id of [3, 13, 23]) {
      expect(failures).toContainEqual({ code: "OUT_OF_STOCK", message: `item ${id} is out of stock`, details: { id } });
    }

    expect(worker.stats.failed).toEqual({ HANDLER_ERROR: 6, OUT_OF_STOCK: 3 });
    expect(onError).toHaveBeenCalledTimes(9);
    expect(errors.filter((e) => e.code === "HANDLER_ERROR")).toHaveLength(6);
    const thrown = errors.find((e) => e.message.includes("boom 1 "));
    expect(thrown?.cause).toBeInstanceOf(Error);
    expect(errors.find((e) => e.message.includes("plain 2 "))?.cause).toBe("plain 2");
    expect(errors.find((e) => e.code === "OUT_OF_STOCK")?.cause).toBeInstanceOf(RpcError);
    expect(sink.stats).toMatchObject({ results: 21, failures: 9 });
  });

  test("bad tasks from a raw PUSH socket become MALFORMED / INVALID_TASK failures; good tasks still run", async () => {
    const push = new zmq.Push({ linger: 0 });
    try {
      await push.bind(endpointFor(transport));
      await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
      const onError = vi.fn((_info: PipelineWorkerErrorInfo) => undefined);
      await using worker = await PipelineWorker.connect(
        { tasks: push.lastEndpoint ?? "", results: sink.endpoint },
        Jobs,
        ({ id }) => ({ id, worker: "w" }),
        { onError },
      );
      // A PUSH socket's send waits until a peer is connected.
      await within(push.send(["two", "frames"]), WAIT_MS, "the first raw send");
      await push.send("{not json");
      await push.send(JSON.stringify({ id: "seven" }));
      await push.send(JSON.stringify({ id: 1 }));
      await push.send(JSON.stringify({ id: 2 }));

      // One worker with concurrency 1 handles its tasks in order, and its outcomes share one pipe: order is kept.
      const outcomes = await sink.collect(5, { timeoutMs: WAIT_MS });
      expect(outcomes.map((o) => (o.ok ? "ok" : o.error.code))).toEqual(["MALFORMED", "MALFORMED", "INVALID_TASK", "ok", "ok"]);
      const [frames, json, schema] = outcomes.map((o) => (o.ok ? undefined : o.error));
      expect(frames?.message).toMatch(/a task must be \[body\].*2 frames whose last is not a headers frame/);
      expect(json?.message).toMatch(/not valid json/);
      expect(schema?.message).toMatch(/Task for "jobs\.v1\/task" does not match the task schema/);
      expect(schema?.details).toMatchObject({ issues: [expect.objectContaining({ path: ["id"] })] });
      expect(outcomes.slice(3).map(resultOf)).toEqual([
        { id: 1, worker: "w" },
        { id: 2, worker: "w" },
      ]);
      expect(worker.stats.failed).toEqual({ MALFORMED: 2, INVALID_TASK: 1 });
      expect(onError.mock.calls.map(([info]) => info.code)).toEqual(["MALFORMED", "MALFORMED", "INVALID_TASK"]);
    } finally {
      push.close();
    }
  });

  test("with sendFailures: false, bad tasks are only counted and the sink gets only results", async () => {
    const push = new zmq.Push({ linger: 0 });
    try {
      await push.bind(endpointFor(transport));
      await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
      await using worker = await PipelineWorker.connect(
        { tasks: push.lastEndpoint ?? "", results: sink.endpoint },
        Jobs,
        ({ id }) => ({ id, worker: "w" }),
        { sendFailures: false },
      );
      await within(push.send(["two", "frames"]), WAIT_MS, "the first raw send");
      await push.send("{not json");
      await push.send(JSON.stringify({ id: -1 }));
      await push.send(JSON.stringify({ id: 1 }));
      await push.send(JSON.stringify({ id: 2 }));

      // Had failures been sent, they would come first (same worker, same order): the first two must be the results.
      const outcomes = await sink.collect(2, { timeoutMs: WAIT_MS });
      expect(outcomes.map(resultOf).map((r) => r.id)).toEqual([1, 2]);
      expect(worker.stats).toMatchObject({ received: 5, completed: 2, failed: { MALFORMED: 2, INVALID_TASK: 1 } });
      expect(sink.stats).toMatchObject({ received: 2, failures: 0 });
    } finally {
      push.close();
    }
  });

  test("a result that breaks the result schema becomes an INVALID_RESULT failure", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, ({ id }) =>
      // Breaks the contract on purpose (the compiler would refuse a number here).
      id === 1 ? { id, worker: 42 as unknown as string } : { id, worker: "w" },
    );
    await ready(source, 1);
    await source.push({ id: 1 });
    await source.push({ id: 2 });
    const [bad, good] = await sink.collect(2, { timeoutMs: WAIT_MS });
    expect(bad).toMatchObject({
      ok: false,
      error: { code: "INVALID_RESULT", details: { issues: [expect.objectContaining({ path: ["worker"] })] } },
    });
    expect(bad?.ok === false && bad.error.message).toMatch(/Result of "jobs\.v1\/result" does not match the result schema/);
    expect(good).toEqual({ ok: true, result: { id: 2, worker: "w" } });
    expect(worker.stats.failed).toEqual({ INVALID_RESULT: 1 });
  });

  test("the sink drops bad messages from a raw PUSH socket, counts them by reason and reports them", async () => {
    const drops: PipelineSinkDropInfo[] = [];
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs, { onDrop: (info) => void drops.push(info) });
    const push = new zmq.Push({ linger: 0 });
    try {
      push.connect(sink.endpoint);
      await within(push.send(["a", "b", "c"]), WAIT_MS, "the first raw send");
      await push.send("{not json");
      await push.send(JSON.stringify({ id: 1, worker: 7 }));
      await push.send(["error", JSON.stringify({ reason: "no code, no message" })]);
      await push.send(JSON.stringify({ id: 5, worker: "raw" }));

      await expect(sink.receive({ timeoutMs: WAIT_MS })).resolves.toEqual({ ok: true, result: { id: 5, worker: "raw" } });
      expect(sink.stats).toEqual({ received: 5, results: 1, failures: 0, dropped: { malformed: 2, undecodable: 1, invalid: 1 } });
      expect(drops.map((d) => d.reason)).toEqual(["malformed", "undecodable", "invalid", "malformed"]);
      expect(drops[0]?.message).toMatch(/got 3 frames/);
      expect(drops[2]?.issues).toEqual([expect.objectContaining({ path: ["worker"] })]);
      expect(drops[3]?.message).toMatch(/failure result's body is not \{ code, message \}/);
    } finally {
      push.close();
    }
  });

  test("a raw PULL socket reads a source's task as one frame holding the JSON task", async () => {
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    const pull = new zmq.Pull({ linger: 0 });
    try {
      pull.connect(source.endpoint);
      await ready(source, 1);
      await source.push({ id: 42 });
      const frames = await within(pull.receive(), WAIT_MS, "the task at the raw PULL socket");
      expect(frames).toHaveLength(1);
      expect(JSON.parse(String(frames[0]))).toEqual({ id: 42 });
    } finally {
      pull.close();
    }
  });

  test("a worker with concurrency 2 never runs more than 2 handlers at once", async () => {
    const gates = new Gates();
    let running = 0;
    let peak = 0;
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      async ({ id }) => {
        running++;
        peak = Math.max(peak, running);
        await gates.enter(`t${id}`);
        running--;
        return { id, worker: "w" };
      },
      { concurrency: 2 },
    );
    await ready(source, 1);
    for (const id of range(5)) await source.push({ id });

    await within(gates.entered(2), WAIT_MS, "two handlers to start");
    // The worker stops pulling while both slots are taken: no third handler has started.
    expect(running).toBe(2);
    expect(worker.stats.inFlight).toBe(2);
    expect(worker.stats.received).toBe(2);

    for (const id of range(5)) gates.open(`t${id}`);
    const outcomes = await sink.collect(5, { timeoutMs: WAIT_MS });
    expect(
      outcomes
        .map(resultOf)
        .map((r) => r.id)
        .sort((a, b) => a - b),
    ).toEqual(range(5));
    expect(peak).toBe(2);
  });

  test("push validates tasks, and a push that timed out or was aborted is never delivered", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);

    // @ts-expect-error id must be a number: checks the run-time validation for untyped callers
    const invalid: unknown = await source.push({ id: "seven" }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ContractValidationError);
    expect(invalid).toMatchObject({ direction: "outgoing", contract: "jobs.v1", method: "task" });
    expect((invalid as ContractValidationError).issues[0]?.path).toEqual(["id"]);
    expect(source.stats.pushed).toBe(0);

    // No worker yet: the push waits, then gives up.
    const timedOut: unknown = await source.push({ id: 1 }, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(TimeoutError);
    expect(timedOut).toMatchObject({ code: "TIMEOUT", timeoutMs: 100 });

    const aborted: unknown = await source.push({ id: 2 }, { signal: AbortSignal.abort("stop") }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(AbortedError);
    expect(aborted).toMatchObject({ code: "ABORTED", cause: "stop" });
    expect(source.stats.pushed).toBe(0);

    // A worker that connects now must see the sentinel first: neither earlier task went out.
    const seen: number[] = [];
    await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, ({ id }) => {
      seen.push(id);
      return { id, worker: "late" };
    });
    await ready(source, 1);
    await source.push({ id: 999 });
    expect(source.stats.pushed).toBe(1);
    await expect(sink.receive({ timeoutMs: WAIT_MS })).resolves.toEqual({ ok: true, result: { id: 999, worker: "late" } });
    expect(seen).toEqual([999]);
    expect(worker.stats.received).toBe(1);
  });

  test("collect() times out saying how many arrived, and keeps those outcomes for the next reader", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    const gates = new Gates();
    const worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      async ({ id }) => {
        await gates.enter(`t${id}`);
        return { id, worker: "w" };
      },
      { concurrency: 2 },
    );
    try {
      await ready(source, 1);
      await source.push({ id: 0 });
      await source.push({ id: 1 });
      await within(gates.entered(2), WAIT_MS, "both handlers to start");
    } finally {
      // Both handlers are running; closing drains them, so both results have been handed to libzmq when it resolves.
      const closing = worker.close();
      gates.open("t0");
      gates.open("t1");
      await closing;
    }
    expect(worker.stats.completed).toBe(2);

    const err: unknown = await sink.collect(5, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: "TIMEOUT", timeoutMs: 500 });
    expect((err as Error).message).toMatch(/collect\(5\) \(2 of 5 arrived\)/);

    const kept = await sink.collect(2, { timeoutMs: WAIT_MS });
    expect(kept.map(resultOf).map((r) => r.id)).toEqual([0, 1]);
  });

  test("worker close() waits for a running handler, and its result still reaches the sink", async () => {
    const gates = new Gates();
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    const worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, async ({ id }) => {
      await gates.enter("drain");
      return { id, worker: "draining" };
    });
    let closedDone = false;
    try {
      await ready(source, 1);
      await source.push({ id: 7 });
      await within(gates.arrived("drain"), WAIT_MS, "the handler");
      const closing = worker.close().then(() => void (closedDone = true));
      expect(worker.closed).toBe(true);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(closedDone).toBe(false);
      expect(worker.stats.inFlight).toBe(1);
      gates.open("drain");
      await within(closing, WAIT_MS, "the worker to close");
    } finally {
      gates.open("drain");
      await worker.close();
    }
    expect(closedDone).toBe(true);
    expect(worker.stats).toMatchObject({ completed: 1, inFlight: 0 });
    await expect(sink.receive({ timeoutMs: WAIT_MS })).resolves.toEqual({ ok: true, result: { id: 7, worker: "draining" } });
  });

  test("worker close() gives up on a stuck handler after drainTimeoutMs and aborts its signal", async () => {
    const aborted = deferred<unknown>();
    const started = deferred();
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    const worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      async ({ id }, { signal }) => {
        signal.addEventListener("abort", () => aborted.resolve(signal.reason));
        started.resolve();
        await new Promise<never>(() => undefined);
        return { id, worker: "never" };
      },
      { drainTimeoutMs: 50 },
    );
    try {
      await ready(source, 1);
      await source.push({ id: 1 });
      await within(started.promise, WAIT_MS, "the handler");
    } finally {
      await within(worker.close(), WAIT_MS, "the worker to close");
    }
    await expect(within(aborted.promise, WAIT_MS, "the handler's signal")).resolves.toBeInstanceOf(ClosedError);
    expect(worker.stats).toMatchObject({ received: 1, completed: 0 });
  });

  test("sink close() ends a for-await loop, and receive() afterwards rejects with ClosedError", async () => {
    const sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    try {
      await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
      await using _worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, ({ id }) => ({
        id,
        worker: "w",
      }));
      await ready(source, 1);
      const first = deferred<Outcome>();
      const loop = (async () => {
        const seen: Outcome[] = [];
        for await (const outcome of sink) {
          seen.push(outcome);
          first.resolve(outcome);
        }
        return seen;
      })();
      await source.push({ id: 3 });
      await expect(within(first.promise, WAIT_MS, "the first outcome in the loop")).resolves.toEqual({
        ok: true,
        result: { id: 3, worker: "w" },
      });
      await sink.close();
      await expect(within(loop, WAIT_MS, "the loop to end")).resolves.toHaveLength(1);
      await expect(sink.receive()).rejects.toBeInstanceOf(ClosedError);
      await expect(sink.collect(1)).rejects.toBeInstanceOf(ClosedError);
    } finally {
      await sink.close();
    }
  });

  test("source close() rejects a push still waiting for a worker with ClosedError", async () => {
    const source = await PipelineSource.bind(endpointFor(transport), Jobs, { lingerMs: 50 });
    try {
      const pending = source.push({ id: 1 });
      await within(source.close(), WAIT_MS, "the source to close");
      const err: unknown = await within(
        pending.catch((e: unknown) => e),
        WAIT_MS,
        "the pending push",
      );
      expect(err).toBeInstanceOf(ClosedError);
      expect(source.stats.pushed).toBe(0);
      await expect(source.push({ id: 2 })).rejects.toBeInstanceOf(ClosedError);
    } finally {
      await source.close();
    }
  });

  test("carries binary fields intact end to end with the MessagePack codec", async () => {
    const Blobs = defineJobs("blobs.v1", {
      task: z.object({ id: z.number().int(), data: z.instanceof(Uint8Array) }),
      result: z.object({ id: z.number().int(), reversed: z.instanceof(Uint8Array), size: z.number() }),
    });
    const options = { codec: msgpackCodec };
    await using sink = await PipelineSink.bind(endpointFor(transport), Blobs, options);
    await using source = await PipelineSource.bind(endpointFor(transport), Blobs, options);
    await using _worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Blobs,
      ({ id, data }) => {
        expect(data).toBeInstanceOf(Uint8Array);
        return { id, reversed: Uint8Array.from(data).reverse(), size: data.length };
      },
      options,
    );
    await ready(source, 1);
    const data = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    await source.push({ id: 1, data });
    const outcome = await sink.receive({ timeoutMs: WAIT_MS });
    if (!outcome.ok) throw new Error(`expected a result, got ${outcome.error.code}: ${outcome.error.message}`);
    expect(outcome.result.id).toBe(1);
    expect(outcome.result.size).toBe(300);
    expect(outcome.result.reversed).toBeInstanceOf(Uint8Array);
    expect([...outcome.result.reversed]).toEqual([...data].reverse());
  });
});

describe("PipelineSource.waitForWorkers on inproc", () => {
  test("refuses with a TypeError: libzmq reports no inproc connections", async () => {
    await using source = await PipelineSource.bind(endpointFor("inproc"), Jobs);
    await expect(source.waitForWorkers(1)).rejects.toThrow(TypeError);
  });
});

describe("pipeline: failures are classified by stage, and put-back outcomes reach waiting readers", () => {
  // A handler that throws one of our own errors (here a ContractValidationError from a second-stage push) fails
  // with HANDLER_ERROR: the worker classifies by where the failure happened, not by the class thrown.
  test("a ContractValidationError thrown inside a handler is a HANDLER_ERROR, not INVALID_TASK", async () => {
    await using sink = await PipelineSink.bind(endpointFor("inproc"), Jobs);
    await using source = await PipelineSource.bind(endpointFor("inproc"), Jobs);
    // A second stage the handler feeds; the handler pushes a task that breaks its schema.
    await using downstream = await PipelineSource.bind(endpointFor("inproc"), Jobs);
    await using _worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      async ({ id }) => {
        // @ts-expect-error a bug in the handler: id must be a number
        await downstream.push({ id: `next-${id}` });
        return { id, worker: "stage-1" };
      },
    );
    await source.push({ id: 1 });
    const outcome = await sink.receive({ timeoutMs: WAIT_MS });
    expect(outcome).toMatchObject({ ok: false, error: { code: "HANDLER_ERROR" } });
  });

  // When collect() gives up it puts back what it took; a receive() already waiting behind it must get those first.
  test("a receive() already waiting gets the outcomes a timed-out collect() put back", async () => {
    await using sink = await PipelineSink.bind(endpointFor("inproc"), Jobs);
    await using source = await PipelineSource.bind(endpointFor("inproc"), Jobs);
    const gates = new Gates();
    const worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, async ({ id }) => {
      await gates.enter(`t${id}`);
      return { id, worker: "w" };
    });
    try {
      await source.push({ id: 0 });
      await within(gates.entered(1), WAIT_MS, "the handler to start");
    } finally {
      // Closing drains: the one result has been handed to libzmq when it resolves.
      const closing = worker.close();
      gates.open("t0");
      await closing;
    }
    // collect() waits first and takes the one outcome; receive() waits behind it. When collect() gives up, it puts
    // the outcome back: the waiting receive() should get it.
    const collecting = sink.collect(2, { timeoutMs: 200 }).catch((e: unknown) => e);
    const receiving = sink.receive({ timeoutMs: 1_000 }).catch((e: unknown) => e);
    await expect(collecting).resolves.toBeInstanceOf(TimeoutError);
    expect(((await collecting) as Error).message).toMatch(/1 of 2 arrived/);
    await expect(receiving).resolves.toEqual({ ok: true, result: { id: 0, worker: "w" } });
  });
});

describe.each(TRANSPORTS)("pipeline protocol 1.1 headers over %s", (transport) => {
  test("the sink accepts results, failures and batches with a trailing headers frame, and still every v1 shape", async () => {
    const drops: PipelineSinkDropInfo[] = [];
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs, { onDrop: (info) => void drops.push(info) });
    const push = new zmq.Push({ linger: 0 });
    const H = JSON.stringify({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", unknownKey: 1 });
    const result = (id: number): string => JSON.stringify({ id, worker: "raw" });
    const packed = Buffer.concat(
      [3, 4].flatMap((id) => {
        const body = Buffer.from(result(id));
        const length = Buffer.alloc(4);
        length.writeUInt32BE(body.length);
        return [length, body];
      }),
    );
    try {
      push.connect(sink.endpoint);
      await within(push.send([result(1), H]), WAIT_MS, "the first raw send");
      await push.send(["error", JSON.stringify({ code: "BOOM", message: "failed" }), H]);
      await push.send(["", packed, H]);
      await push.send(result(5)); // v1 result
      await push.send(["error", JSON.stringify({ code: "V1", message: "v1 failure" })]); // v1 failure
      await push.send([result(6), "not a headers frame"]);
      await push.send(result(7)); // read after the bad one: the sink reads only while someone waits
      const outcomes = await sink.collect(7, { timeoutMs: WAIT_MS });
      expect(outcomes).toEqual([
        { ok: true, result: { id: 1, worker: "raw" } },
        { ok: false, error: { code: "BOOM", message: "failed" } },
        { ok: true, result: { id: 3, worker: "raw" } },
        { ok: true, result: { id: 4, worker: "raw" } },
        { ok: true, result: { id: 5, worker: "raw" } },
        { ok: false, error: { code: "V1", message: "v1 failure" } },
        { ok: true, result: { id: 7, worker: "raw" } },
      ]);
      expect(drops).toHaveLength(1);
      expect(drops[0]).toMatchObject({
        reason: "malformed",
        message: expect.stringMatching(/got 2 frames whose last is not a headers frame/),
      });
    } finally {
      push.close();
    }
  });

  test("push(task, { headers }) sends [body, H]; without it the task stays one frame; batch refuses headers", async () => {
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    const pull = new zmq.Pull({ linger: 0 });
    try {
      pull.connect(source.endpoint);
      await ready(source, 1);
      await source.push({ id: 1 }, { headers: { traceparent: "00-abc-def-01" } });
      await source.push({ id: 2 });
      const first = await within(pull.receive(), WAIT_MS, "the task with headers");
      expect(first.map(String)).toEqual([JSON.stringify({ id: 1 }), JSON.stringify({ traceparent: "00-abc-def-01" })]);
      const second = await within(pull.receive(), WAIT_MS, "the v1 task");
      expect(second).toHaveLength(1);
      expect(source.stats.pushed).toBe(2);
    } finally {
      pull.close();
    }
    await using batching = await PipelineSource.bind(endpointFor(transport), Jobs, { batch: true });
    await expect(batching.push({ id: 1 }, { headers: {} })).rejects.toThrow(/`headers` cannot be used with `batch`/);
  });

  test("a worker runs protocol 1.1 tasks ([body, H]) and v1 tasks alike", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs);
    await using _worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, ({ id }) => ({
      id,
      worker: "w",
    }));
    await ready(source, 1);
    await source.push({ id: 1 }, { headers: { traceparent: "00-abc-def-01", "x-future": true } });
    await source.push({ id: 2 });
    const outcomes = await sink.collect(2, { timeoutMs: WAIT_MS });
    expect(outcomes.map((o) => (o.ok ? resultOf(o).id : o.error.code)).sort()).toEqual([1, 2]);
  });
});
