/**
 * Pipeline demo worker: pulls tasks, "works" for each task's workMs, pushes a result; runs until SIGINT/SIGTERM.
 * With PIPELINE_MODE=reliable it takes tasks from a reliable pipeline broker on credit and returns each result to
 * it (the acknowledgement); a task it holds when it dies goes to another worker.
 *
 * Environment: PIPELINE_MODE plain | reliable (default plain); WORKER_NAME (default worker-<host>-<pid>);
 * CONCURRENCY (default 1; in reliable mode also the tasks the broker sends it at once). Plain: VENT_CONNECT (default
 * tcp://127.0.0.1:5557; a streamer's backend works too); SINK_CONNECT (default tcp://127.0.0.1:5558). Reliable:
 * BROKER_BACKEND_CONNECT, the broker's backend (default tcp://127.0.0.1:5560); HEARTBEAT_MS (default 2500, as the
 * broker's). CURVE (see ../shared/curve.ts): CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT, one server certificate
 * for both the ventilator and the sink (or a streamer's, or the broker's). Unset: plaintext.
 */
import { hostname } from "node:os";
import { PipelineWorker } from "typed-zmq";
import { Tasks } from "../../schemas/tasks.js";
import {
  intSetting,
  isMain,
  output,
  pause,
  pipelineMode,
  runAsCommand,
  setting,
  stopped,
  type DemoOptions,
} from "../shared/cli.js";
import { clientCurve, describeCurve } from "../shared/curve.js";

export async function main(options: DemoOptions = {}): Promise<number> {
  const log = output(options);
  const name = setting(options, "WORKER_NAME", `worker-${hostname()}-${process.pid}`);
  const reliable = pipelineMode(options) === "reliable";
  const tasks = reliable
    ? setting(options, "BROKER_BACKEND_CONNECT", "tcp://127.0.0.1:5560")
    : setting(options, "VENT_CONNECT", "tcp://127.0.0.1:5557");
  const results = setting(options, "SINK_CONNECT", "tcp://127.0.0.1:5558");
  const security = clientCurve(options);
  await using worker = await PipelineWorker.connect(
    reliable ? { tasks } : { tasks, results },
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
      ...(reliable ? { mode: "reliable", name, heartbeatMs: Math.max(1, intSetting(options, "HEARTBEAT_MS", 2_500)) } : {}),
      onError: (failure) => log(`worker ${name}: task failed: ${failure.code} ${failure.message}`),
      ...security,
    },
  );
  log(`worker ${name}: ${describeCurve(security)}`);
  log(
    reliable
      ? `worker ${name}: taking tasks from the reliable pipeline broker at ${tasks}`
      : `worker ${name}: pulling from ${tasks}, pushing to ${results}`,
  );
  await stopped(options.signal);
  log(`worker ${name}: stopping after ${worker.stats.completed} tasks`);
  return worker.stats.completed;
}

if (isMain(import.meta.url)) await runAsCommand(main);
