/**
 * Fault-test role: a `Subscriber` connected to `endpoint`, subscribed to `topics`, doing `workUs` of busy work per
 * message (a slow subscriber). Prints `ready` once connected; at the first marker it prints an event `marker` with
 * its counts up to and including it (received, gaps, the first `n` it got), then reads on without counting until
 * `stop`. Prints `stats` when it stops. Stdin: `stop`.
 */
import { Subscriber } from "../../../src/index.js";
import { control, emit, fail, settings } from "../harness/emit.js";
import { FaultTicks, type PubSubSubscriberSettings } from "./pubsub-contract.js";

const config = settings() as PubSubSubscriberSettings;
try {
  const sub = await Subscriber.connect(config.endpoint, FaultTicks, {
    topics: config.topics,
    receiveHighWaterMark: config.receiveHighWaterMark,
  });
  control(config.lifeMs, (why) => {
    emit({ type: "stats", stats: { why, subscriber: sub.stats } });
    void sub.close().then(() => process.exit(0));
  });
  emit({ type: "ready", endpoints: [config.endpoint], pid: process.pid });
  let received = 0;
  let first: number | undefined;
  let reported = false;
  for await (const msg of sub) {
    const until = performance.now() + config.workUs / 1000;
    while (performance.now() < until) {
      // busy: this subscriber is slow on purpose
    }
    if (reported) continue;
    received++;
    first ??= msg.data.n;
    if (msg.data.marker === true) {
      reported = true;
      const { gaps, gapsByTopic, outOfOrder } = sub.stats;
      emit({ type: "event", event: { type: "marker", marker: msg.data.n, received, gaps, gapsByTopic, outOfOrder, first } });
    }
  }
} catch (err) {
  fail(err);
}
