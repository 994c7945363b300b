/**
 * Fault-test role: a `Publisher` bound to `endpoint`. Prints an event `bound` with its endpoint, waits for
 * `subscribers` subscriptions to `topic`, prints `ready`, and starts on `go`.
 * - noDrop (`noDrop: true`): publishes on `topic` until `stop` (at most `data`), each call with `timeoutMs`; every
 *   failed call is an event `publish:failed` with its code and how long it took, and every 100 published an event
 *   `progress`.
 * - lossy: publishes `data` messages on `topic` (each followed by one on `other`, if set), prints `data:sent`, then
 *   resends a marker on `topic` every `markerEveryMs` until `stop` (at most `maxMarkers`).
 * Prints `stats` with its counts when it stops. Stdin: `go`, `stop`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Publisher, isTypedZmqError } from "../../../src/index.js";
import { control, emit, fail, settings } from "../harness/emit.js";
import { FaultTicks, type PubSubPublisherSettings } from "./pubsub-contract.js";

const config = settings() as PubSubPublisherSettings;
const counts = { dataSent: 0, otherSent: 0, markersSent: 0, failed: {} as Record<string, number>, maxFailedMs: 0 };
let stopping = false;
try {
  const pub = await Publisher.bind(config.endpoint, FaultTicks, {
    noDrop: config.noDrop,
    ...(config.stallLimitMs !== undefined && { stallLimitMs: config.stallLimitMs }),
    sendHighWaterMark: config.sendHighWaterMark,
    headers: true,
    lingerMs: 0,
  });
  let finished: Promise<void> = Promise.resolve();
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    void finished.then(async () => {
      emit({ type: "stats", stats: { ...counts, why, publisher: pub.stats } });
      await pub.close();
      process.exit(0);
    });
  };
  control(config.lifeMs, stop, { go: () => void (finished = run(pub).catch(fail)) });
  emit({ type: "event", event: { type: "bound", endpoint: pub.endpoint } });
  await pub.waitForSubscribers(config.subscribers, { topic: config.topic, timeoutMs: 15_000 });
  emit({ type: "ready", endpoints: [pub.endpoint], pid: process.pid });
} catch (err) {
  fail(err);
}

async function run(pub: Publisher<typeof FaultTicks>): Promise<void> {
  const pad = "x".repeat(config.padBytes);
  if (config.noDrop) {
    for (let n = 0; n < config.data && !stopping; n++) {
      const started = performance.now();
      try {
        await pub.publish(config.topic, { n, pad }, config.timeoutMs === undefined ? undefined : { timeoutMs: config.timeoutMs });
        counts.dataSent++;
        if (counts.dataSent % 100 === 0) emit({ type: "event", event: { type: "progress", published: counts.dataSent } });
      } catch (err) {
        if (!isTypedZmqError(err)) throw err;
        const tookMs = Math.round(performance.now() - started);
        counts.failed[err.code] = (counts.failed[err.code] ?? 0) + 1;
        counts.maxFailedMs = Math.max(counts.maxFailedMs, tookMs);
        emit({ type: "event", event: { type: "publish:failed", code: err.code, tookMs, n, message: err.message } });
      }
    }
    return;
  }
  for (let n = 0; n < config.data; n++) {
    await pub.publish(config.topic, { n, pad });
    counts.dataSent++;
    if (config.other !== undefined) {
      await pub.publish(config.other, { n, pad });
      counts.otherSent++;
    }
  }
  emit({ type: "event", event: { type: "data:sent", topic: config.topic, data: counts.dataSent, other: counts.otherSent } });
  while (!stopping && counts.markersSent < (config.maxMarkers ?? 500)) {
    await pub.publish(config.topic, { n: counts.markersSent + 1, marker: true });
    counts.markersSent++;
    await sleep(config.markerEveryMs ?? 20);
  }
}
