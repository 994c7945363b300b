/**
 * Fault-test role: a reliable `PipelineSink` connected to a broker's frontend. Receives until `count` distinct task
 * ids reached its user code and prints them in chunks (`outcomes`: the ok ids, and the failed ones with their code),
 * then `stats` (the sink's counters, with the duplicates it kept from user code) and `done`; exits 0 after close.
 * A task id this user code sees twice would show in two chunks: the test counts it as a duplicate.
 * Settings: {@link PipelineSinkSettings}.
 */
import { PipelineSink } from "../../../../src/index.js";
import { FaultJobs, type PipelineSinkSettings } from "../contract.js";
import { control, emit, fail, settings } from "../../harness/emit.js";

const config = settings() as PipelineSinkSettings;
try {
  const sink = await PipelineSink.connect(config.endpoint, FaultJobs, {
    mode: "reliable",
    heartbeatMs: config.heartbeatMs,
    liveness: config.liveness,
  });
  const controller = new AbortController();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    controller.abort();
    emit({ type: "stats", stats: sink.stats });
    void sink.close().finally(() => process.exit(0));
  };
  control(config.lifeMs, stop);
  emit({ type: "ready", endpoints: [config.endpoint], pid: process.pid });
  const seen = new Set<string>();
  let ok: string[] = [];
  let failed: Record<string, string> = {};
  let chunk = 0;
  const flush = (): void => {
    if (chunk === 0) return;
    emit({ type: "outcomes", ok, failed });
    ok = [];
    failed = {};
    chunk = 0;
  };
  const ticker = setInterval(flush, 100);
  try {
    while (seen.size < config.count && !controller.signal.aborted) {
      const outcome = await sink.receive({ signal: controller.signal });
      const id = outcome.taskId ?? "(no id)";
      seen.add(id);
      if (outcome.ok) ok.push(id);
      else failed[id] = outcome.error.code;
      if (++chunk >= 100) flush();
    }
  } finally {
    clearInterval(ticker);
    flush();
  }
  emit({ type: "done", made: seen.size, hung: [] });
  stop();
} catch (err) {
  if (!(err instanceof Error && err.name === "AbortedError")) fail(err);
}
