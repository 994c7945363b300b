/**
 * Fault-test role: a worker, `RpcServer.connect(broker, Fault, …, { service, name, heartbeatMs })`, registered with
 * an MDP broker. Prints `ready` once connect() resolved (the broker's `worker:ready` event says when it is in
 * service), `exec` per handler start, every `onEvent` event with its time, and `stats` when it stops.
 * Settings: {@link WorkerSettings}. Stdin: `stop`.
 */
import { RpcServer } from "../../../src/index.js";
import { Fault, type WorkerSettings } from "../harness/contract.js";
import { emit, fail, settings } from "../harness/emit.js";
import { faultHandlers, heartbeatOptions, serveUntilStopped } from "./handlers.js";

const config = settings() as WorkerSettings;
try {
  const server = await RpcServer.connect(config.broker, Fault, faultHandlers(config.name), {
    service: config.service,
    name: config.name,
    heartbeatMs: config.heartbeatMs,
    ...(config.liveness === undefined ? {} : { liveness: config.liveness }),
    concurrency: config.concurrency ?? 50,
    ...heartbeatOptions(config),
    drainTimeoutMs: 500,
    lingerMs: 0,
    onEvent: (event) => emit({ type: "event", event: { ...event } }),
  });
  serveUntilStopped(server, config.lifeMs, [config.broker]);
} catch (err) {
  fail(err);
}
