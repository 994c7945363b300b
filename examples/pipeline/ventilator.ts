/**
 * Pipeline demo ventilator: waits for WORKERS workers, pushes COUNT tasks, exits 0 once they are handed on. With
 * PIPELINE_MODE=reliable it pushes to a reliable pipeline broker instead and exits 0 once the broker has acknowledged
 * (with a store: committed) every task, whether or not any worker runs.
 *
 * Environment: PIPELINE_MODE plain | reliable (default plain); COUNT (default 100); MAX_WORK_MS, the most work per
 * task (default 50). Plain: VENT_BIND (default tcp://*:5557); WORKERS to wait for before pushing (default 1; not
 * observable on inproc, where workers must connect first). Reliable: BROKER_FRONTEND_CONNECT, the broker's frontend
 * (default tcp://127.0.0.1:5559); TASK_PREFIX, the start of each task id (default vent-<pid>-; task ids make a
 * repeated push harmless). CURVE (see ../shared/curve.ts): plain, the server's CURVE_SERVER_CERT and
 * CURVE_ALLOW_DIR; reliable, the broker's client CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT. Unset: plaintext.
 */
import { PipelineSource, parseEndpoint } from "typed-zmq";
import { Tasks } from "../../schemas/tasks.js";
import { intSetting, isMain, output, pipelineMode, runAsCommand, setting, type DemoOptions } from "../shared/cli.js";
import { clientCurve, describeCurve, serverCurve } from "../shared/curve.js";

/** The same spread of work every run. */
function workFor(id: number, maxWorkMs: number): number {
  return maxWorkMs === 0 ? 0 : ((id * 37) % maxWorkMs) + 1;
}

/** Reliable mode: every task acknowledged by the broker; no worker needs to be up. */
async function reliable(options: DemoOptions, count: number, maxWorkMs: number): Promise<number> {
  const log = output(options);
  const broker = setting(options, "BROKER_FRONTEND_CONNECT", "tcp://127.0.0.1:5559");
  const prefix = setting(options, "TASK_PREFIX", `vent-${process.pid}-`);
  const security = clientCurve(options);
  await using source = await PipelineSource.connect(broker, Tasks, { mode: "reliable", ...security });
  log(`ventilator: ${describeCurve(security)}`);
  log(`ventilator: pushing ${count} tasks to the reliable pipeline broker at ${broker}`);
  let totalMs = 0;
  const pushes: Promise<void>[] = [];
  for (let id = 0; id < count; id++) {
    const workMs = workFor(id, maxWorkMs);
    totalMs += workMs;
    pushes.push(source.push({ id, workMs }, { id: `${prefix}${id}`, signal: options.signal, timeoutMs: 60_000 }));
  }
  await Promise.all(pushes);
  log(`ventilator: ${count} tasks acknowledged by the broker (${totalMs} ms of work in total)`);
  return count;
}

export async function main(options: DemoOptions = {}): Promise<number> {
  const log = output(options);
  const count = intSetting(options, "COUNT", 100);
  const workers = intSetting(options, "WORKERS", 1);
  const maxWorkMs = intSetting(options, "MAX_WORK_MS", 50);
  if (pipelineMode(options) === "reliable") return reliable(options, count, maxWorkMs);
  const security = serverCurve(options);
  await using source = await PipelineSource.bind(setting(options, "VENT_BIND", "tcp://*:5557"), Tasks, security);
  log(`ventilator: ${describeCurve(security)}`);
  log(`ventilator: bound to ${source.endpoint}`);
  if (workers > 0 && parseEndpoint(source.endpoint).transport !== "inproc") {
    log(`ventilator: waiting for ${workers} worker(s)`);
    await source.waitForWorkers(workers, { signal: options.signal, timeoutMs: 60_000 });
  }
  let totalMs = 0;
  for (let id = 0; id < count; id++) {
    const workMs = workFor(id, maxWorkMs);
    totalMs += workMs;
    await source.push({ id, workMs }, { signal: options.signal });
  }
  log(`ventilator: sent ${count} tasks (${totalMs} ms of work in total)`);
  return count;
}

if (isMain(import.meta.url)) await runAsCommand(main);
