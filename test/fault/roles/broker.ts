/**
 * Fault-test role: an MDP broker, `RpcBroker.bind({ frontend, backend }, { heartbeatMs, liveness })`. Prints
 * `ready` with [frontend, backend] (the real ports), every `onEvent` event with the time it happened
 * (`worker:ready`, `worker:evicted`, ...), and `stats` when it stops. Stdin: `stop`, `services` (prints
 * `broker.services()` as a `stats` line).
 * Settings: {@link BrokerSettings}.
 */
import { RpcBroker } from "../../../src/index.js";
import type { BrokerSettings } from "../harness/contract.js";
import { control, emit, fail, settings, stopOnce } from "../harness/emit.js";

const config = settings() as BrokerSettings;
try {
  const broker = await RpcBroker.bind(
    { frontend: config.frontend, backend: config.backend },
    {
      heartbeatMs: config.heartbeatMs,
      liveness: config.liveness,
      ...(config.serviceWaitMs === undefined ? {} : { serviceWaitMs: config.serviceWaitMs }),
      drainTimeoutMs: 500,
      onEvent: (event) => emit({ type: "event", event: { ...event } }),
    },
  );
  control(
    config.lifeMs,
    stopOnce(broker, () => broker.stats),
    { services: () => emit({ type: "stats", stats: broker.services() }) },
  );
  emit({ type: "ready", endpoints: [broker.frontend, broker.backend], pid: process.pid });
} catch (err) {
  fail(err);
}
