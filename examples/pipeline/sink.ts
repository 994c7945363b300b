/**
 * Pipeline demo sink: collects COUNT results, prints per-worker totals and the elapsed time, exits 0.
 *
 * Environment: SINK_BIND (default tcp://*:5558); COUNT (default 100); TIMEOUT_MS for the whole batch (default 60000).
 * CURVE (see ../shared/curve.ts): CURVE_SERVER_CERT and CURVE_ALLOW_DIR. Unset: plaintext.
 */
import { PipelineSink } from "typed-zmq";
import { Tasks } from "../../schemas/tasks.js";
import { intSetting, isMain, output, runAsCommand, setting, type DemoOptions } from "../shared/cli.js";
import { describeCurve, serverCurve } from "../shared/curve.js";

export async function main(options: DemoOptions = {}): Promise<Record<string, number>> {
  const log = output(options);
  const count = intSetting(options, "COUNT", 100);
  const security = serverCurve(options);
  await using sink = await PipelineSink.bind(setting(options, "SINK_BIND", "tcp://*:5558"), Tasks, security);
  log(`sink: ${describeCurve(security)}`);
  log(`sink: bound to ${sink.endpoint}, waiting for ${count} results`);
  const deadline = Date.now() + Math.max(1, intSetting(options, "TIMEOUT_MS", 60_000));
  const perWorker: Record<string, number> = {};
  let started = 0;
  let failures = 0;
  for (let received = 0; received < count; received++) {
    const outcome = await sink.receive({ signal: options.signal, timeoutMs: Math.max(1, deadline - Date.now()) });
    if (received === 0) started = performance.now();
    if (outcome.ok) perWorker[outcome.result.worker] = (perWorker[outcome.result.worker] ?? 0) + 1;
    else {
      failures++;
      log(`sink: a task failed: ${outcome.error.code} ${outcome.error.message}`);
    }
  }
  const elapsed = Math.round(performance.now() - started);
  for (const [worker, n] of Object.entries(perWorker).sort()) log(`sink: ${worker} did ${n} tasks`);
  log(`sink: ${count} results (${failures} failed) from ${Object.keys(perWorker).length} workers in ${elapsed} ms`);
  return perWorker;
}

if (isMain(import.meta.url)) await runAsCommand(main);
