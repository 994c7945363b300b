/**
 * Fault-test role: a reliable `PipelineSource` connected to a broker's frontend. Pushes `count` tasks with the ids
 * `${prefix}${i}`, at most `inFlight` awaited at once, and prints the ids the broker acknowledged (`accepted`) or
 * refused (`rejected`, with the code), in chunks, then `done`. With `exitWhenDone` it closes and exits 0 (a source
 * that is gone before any worker starts); otherwise it waits for `stop`.
 * Settings: {@link PipelineSourceSettings}.
 */
import { PipelineSource, isTaskRejectedError, isTypedZmqError } from "../../../../src/index.js";
import { FaultJobs, type PipelineSourceSettings } from "../contract.js";
import { control, emit, fail, settings } from "../../harness/emit.js";

const config = settings() as PipelineSourceSettings;
try {
  const source = await PipelineSource.connect(config.endpoint, FaultJobs, {
    mode: "reliable",
    ...(config.batch === true ? { batch: true } : {}),
  });
  emit({ type: "ready", endpoints: [config.endpoint], pid: process.pid });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void source.close().finally(() => process.exit(0));
  };
  control(config.lifeMs, stop);
  const accepted: string[] = [];
  const flush = (): void => {
    if (accepted.length > 0) emit({ type: "accepted", ids: accepted.splice(0) });
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < config.count && !stopping) {
      const id = `${config.prefix}${next++}`;
      try {
        await source.push({ id, ms: config.ms }, { id, timeoutMs: config.timeoutMs });
        accepted.push(id);
        if (accepted.length >= 100) flush();
      } catch (err) {
        // A refusal names the broker's reason (STORE_FULL, QUEUE_FULL, ...); anything else its own code.
        const code = isTaskRejectedError(err) ? err.reason : isTypedZmqError(err) ? err.code : String(err);
        emit({ type: "rejected", ids: [id], code });
      }
    }
  };
  await Promise.all(Array.from({ length: config.inFlight }, lane));
  flush();
  emit({ type: "done", made: next, hung: [] });
  if (config.exitWhenDone) stop();
} catch (err) {
  fail(err);
}
