/**
 * End-to-end pipeline roles, each in its own peer process (bench/pipeline-ends.ts runs them): `source` pushes `count`
 * tasks, `worker` answers each with `{ seq, ok }` from a synchronous handler, `sink` counts distinct outcomes (by `seq`)
 * until it has `count` of them, and `queue-broker` is the reliable mode's `PipelineBroker` (durable: with a SQLite store in a
 * fresh temporary directory, removed on close). `spec.pipeline` says which pipeline: plain push-pull (the source and
 * the sink bind, the worker connects to both) or reliable/durable (the broker binds, everyone else connects to it).
 * `spec.batch` turns batching on everywhere it exists: plain, the source's `batch` and the worker's `batchResults`;
 * reliable, the source's `batch: true` (the broker's `maxBatch` default, 1,024); without it the broker gets
 * `maxBatch: 1`, so that every hop carries one task per message, as in plain unbatched push-pull.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PipelineBroker,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  type PipelineBrokerOptions,
  type PipelineSinkOptions,
  type PipelineSourceOptions,
  type PipelineWorkerOptions,
} from "../../dist/index.js";
import { codecFor, makeMessage, pipelineContract, seqOf } from "../payloads.js";
import type { PipelineMode, RoleSpec, RunResult } from "../protocol.js";
import { BATCH, watchStall, type RoleHandle } from "./common.js";

/** Pushes awaited at once by the source (a producer that does not wait for each task; under `maxPending`). */
export const PUSH_WINDOW = 1024;
/**
 * Worker `concurrency` in every variant. Reliable: the worker's credit at the broker, two REQUESTs of the broker's
 * `maxBatch` (1,024), so that the next batch is on its way while the worker runs one (with credit for one batch it
 * waits a round trip between batches: about a tenth less throughput). Plain: a synchronous handler never has more
 * than one task running, so it changes nothing there.
 */
export const WORKER_CONCURRENCY = 2048;
/** The reliable sink's FETCH window (results sent to it and not yet taken). */
export const SINK_WINDOW = 4096;

/** Milliseconds since the epoch, sub-millisecond, comparable between processes of one machine. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

function modeOf(spec: RoleSpec): PipelineMode {
  if (spec.pipeline === undefined) throw new Error(`the ${spec.role} role of the end-to-end pipeline needs spec.pipeline`);
  return spec.pipeline;
}

function idle(endpoint: string, close: () => Promise<void>, backend?: string): RoleHandle {
  return {
    endpoint,
    ...(backend === undefined ? {} : { backend }),
    run: () => Promise.resolve({ count: 0, elapsedMs: 0, endSeen: true }),
    async close() {
      await close();
      return {};
    },
  };
}

export async function openQueueBroker(spec: RoleSpec): Promise<RoleHandle> {
  const mode = modeOf(spec);
  const dir = mode === "durable" ? mkdtempSync(join(tmpdir(), "tzmq-bench-store-")) : undefined;
  const options: PipelineBrokerOptions = {
    ...(dir === undefined ? {} : { store: join(dir, "queue.db") }),
    ...(spec.batch ? {} : { maxBatch: 1 }),
    // Room for every task of a run at once, so that a slow worker never makes the broker refuse pushes.
    maxTasks: Math.max(100_000, 2 * spec.count + 16),
  };
  const removeStore = (): void => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
  let broker: PipelineBroker;
  try {
    broker = await PipelineBroker.bind({ frontend: spec.endpoint, backend: spec.backend ?? spec.endpoint }, options);
  } catch (err) {
    removeStore();
    throw err;
  }
  return {
    endpoint: broker.frontend,
    backend: broker.backend,
    // The run is the wait for the worker and the sink: no task is pushed before both are there.
    async run(): Promise<RunResult> {
      await broker.waitForWorkers(1, { timeoutMs: 15_000 });
      await broker.waitForSinks(1, { timeoutMs: 15_000 });
      return { count: 0, elapsedMs: 0, endSeen: true };
    },
    async close() {
      try {
        await broker.close();
      } finally {
        removeStore();
      }
      return {};
    },
  };
}

export async function openSource(spec: RoleSpec): Promise<RoleHandle> {
  const mode = modeOf(spec);
  const contract = pipelineContract(spec.payload, spec.validate);
  const codec = codecFor(spec.codec);
  const source =
    mode === "plain"
      ? await PipelineSource.bind(spec.endpoint, contract, { codec, ...(spec.batch ? { batch: BATCH } : {}) })
      : await PipelineSource.connect(spec.endpoint, contract, {
          codec,
          mode: "reliable",
          ...(spec.batch ? { batch: true } : {}),
        } satisfies PipelineSourceOptions);
  return {
    endpoint: mode === "plain" ? source.endpoint : spec.endpoint,
    async run(): Promise<RunResult> {
      if (mode === "plain") await source.waitForWorkers(1, { timeoutMs: 10_000 });
      const firstAt = epochNow();
      let next = 0;
      // PUSH_WINDOW lanes, each awaiting its own push: at most that many pending, refilled as each one settles. The
      // last push also flushes the batch that holds it (batched sources), rather than wait for its delay.
      const lane = async (): Promise<void> => {
        while (next < spec.count) {
          const pushed = source.push(makeMessage(spec.payload, next++));
          await (next === spec.count ? Promise.all([pushed, source.flush()]) : pushed);
        }
      };
      const lanes = Array.from({ length: Math.min(PUSH_WINDOW, spec.count) }, lane);
      await Promise.all(lanes);
      const lastAt = epochNow();
      return { count: spec.count, elapsedMs: lastAt - firstAt, endSeen: true, firstAt, lastAt };
    },
    async close() {
      await source.close();
      return {};
    },
  };
}

export async function openWorker(spec: RoleSpec): Promise<RoleHandle> {
  const mode = modeOf(spec);
  const contract = pipelineContract(spec.payload, spec.validate);
  const handler = (task: unknown): { seq: number; ok: boolean } => ({ seq: seqOf(task), ok: true });
  const common = { codec: codecFor(spec.codec), concurrency: WORKER_CONCURRENCY } as const;
  let options: PipelineWorkerOptions;
  let endpoints: { tasks: string; results?: string };
  if (mode === "plain") {
    if (spec.results === undefined) throw new Error("the plain pipeline's worker needs spec.results (the sink's endpoint)");
    endpoints = { tasks: spec.endpoint, results: spec.results };
    options = { ...common, ...(spec.batch ? { batchResults: BATCH } : {}) };
  } else {
    endpoints = { tasks: spec.endpoint };
    options = { ...common, mode: "reliable" };
  }
  const worker = await PipelineWorker.connect(endpoints, contract, handler, options);
  return idle(spec.endpoint, () => worker.close());
}

export async function openSink(spec: RoleSpec): Promise<RoleHandle> {
  const mode = modeOf(spec);
  const contract = pipelineContract(spec.payload, spec.validate);
  const options: PipelineSinkOptions = { codec: codecFor(spec.codec) };
  const sink =
    mode === "plain"
      ? await PipelineSink.bind(spec.endpoint, contract, options)
      : await PipelineSink.connect(spec.endpoint, contract, { ...options, mode: "reliable", window: SINK_WINDOW });
  return {
    endpoint: mode === "plain" ? sink.endpoint : spec.endpoint,
    async run(): Promise<RunResult> {
      // Distinct tasks, by the result's `seq` (the task's: the source numbers them 0..count-1) in every mode, so that
      // both columns pay the same for counting; reliable mode's task ids are as distinct (the sink's dedupe window
      // keeps repeats from user code), and a missing outcome shows either way.
      const seen = new Set<number>();
      let firstAt = 0;
      let lastAt: number;
      let failure: string | undefined;
      const stall = { seen: false };
      const stop = watchStall(
        () => seen.size,
        spec.stallMs,
        () => {
          stall.seen = true;
          void sink.close();
        },
      );
      try {
        if (spec.count > 0) {
          for await (const outcome of sink) {
            if (firstAt === 0) firstAt = epochNow();
            if (!outcome.ok) {
              failure = `${outcome.error.code}: ${outcome.error.message}`;
              break;
            }
            seen.add(seqOf(outcome.result));
            if (seen.size >= spec.count) break;
          }
        }
        lastAt = epochNow();
      } catch (err) {
        if (!stall.seen) throw err;
        lastAt = epochNow();
      } finally {
        stop();
      }
      if (failure !== undefined) throw new Error(`the sink got a failure outcome (${failure}); every task should succeed`);
      return { count: seen.size, elapsedMs: lastAt - firstAt, endSeen: seen.size >= spec.count, firstAt, lastAt };
    },
    async close() {
      await sink.close();
      return {};
    },
  };
}
