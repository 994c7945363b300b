/**
 * The pipeline worker's per-task fast path (a synchronous handler finishes in the turn its task arrived: no promise,
 * closure or context object per task) must behave as the general path does: results in task order, every failure
 * reported per task, the concurrency limit kept, the counters right. Mixed synchronous and asynchronous handlers,
 * unbatched and batched, with and without a results socket.
 */
import { describe, expect, test } from "vitest";
import * as z from "zod";
import {
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  defineJobs,
  type JobContext,
  type JobOutcome,
  type PipelineWorkerErrorInfo,
} from "../../src/index.js";
import { endpointFor } from "../helpers/endpoints.js";

const Jobs = defineJobs("fast-path.v1", {
  task: z.object({ id: z.number().int().nonnegative() }),
  result: z.object({ id: z.number().int(), worker: z.string() }),
});

const WAIT_MS = 5_000;
const COUNT = 400;

/** What the handler does with task `id` (and what the sink must see for it). */
function planOf(id: number): "invalid-task" | "throws" | "invalid-result" | "async" | "sync" {
  if (id % 13 === 12) return "invalid-task";
  if (id % 7 === 3) return "throws";
  if (id % 11 === 5) return "invalid-result";
  if (id % 5 === 0) return "async";
  return "sync";
}

/** The task pushed for `id`: a negative id breaks the task schema (the source does not check, see below). */
function taskOf(id: number): { id: number } {
  return { id: planOf(id) === "invalid-task" ? -1 : id };
}

function expectedLabel(id: number): string {
  switch (planOf(id)) {
    case "invalid-task":
      return "INVALID_TASK";
    case "throws":
      return "HANDLER_ERROR";
    case "invalid-result":
      return "INVALID_RESULT";
    default:
      return `ok:${id}`;
  }
}

function labelOf(outcome: JobOutcome<typeof Jobs>): string {
  return outcome.ok ? `ok:${outcome.result.id}` : outcome.error.code;
}

function handler(
  { id }: { id: number },
  context: JobContext<typeof Jobs>,
): { id: number; worker: string } | Promise<{ id: number; worker: string }> {
  if (context.contract !== Jobs || context.signal.aborted) throw new Error("bad context");
  switch (planOf(id)) {
    case "throws":
      throw new Error(`boom ${id}`);
    case "invalid-result":
      // Breaks the result schema: the worker must send an INVALID_RESULT failure for this task.
      return { id, worker: 5 as unknown as string };
    case "async":
      return new Promise((resolve) => setImmediate(() => resolve({ id, worker: "async" })));
    default:
      return { id, worker: "sync" };
  }
}

const ids = Array.from({ length: COUNT }, (_, i) => i);
const expected = ids.map(expectedLabel);
const okCount = expected.filter((l) => l.startsWith("ok:")).length;

describe.each([
  { name: "one task per message", batch: false },
  { name: "batched tasks and results", batch: true },
])("PipelineWorker fast path, $name", ({ batch }) => {
  test("keeps the order of results, fails each bad task on its own, and counts every task", async () => {
    await using sink = await PipelineSink.bind(endpointFor("tcp"), Jobs);
    await using source = await PipelineSource.bind(endpointFor("tcp"), Jobs, {
      validateOutgoing: false,
      ...(batch && { batch: { maxMessages: 16, maxDelayMs: 1 } }),
    });
    const errors: PipelineWorkerErrorInfo[] = [];
    await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, handler, {
      onError: (info) => void errors.push(info),
      ...(batch && { batchResults: { maxMessages: 8, maxDelayMs: 1 } }),
    });
    await source.waitForWorkers(1, { timeoutMs: WAIT_MS });

    await Promise.all(ids.map((id) => source.push(taskOf(id))));
    const outcomes = await sink.collect(COUNT, { timeoutMs: WAIT_MS });
    const labels = outcomes.map(labelOf);
    if (batch) {
      // Failures are sent at once while results wait in their batch: the results keep their order among themselves.
      expect(labels.filter((l) => l.startsWith("ok:"))).toEqual(expected.filter((l) => l.startsWith("ok:")));
      expect([...labels].sort()).toEqual([...expected].sort());
    } else {
      expect(labels).toEqual(expected);
    }
    const failed = (code: string): number => expected.filter((l) => l === code).length;
    expect(worker.stats).toMatchObject({
      received: COUNT,
      completed: okCount,
      inFlight: 0,
      failed: {
        INVALID_TASK: failed("INVALID_TASK"),
        HANDLER_ERROR: failed("HANDLER_ERROR"),
        INVALID_RESULT: failed("INVALID_RESULT"),
      },
    });
    // Latency covers every task whose handler ran: all but the invalid tasks.
    expect(worker.stats.latency.count).toBe(COUNT - failed("INVALID_TASK"));
    expect(errors.map((e) => e.code).sort()).toEqual(expected.filter((l) => !l.startsWith("ok:")).sort());
  });
});

describe("PipelineWorker fast path without a results socket", () => {
  test("runs every task once, in order, and counts the results as checked", async () => {
    await using source = await PipelineSource.bind(endpointFor("tcp"), Jobs, { validateOutgoing: false });
    const seen: number[] = [];
    const errors: string[] = [];
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint },
      Jobs,
      (task, context) => {
        seen.push(task.id);
        return handler(task, context);
      },
      { onError: (info) => void errors.push(info.code) },
    );
    await source.waitForWorkers(1, { timeoutMs: WAIT_MS });
    await Promise.all(ids.map((id) => source.push(taskOf(id))));
    const ran = ids.filter((id) => planOf(id) !== "invalid-task");
    await expect.poll(() => worker.stats.received, { timeout: WAIT_MS }).toBe(COUNT);
    await expect.poll(() => worker.stats.completed + errors.length, { timeout: WAIT_MS }).toBe(COUNT);
    expect(seen).toEqual(ran);
    expect(worker.stats.completed).toBe(okCount);
    expect(worker.stats.inFlight).toBe(0);
  });
});

describe("PipelineWorker fast path and the concurrency limit", () => {
  test("never runs more handlers at once than `concurrency`, synchronous or not", async () => {
    await using sink = await PipelineSink.bind(endpointFor("tcp"), Jobs);
    await using source = await PipelineSource.bind(endpointFor("tcp"), Jobs);
    let running = 0;
    let most = 0;
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      ({ id }) => {
        running++;
        most = Math.max(most, running);
        if (id % 2 === 0) {
          running--;
          return { id, worker: "sync" };
        }
        return new Promise((resolve) =>
          setTimeout(() => {
            running--;
            resolve({ id, worker: "async" });
          }, 1),
        );
      },
      { concurrency: 3 },
    );
    await source.waitForWorkers(1, { timeoutMs: WAIT_MS });
    await Promise.all(Array.from({ length: 60 }, (_, id) => source.push({ id })));
    const outcomes = await sink.collect(60, { timeoutMs: WAIT_MS });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(new Set(outcomes.map(labelOf)).size).toBe(60);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(3);
    expect(worker.stats).toMatchObject({ received: 60, completed: 60, inFlight: 0 });
  });
});
