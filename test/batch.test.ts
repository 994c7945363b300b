import { describe, expect, test } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import {
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  Publisher,
  Subscriber,
  defineJobs,
  defineTopics,
  type SubscriberDropInfo,
} from "../src/index.js";
import { pack, unpack } from "../src/protocol/batch.js";
import { TRANSPORTS, endpointFor } from "./helpers/endpoints.js";

const WAIT_MS = 5_000;
const Feed = defineTopics("feed.v1", {
  price: z.object({ n: z.number().int().nonnegative(), symbol: z.string() }),
  news: z.object({ n: z.number().int(), headline: z.string() }),
});
const Jobs = defineJobs("batch-jobs.v1", {
  task: z.object({ n: z.number().int().nonnegative() }),
  result: z.object({ n: z.number().int(), double: z.number().int() }),
});

describe("batch frames", () => {
  test("pack and unpack round-trip, and unpack refuses lengths that do not add up", () => {
    const bodies = [Buffer.from("a"), Buffer.alloc(0), Buffer.from("hello")];
    const packed = pack(bodies, 6);
    expect(packed.length).toBe(6 + 12);
    expect(unpack(packed)?.map(String)).toEqual(["a", "", "hello"]);
    expect(unpack(packed.subarray(0, packed.length - 1))).toBeUndefined();
    expect(unpack(Buffer.from([0, 0, 0]))).toBeUndefined();
  });
});

describe.each(TRANSPORTS)("batching and no-drop over %s", (transport) => {
  test("a batching, no-drop publisher delivers every message once, in order per topic, and libzmq still filters topics", async () => {
    await using pub = await Publisher.bind(endpointFor(transport), Feed, {
      noDrop: true,
      sendHighWaterMark: 50, // small, so no-drop really has to wait for the subscribers
      batch: { maxMessages: 64, maxBytes: 4096, maxDelayMs: 5 },
    });
    await using prices = await Subscriber.connect(pub.endpoint, Feed, { topics: ["price"], receiveHighWaterMark: 50 });
    await using news = await Subscriber.connect(pub.endpoint, Feed, { topics: ["news"], receiveHighWaterMark: 50 });
    await pub.waitForSubscribers(2, { timeoutMs: WAIT_MS });
    const count = 5_000;
    const read = async (sub: Subscriber<typeof Feed>, n: number): Promise<number[]> => {
      const seen: number[] = [];
      for (let i = 0; i < n; i++) seen.push((await sub.receive({ timeoutMs: WAIT_MS })).data.n);
      return seen;
    };
    const readingPrices = read(prices, count);
    const readingNews = read(news, count / 5);
    for (let n = 0; n < count; n++) {
      if (n % 3 === 0) await pub.publish("price.ACME", { n, symbol: "ACME" });
      else await pub.publish("price.INIT", { n, symbol: "INIT" });
      if (n % 5 === 0) await pub.publish("news", { n: n / 5, headline: `item ${n / 5}` });
    }
    await pub.flush();
    const seenPrices = await readingPrices;
    // Batches are per topic: within one wire topic the order is kept.
    const acme = seenPrices.filter((n) => n % 3 === 0);
    const init = seenPrices.filter((n) => n % 3 !== 0);
    expect(acme).toEqual([...acme].sort((a, b) => a - b));
    expect(init).toEqual([...init].sort((a, b) => a - b));
    expect(new Set(seenPrices).size).toBe(count);
    expect(await readingNews).toEqual(Array.from({ length: count / 5 }, (_, i) => i));
    expect(pub.stats.published).toBe(count + count / 5);
    expect(prices.stats).toMatchObject({ delivered: count });
  }, 30_000);

  test("each message of a batch is validated on its own: a bad one is dropped, its neighbours arrive", async () => {
    const raw = new zmq.Publisher({ linger: 0 });
    const drops: SubscriberDropInfo[] = [];
    try {
      await raw.bind(endpointFor(transport));
      await using sub = await Subscriber.connect(raw.lastEndpoint ?? "", Feed, {
        topics: ["price"],
        onDrop: (d) => drops.push(d),
      });
      const good = (n: number): Buffer => Buffer.from(JSON.stringify({ n, symbol: "X" }));
      const bodies = [good(1), Buffer.from(JSON.stringify({ n: -5, symbol: "X" })), Buffer.from("{nope"), good(2)];
      const batch = pack(
        bodies,
        bodies.reduce((a, b) => a + b.length, 0),
      );
      // A plain PUB cannot see the subscription arrive: send until the first batch gets through (bounded).
      let first: number | undefined;
      for (let attempt = 0; attempt < 200 && first === undefined; attempt++) {
        await raw.send(["price", "", batch]);
        first = await sub.receive({ timeoutMs: 20 }).then(
          (m) => m.data.n,
          () => undefined,
        );
      }
      expect(first).toBe(1);
      expect((await sub.receive({ timeoutMs: WAIT_MS })).data.n).toBe(2);
      expect(drops.map((d) => d.reason).slice(0, 2)).toEqual(["invalid", "undecodable"]);
      await raw.send(["price", "", Buffer.from([0, 0, 0, 9, 1])]); // a length that overruns the frame
      await raw.send(["price", JSON.stringify({ n: 3, symbol: "X" })]); // and an ordinary message after it
      let next = await sub.receive({ timeoutMs: WAIT_MS });
      while (next.data.n !== 3) next = await sub.receive({ timeoutMs: WAIT_MS }); // skip repeats of the first batch
      expect(drops.some((d) => d.reason === "malformed" && /do not add up/.test(d.message))).toBe(true);
    } finally {
      raw.close();
    }
  });

  test("a batching source and worker move every task and result exactly once, in order through one worker", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using source = await PipelineSource.bind(endpointFor(transport), Jobs, { batch: { maxMessages: 50, maxDelayMs: 2 } });
    const order: number[] = [];
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      ({ n }) => {
        order.push(n);
        return { n, double: n * 2 };
      },
      { batchResults: { maxMessages: 40, maxDelayMs: 2 } },
    );
    const count = 1_000;
    for (let n = 0; n < count; n++) await source.push({ n });
    await source.flush();
    const outcomes = await sink.collect(count, { timeoutMs: WAIT_MS * 2 });
    expect(order).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(outcomes.map((o) => (o.ok ? o.result.n : -1))).toEqual(order);
    expect(outcomes.every((o) => o.ok && o.result.double === o.result.n * 2)).toBe(true);
    expect(source.stats.pushed).toBe(count);
    expect(worker.stats).toMatchObject({ received: count, completed: count });
    expect(sink.stats).toMatchObject({ results: count, failures: 0 });
    await expect(source.push({ n: 1 }, { timeoutMs: 10 })).rejects.toThrow(/cannot be used with `batch`/);
  }, 30_000);

  test("close() flushes a partly filled batch", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    const source = await PipelineSource.bind(endpointFor(transport), Jobs, { batch: { maxMessages: 1000, maxDelayMs: 60_000 } });
    await using _worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, ({ n }) => ({
      n,
      double: 2 * n,
    }));
    for (let n = 0; n < 7; n++) await source.push({ n });
    await source.close();
    const outcomes = await sink.collect(7, { timeoutMs: WAIT_MS });
    expect(outcomes.map((o) => (o.ok ? o.result.n : -1))).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
