/**
 * Gap counting with real sockets: a lossy publisher with headers floods a subscriber that does not read, so libzmq
 * drops at the high-water marks; the subscriber's gap count must equal, exactly, the messages on its topic that it
 * did not receive. Interleaved traffic on a topic it does not subscribe to must not count (that is what `topicSeq`
 * is for: `seq` jumps over it by design). A final marker is resent until one arrives, so every loss lies before the
 * last message received and can be seen.
 */
import { describe, expect, test, vi } from "vitest";
import * as z from "zod";
import { Publisher, Subscriber, TimeoutError, defineTopics, type SubscriberGap } from "../../src/index.js";
import * as zmq from "zeromq";
import { main } from "../../examples/pubsub-gaps.js";
import { parseHeaders } from "../../src/protocol/headers.js";
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
      expect(gap).toMatchObject({
        topic: "ticks.a",
        publisherId: expect.any(String) as unknown,
        epoch: expect.any(Number) as unknown,
      });
      expect(gap.to - gap.from + 1).toBe(gap.missed);
    }
  });
});

describe("topicSeq on the wire", () => {
  test("a raw SUB reads seq over all topics and topicSeq per exact topic in the headers frame", async () => {
    await using pub = await Publisher.bind(endpointFor("tcp"), Ticks, { headers: { publisherId: "p1" } });
    const raw = new zmq.Subscriber({ linger: 0 });
    try {
      raw.connect(pub.endpoint);
      raw.subscribe("ticks");
      await pub.waitForSubscribers(1, { timeoutMs: WAIT_MS });
      const topics: `ticks.${string}`[] = ["ticks.a", "ticks.b", "ticks.a", "ticks.a.x", "ticks.b"];
      for (const topic of topics) await pub.publish(topic, { n: 0 });
      const seen: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        const [topic, , h] = await raw.receive();
        const parsed = parseHeaders(h!);
        if (parsed.kind !== "headers") throw new Error(parsed.reason);
        const { publisherId, seq, topicSeq } = parsed.headers;
        seen.push([topic!.toString(), publisherId, seq, topicSeq]);
      }
      expect(seen).toEqual([
        ["ticks.a", "p1", 1, 1],
        ["ticks.b", "p1", 2, 1],
        ["ticks.a", "p1", 3, 2],
        ["ticks.a.x", "p1", 4, 1],
        ["ticks.b", "p1", 5, 2],
      ]);
    } finally {
      raw.close();
    }
  });

  test("a topicSeq that is not a number makes the headers frame malformed", () => {
    expect(parseHeaders(Buffer.from('{"topicSeq":"7"}'))).toMatchObject({
      kind: "malformed",
      reason: expect.stringContaining("topicSeq") as unknown,
    });
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

describe("examples/pubsub-gaps.ts (the README's gap counter)", () => {
  test("what it received and what it missed add up to what was published up to the marker it saw", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const { received, gaps } = await main({ signal: AbortSignal.timeout(WAIT_MS) });
      expect(gaps).toBeGreaterThan(0);
      // 5,000 prices, then markers: the one it saw is number received + gaps - 5,000 (at least the first).
      expect(received + gaps).toBeGreaterThan(5_000);
      expect(received + gaps).toBeLessThanOrEqual(5_100);
      expect(log).toHaveBeenCalledWith(`received ${received}, missed ${gaps}`, { "price.GOOG": gaps });
    } finally {
      log.mockRestore();
    }
  });
});
