/**
 * onEvent of Publisher and Subscriber over real tcp sockets: connection events on a real connect and disconnect,
 * validation-failed (outgoing at the publisher; incoming, from a raw zeromq publisher, at the subscriber) and dropped.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import * as z from "zod";
import { Publisher, Subscriber, defineTopics, type PublisherEvent, type SubscriberEvent } from "../../src/index.js";
import { EventLog } from "../helpers/event-log.js";

const TCP = "tcp://127.0.0.1:0";
const Prices = defineTopics("prices.v1", { price: z.object({ symbol: z.string(), value: z.number() }) });

describe("Publisher events", () => {
  test("connected when a subscriber connects, disconnected when it closes; validation-failed for a bad message", async () => {
    const log = new EventLog<PublisherEvent>();
    await using pub = await Publisher.bind(TCP, Prices, { onEvent: log.onEvent });
    const sub = await Subscriber.connect(pub.endpoint, Prices, { topics: ["price"] });
    expect((await log.next("connected")).endpoint).toBe(pub.endpoint);
    await sub.close();
    expect((await log.next("disconnected")).endpoint).toBe(pub.endpoint);

    // @ts-expect-error -- a payload that breaks the schema, on purpose
    await expect(pub.publish("price", { symbol: "A", value: "high" })).rejects.toMatchObject({ name: "ContractValidationError" });
    const event = await log.next("validation-failed");
    expect(event).toMatchObject({ direction: "outgoing", contract: "prices.v1", method: "price" });
    expect(event.issues[0]?.path).toEqual(["value"]);
  });
});

describe("Subscriber events", () => {
  test("connected on a real connect, disconnected when the publisher closes", async () => {
    const pub = await Publisher.bind(TCP, Prices);
    const log = new EventLog<SubscriberEvent>();
    await using _sub = await Subscriber.connect(pub.endpoint, Prices, { topics: ["price"], onEvent: log.onEvent });
    expect((await log.next("connected")).endpoint).toBe(pub.endpoint);
    await pub.close();
    expect((await log.next("disconnected")).endpoint).toBe(pub.endpoint);
  });

  test("handshake-failed when the peer is of the wrong socket type (a raw PULL), never connected", async () => {
    const raw = new zmq.Pull({ linger: 0 });
    try {
      await raw.bind(TCP);
      const log = new EventLog<SubscriberEvent>();
      await using _sub = await Subscriber.connect(raw.lastEndpoint!, Prices, { topics: ["price"], onEvent: log.onEvent });
      const failed = await log.next("handshake-failed");
      expect(failed.endpoint).toBe(raw.lastEndpoint);
      expect(failed.reason.length).toBeGreaterThan(0);
      expect(log.of("connected")).toEqual([]);
    } finally {
      raw.close();
    }
  });

  test("validation-failed and dropped for a bad message from a raw zeromq publisher; onDrop still called", async () => {
    const raw = new zmq.XPublisher({ linger: 0 });
    try {
      await raw.bind(TCP);
      const drops: unknown[] = [];
      const log = new EventLog<SubscriberEvent>();
      await using sub = await Subscriber.connect(raw.lastEndpoint!, Prices, {
        topics: ["price"],
        onEvent: log.onEvent,
        onDrop: (info) => drops.push(info),
      });
      const [subscription] = await raw.receive(); // the subscription has arrived: what is sent now is delivered
      expect(subscription?.[0]).toBe(1);
      await raw.send(["price.X", JSON.stringify({ symbol: "X", value: "not a number" })]);
      await raw.send(["price.Y", "{not json"]);
      await raw.send(["price.Z", JSON.stringify({ symbol: "Z", value: 1 })]);
      // Messages are read as the application receives: the two bad ones are dropped on the way to the good one.
      expect(await sub.receive({ timeoutMs: 5_000 })).toMatchObject({ topic: "price.Z" });
      const invalid = await log.next("validation-failed");
      expect(invalid).toMatchObject({ direction: "incoming", contract: "prices.v1", method: "price.X" });
      expect(invalid.issues[0]?.path).toEqual(["value"]);
      expect(await log.next("dropped", (e) => e.reason === "invalid")).toMatchObject({ topic: "price.X" });
      expect(await log.next("dropped", (e) => e.reason === "undecodable")).toMatchObject({ topic: "price.Y" });
      expect(log.of("validation-failed")).toHaveLength(1); // undecodable is not a schema failure
      expect(drops).toHaveLength(2);
      expect(sub.stats.dropped).toMatchObject({ invalid: 1, undecodable: 1 });
    } finally {
      raw.close();
    }
  });

  test("gap when a publisher's topicSeq skips numbers (as onGap), from a raw zeromq publisher", async () => {
    const raw = new zmq.XPublisher({ linger: 0 });
    try {
      await raw.bind(TCP);
      const gaps: unknown[] = [];
      const log = new EventLog<SubscriberEvent>();
      await using sub = await Subscriber.connect(raw.lastEndpoint!, Prices, {
        topics: ["price"],
        onEvent: log.onEvent,
        onGap: (gap) => gaps.push(gap),
      });
      await raw.receive(); // the subscription has arrived
      const headers = (topicSeq: number): string => JSON.stringify({ publisherId: "p1", epoch: 7, topicSeq });
      const body = JSON.stringify({ symbol: "X", value: 1 });
      await raw.send(["price.X", body, headers(1)]);
      await raw.send(["price.X", body, headers(5)]);
      await sub.receive({ timeoutMs: 5_000 });
      await sub.receive({ timeoutMs: 5_000 });
      const gap = await log.next("gap");
      expect(gap).toEqual({ type: "gap", topic: "price.X", publisherId: "p1", epoch: 7, missed: 3, from: 2, to: 4 });
      expect(gaps).toEqual([{ topic: "price.X", publisherId: "p1", epoch: 7, missed: 3, from: 2, to: 4 }]);
    } finally {
      raw.close();
    }
  });
});
