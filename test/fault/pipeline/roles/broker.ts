/**
 * Fault-test role: a reliable `PipelineBroker` (durable with `store`). Prints `ready` with [frontend, backend], every
 * `onEvent` event with its time, and `stats` on the stdin command `stats` and when it stops.
 * Settings: {@link PipelineBrokerSettings}.
 */
import { PipelineBroker } from "../../../../src/index.js";
import type { PipelineBrokerSettings } from "../contract.js";
import { control, emit, fail, settings, stopOnce } from "../../harness/emit.js";

const config = settings() as PipelineBrokerSettings;
try {
  const broker = await PipelineBroker.bind(
    { frontend: config.frontend, backend: config.backend },
    {
      ...(config.store === undefined ? {} : { store: config.store }),
      ...(config.maxStoreBytes === undefined ? {} : { maxStoreBytes: config.maxStoreBytes }),
      ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
      ...(config.maxDeliveries === undefined ? {} : { maxDeliveries: config.maxDeliveries }),
      heartbeatMs: config.heartbeatMs,
      liveness: config.liveness,
      onEvent: (event) => emit({ type: "event", event: { ...event } }),
    },
  );
  control(
    config.lifeMs,
    stopOnce(broker, () => broker.stats),
    { stats: () => emit({ type: "stats", stats: broker.stats }) },
  );
  emit({ type: "ready", endpoints: [broker.frontend, broker.backend], pid: process.pid });
} catch (err) {
  fail(err);
}
