import { afterEach, describe, expect, test } from "vitest";
import { KILL_ALL_MS, RoleSet, is } from "./harness/role.js";
import { startPublisher, startSubscriber } from "./roles/pubsub-start.js";

// A lossy publisher (the default, with headers) and a slow subscriber, each its own process. The subscriber
// subscribes before the first message (the publisher waits for its subscription) and spends time on every message,
// so libzmq drops much of the stream at the high-water marks. Interleaved messages on a topic it does not subscribe
// to must not count as gaps. After the data the publisher resends a marker on the topic until the subscriber reports
// one: every loss then lies before the last message it received, so its gap count must equal, exactly, the messages
// published on its topic up to that marker that it did not receive: sent == received + gaps.

const roles = new RoleSet();
afterEach(() => roles.killAll(), KILL_ALL_MS);

const DATA = 20_000;

describe("lossy publisher, slow subscriber process", () => {
  test("the subscriber's gap count equals exactly the messages on its topic it did not receive", async () => {
    const { pub, endpoint } = await startPublisher(roles, {
      noDrop: false,
      sendHighWaterMark: 50,
      subscribers: 1,
      topic: "ticks.a",
      other: "ticks.b",
      data: DATA,
      padBytes: 256,
      markerEveryMs: 20,
      maxMarkers: 1_000,
    });
    const sub = await startSubscriber(roles, "slow subscriber", {
      endpoint,
      topics: ["ticks.a"],
      receiveHighWaterMark: 50,
      workUs: 50,
    });
    await pub.waitFor(is.ready, 15_000, "ready (the subscription arrived before the first message)");
    pub.send("go");
    const sent = await pub.waitFor(is.event("data:sent"), 30_000, "the data sent");
    const seen = await sub.waitFor(is.event("marker"), 30_000, "a marker to reach the subscriber");
    pub.send("stop");
    const pubStats = await pub.waitFor(is.stats, 10_000, "publisher stats");
    sub.send("stop");
    await sub.waitFor(is.stats, 10_000, "subscriber stats");

    const data = Number(sent.event["data"]);
    const marker = Number(seen.event["marker"]);
    const received = Number(seen.event["received"]);
    const gaps = Number(seen.event["gaps"]);
    const markersSent = (pubStats.stats as { markersSent: number }).markersSent;
    // Published on ticks.a up to and including the marker the subscriber saw: the data, and markers 1..marker.
    const sentUpToMarker = data + marker;
    console.log(
      `[fault] lossy pub-sub, slow subscriber: sent on ticks.a ${sentUpToMarker} (data ${data} + markers up to the one ` +
        `seen ${marker}; markers sent ${markersSent}; on ticks.b ${String(sent.event["other"])}), received ${received}, ` +
        `gaps ${gaps}, received + gaps ${received + gaps}, by topic ${JSON.stringify(seen.event["gapsByTopic"])}, ` +
        `out of order ${String(seen.event["outOfOrder"])}, first n ${String(seen.event["first"])}`,
    );
    expect(data).toBe(DATA);
    expect(seen.event["first"], "the first message arrived: the subscription came before it").toBe(0);
    expect(gaps, "nothing was dropped: the test shows nothing").toBeGreaterThan(0);
    expect(received + gaps).toBe(sentUpToMarker);
    expect(seen.event["gapsByTopic"]).toEqual({ "ticks.a": gaps });
    expect(seen.event["outOfOrder"]).toBe(0);
  }, 60_000);
});
