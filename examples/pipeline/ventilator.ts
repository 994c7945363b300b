/**
 * Pipeline demo ventilator: waits for WORKERS workers, pushes COUNT tasks, exits 0 once they are handed on.
 *
 * Environment: VENT_BIND (default tcp://*:5557); COUNT (default 100); WORKERS to wait for before pushing (default
 * 1; not observable on inproc, where workers must connect first); MAX_WORK_MS, the most work per task (default 50).
 * CURVE (see ../shared/curve.ts): CURVE_SERVER_CERT and CURVE_ALLOW_DIR. Unset: plaintext.
 */
import { PipelineSource, parseEndpoint } from "typed-zmq";
import { Tasks } from "../../schemas/tasks.js";
import { intSetting, isMain, output, runAsCommand, setting, type DemoOptions } from "../shared/cli.js";
import { describeCurve, serverCurve } from "../shared/curve.js";

export async function main(options: DemoOptions = {}): Promise<number> {
  const log = output(options);
  const count = intSetting(options, "COUNT", 100);
  const workers = intSetting(options, "WORKERS", 1);
  const maxWorkMs = intSetting(options, "MAX_WORK_MS", 50);
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
    const workMs = maxWorkMs === 0 ? 0 : ((id * 37) % maxWorkMs) + 1; // spread, but the same every run
    totalMs += workMs;
    await source.push({ id, workMs }, { signal: options.signal });
  }
  log(`ventilator: sent ${count} tasks (${totalMs} ms of work in total)`);
  return count;
}

if (isMain(import.meta.url)) await runAsCommand(main);
