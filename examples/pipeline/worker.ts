/**
 * Pipeline demo worker: pulls tasks, "works" for each task's workMs, pushes a result; runs until SIGINT/SIGTERM.
 *
 * Environment: VENT_CONNECT (default tcp://127.0.0.1:5557; a streamer's backend works too); SINK_CONNECT (default
 * tcp://127.0.0.1:5558); WORKER_NAME (default worker-<host>-<pid>); CONCURRENCY (default 1). CURVE (see
 * ../shared/curve.ts): CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT, one server certificate for both the
 * ventilator and the sink (or a streamer's). Unset: plaintext.
 */
import { hostname } from "node:os";
import { PipelineWorker } from "typed-zmq";
import { Tasks } from "../../schemas/tasks.js";
import { intSetting, isMain, output, pause, runAsCommand, setting, stopped, type DemoOptions } from "../shared/cli.js";
import { clientCurve, describeCurve } from "../shared/curve.js";

export async function main(options: DemoOptions = {}): Promise<number> {
  const log = output(options);
  const name = setting(options, "WORKER_NAME", `worker-${hostname()}-${process.pid}`);
  const tasks = setting(options, "VENT_CONNECT", "tcp://127.0.0.1:5557");
  const results = setting(options, "SINK_CONNECT", "tcp://127.0.0.1:5558");
  const security = clientCurve(options);
  await using worker = await PipelineWorker.connect(
    { tasks, results },
    Tasks,
    async ({ id, workMs }, { signal }) => {
      const started = performance.now();
      await pause(workMs, signal); // the simulated work
      const ms = Math.round(performance.now() - started);
      log(`worker ${name}: task ${id} done in ${ms} ms`);
      return { id, worker: name, ms };
    },
    {
      concurrency: Math.max(1, intSetting(options, "CONCURRENCY", 1)),
      onError: (failure) => log(`worker ${name}: task failed: ${failure.code} ${failure.message}`),
      ...security,
    },
  );
  log(`worker ${name}: ${describeCurve(security)}`);
  log(`worker ${name}: pulling from ${tasks}, pushing to ${results}`);
  await stopped(options.signal);
  log(`worker ${name}: stopping after ${worker.stats.completed} tasks`);
  return worker.stats.completed;
}

if (isMain(import.meta.url)) await runAsCommand(main);
