import { fileURLToPath } from "node:url";
import * as z from "zod";
import { Publisher, Subscriber, defineTopics, isTimeoutError } from "typed-zmq";

export const Prices = defineTopics("prices.v1", {
  price: z.object({ symbol: z.string(), cents: z.number().int(), last: z.boolean().optional() }),
});

export async function main({ signal }: { signal?: AbortSignal } = {}) {
  // Lossy (the default) with headers: every message carries its topicSeq, so subscribers can count what they miss.
  await using pub = await Publisher.bind("tcp://127.0.0.1:0", Prices, { headers: true, sendHighWaterMark: 100 });
  await using sub = await Subscriber.connect(pub.endpoint, Prices, {
    topics: ["price.GOOG"],
    receiveHighWaterMark: 100,
    onGap: (gap) => console.log(`missed ${gap.missed} on ${gap.topic} (topicSeq ${gap.from}..${gap.to})`),
  });
  await pub.waitForSubscribers(1, { signal, timeoutMs: 2_000 }); // subscribed before the first message

  // A burst the subscriber does not read meanwhile: libzmq drops what does not fit in the queues.
  for (let i = 0; i < 5_000; i++) await pub.publish("price.GOOG", { symbol: "GOOG", cents: 10_000 + i });

  // A loss is seen when the next message arrives, so end with a marker, resent until one gets through.
  let received = 0;
  for (let sent = 0, done = false; !done && sent < 100;) {
    await pub.publish("price.GOOG", { symbol: "GOOG", cents: 0, last: true });
    sent++;
    for (;;) {
      const msg = await sub.receive({ signal, timeoutMs: 50 }).catch((err: unknown) => {
        if (isTimeoutError(err)) return undefined; // nothing more for now: send the marker again
        throw err;
      });
      if (msg === undefined) break;
      received++;
      if (msg.data.last === true) {
        done = true;
        break;
      }
    }
  }
  const { gaps, gapsByTopic } = sub.stats;
  console.log(`received ${received}, missed ${gaps}`, gapsByTopic); // received + missed = published up to the marker
  return { received, gaps };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
