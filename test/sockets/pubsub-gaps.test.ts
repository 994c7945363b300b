/**
 * Gap counting with real sockets: a lossy publisher with headers floods a subscriber that does not read, so libzmq
 * drops at the high-water marks; the subscriber's gap count must equal, exactly, the messages on its topic that it
 * did not receive. Interleaved traffic on a topic it does not subscribe to must not count (that is what `topicSeq`
 * is for: `seq` jumps over it by design). A final marker is resent until one arrives, so every loss lies before the
 * last message received and can be seen.
 */
import { describe, expect, test } from "vitest";
import * as z from "zod";
import { Publisher, Subscriber, TimeoutError, defineTopics, type SubscriberGap } from "../../src/index.js";
import { TRANSPORTS, endpointFor } from "../helpers/endpoints.js";

const Ticks = defineTopics("ticks.v1", {
  ticks: z.object({ n: z.number().int(), marker: z.boolean().optional(), pad: z.string().optional() }),
});

/** So that tcp's kernel buffers cannot hold the whole stream. */
const pad = "x".repeat(256);

const DATA = 5_000;
const WAIT_MS = 3_000;
const MAX_MARKERS = 200;

describe.each(TRANSPORTS)("gap counting over %s", (transport) => {
  test("a lossy stream: received + gaps equals exactly what was published on the topic up to the last message", async () => {
    await using pub = await Publisher.bind(endpointFor(transport), Ticks, { headers: true, sendHighWaterMark: 10 });
    const gaps: SubscriberGap[] = [];
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, {
      topics: ["ticks.a"],
      receiveHighWaterMark: 10,
      onGap: (gap) => gaps.push(gap),
    });
    await pub.waitForSubscribers(1, { topic: "ticks.a", timeoutMs: WAIT_MS });

    // The subscriber reads nothing while this runs: its queues fill and libzmq drops the rest.
    for (let n = 0; n < DATA; n++) {
      await pub.publish("ticks.a", { n, pad });
      await pub.publish("ticks.b", { n, pad }); // not subscribed: must never count as a gap
    }

    const received: number[] = [];
    let markersSent = 0;
    let lastMarker: number | undefined;
    while (lastMarker === undefined && markersSent < MAX_MARKERS) {
      await pub.publish("ticks.a", { n: ++markersSent, marker: true });
      for (;;) {
        let msg;
        try {
          msg = await sub.receive({ timeoutMs: 20 });
        } catch (err) {
          if (err instanceof TimeoutError) break;
          throw err;
        }
        received.push(msg.data.n);
        if (msg.data.marker === true) {
          lastMarker = msg.data.n;
          break;
        }
      }
    }
    expect(lastMarker, `no marker arrived after ${markersSent} were sent`).toBeDefined();
    const publishedUpToIt = DATA + lastMarker!;
    const { gaps: total, gapsByTopic, outOfOrder, received: read } = sub.stats;
    console.log(
      `[gaps ${transport}] published on ticks.a ${publishedUpToIt} (data ${DATA} + markers ${lastMarker}), ` +
        `received ${received.length}, gaps ${total}`,
    );
    expect(received[0], "the first message (topicSeq 1) arrives: the queues were empty").toBe(0);
    expect(total, "nothing was dropped: the test shows nothing").toBeGreaterThan(0);
    expect(received.length + total).toBe(publishedUpToIt);
    expect(read).toBe(received.length);
    expect(gapsByTopic).toEqual({ "ticks.a": total });
    expect(outOfOrder).toBe(0);
    expect(gaps.reduce((sum, g) => sum + g.missed, 0)).toBe(total);
    for (const gap of gaps) {
      expect(gap).toMatchObject({ topic: "ticks.a", publisherId: expect.any(String) as unknown, epoch: expect.any(Number) as unknown });
      expect(gap.to - gap.from + 1).toBe(gap.missed);
    }
  });
});

describe("gap counting, the edges", () => {
  test("batches count by their first topicSeq and size; without headers nothing is counted", async () => {
    await using pub = await Publisher.bind(endpointFor("inproc"), Ticks, { headers: true, batch: { maxMessages: 4 } });
    await using plain = await Publisher.bind(endpointFor("inproc"), Ticks);
    await using sub = await Subscriber.connect([pub.endpoint, plain.endpoint], Ticks, { topics: ["ticks"] });
    await pub.waitForSubscribers(1, { timeoutMs: WAIT_MS });
    await plain.waitForSubscribers(1, { timeoutMs: WAIT_MS });
    for (let n = 0; n < 8; n++) await pub.publish("ticks.a", { n });
    await pub.flush();
    for (let n = 0; n < 3; n++) await plain.publish("ticks.a", { n: 100 + n });
    const got: number[] = [];
    while (got.length < 11) got.push((await sub.receive({ timeoutMs: WAIT_MS })).data.n);
    expect(got.filter((n) => n < 100)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(sub.stats).toMatchObject({ gaps: 0, outOfOrder: 0, gapsByTopic: {} });
  });
});
