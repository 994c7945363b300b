/**
 * Pipeline demo sink: collects COUNT results, prints per-worker totals and the elapsed time, exits 0. With
 * PIPELINE_MODE=reliable it takes them from a reliable pipeline broker, which keeps each result until a sink has
 * taken it: the sink may start after the work is done.
 *
 * Environment: PIPELINE_MODE plain | reliable (default plain); COUNT (default 100); TIMEOUT_MS for the whole batch
 * (default 60000). Plain: SINK_BIND (default tcp://*:5558). Reliable: BROKER_FRONTEND_CONNECT, the broker's frontend
 * (default tcp://127.0.0.1:5559); HEARTBEAT_MS (default 2500, as the broker's). CURVE (see ../shared/curve.ts):
 * plain, the server's CURVE_SERVER_CERT and CURVE_ALLOW_DIR; reliable, the broker's client CURVE_CLIENT_CERT and
 * CURVE_SERVER_PUBLIC_CERT. Unset: plaintext.
 */
import { PipelineSink } from "typed-zmq";
import { Tasks } from "../../schemas/tasks.js";
import { intSetting, isMain, output, pipelineMode, runAsCommand, setting, type DemoOptions } from "../shared/cli.js";
import { clientCurve, describeCurve, serverCurve } from "../shared/curve.js";

/** The sink's socket: bound (plain), or connected to the reliable pipeline broker. */
async function openSink(options: DemoOptions): Promise<{ sink: PipelineSink<typeof Tasks>; where: string; curve: string }> {
  if (pipelineMode(options) === "reliable") {
    const broker = setting(options, "BROKER_FRONTEND_CONNECT", "tcp://127.0.0.1:5559");
    const security = clientCurve(options);
    const sink = await PipelineSink.connect(broker, Tasks, {
      mode: "reliable",
      heartbeatMs: Math.max(1, intSetting(options, "HEARTBEAT_MS", 2_500)),
      ...security,
    });
    return { sink, where: `connected to the reliable pipeline broker at ${broker}`, curve: describeCurve(security) };
  }
  const security = serverCurve(options);
  const sink = await PipelineSink.bind(setting(options, "SINK_BIND", "tcp://*:5558"), Tasks, security);
  return { sink, where: `bound to ${sink.endpoint}`, curve: describeCurve(security) };
}

export async function main(options: DemoOptions = {}): Promise<Record<string, number>> {
  const log = output(options);
  const count = intSetting(options, "COUNT", 100);
  const opened = await openSink(options);
  await using sink = opened.sink;
  log(`sink: ${opened.curve}`);
  log(`sink: ${opened.where}, waiting for ${count} results`);
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
