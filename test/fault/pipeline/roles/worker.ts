/**
 * Fault-test role: a reliable `PipelineWorker` connected to a broker's backend. Prints `exec` when a handler starts
 * (id, worker, delivery), `ready` once connected, and `stats` when it stops. Tasks named in `poison` throw an
 * unexpected error, every time. Settings: {@link PipelineWorkerSettings}. Stdin: `stop`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { PipelineWorker } from "../../../../src/index.js";
import { FaultJobs, type PipelineWorkerSettings } from "../contract.js";
import { control, emit, fail, settings, stopOnce } from "../../harness/emit.js";

const config = settings() as PipelineWorkerSettings;
const poison = new Set(config.poison ?? []);
try {
  const worker = await PipelineWorker.connect(
    { tasks: config.endpoint },
    FaultJobs,
    async ({ id, ms }, { signal }) => {
      emit({ type: "exec", id, server: config.name });
      if (poison.has(id)) throw new Error(`poison task ${id}`);
      if (ms > 0) await sleep(ms, undefined, { signal });
      return { id, worker: config.name };
    },
    {
      mode: "reliable",
      name: config.name,
      concurrency: config.concurrency,
      heartbeatMs: config.heartbeatMs,
      liveness: config.liveness,
      drainTimeoutMs: 500,
      onError: () => undefined,
    },
  );
  control(
    config.lifeMs,
    stopOnce(worker, () => worker.stats),
  );
  emit({ type: "ready", endpoints: [config.endpoint], pid: process.pid });
} catch (err) {
  fail(err);
}
