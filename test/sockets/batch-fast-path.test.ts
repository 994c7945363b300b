/**
 * The batched fast paths over real tcp: a batched `publish()`/`push()` writes each body straight into its batch
 * buffer (JSON text with the built-in codec, the codec's bytes otherwise), and a subscriber unpacks a batch in one
 * step, validating each message on its own. Checked here: order, no loss, the same bytes on the wire as before
 * (docs/protocol.md, "Batches"), and one bad message in a batch refused and counted while the rest are delivered.
 * No timing is asserted.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import * as z from "zod";
import {
  ContractValidationError,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  Publisher,
  Subscriber,
  defineJobs,
  defineTopics,
  msgpackCodec,
  type SubscriberDropInfo,
} from "../../src/index.js";
import { pack, unpack } from "../../src/protocol/batch.js";

const TCP = "tcp://127.0.0.1:0";
const WAIT = { timeoutMs: 5_000 };

const Tick = z.object({ n: z.number().int().nonnegative(), text: z.string() });
const Ticks = defineTopics("batch-fast.v1", { a: Tick, b: Tick });
const Jobs = defineJobs("batch-fast.jobs.v1", { task: Tick, result: z.object({ n: z.number().int() }) });

/** Short ASCII, multi-byte UTF-8 and one body larger than the batch buffer's first 16 KiB. */
function textFor(n: number): string {
  if (n % 97 === 5) return "ü€𝄞".repeat(20 + (n % 7)); // 2-, 3- and 4-byte sequences
  if (n === 300) return "x".repeat(40_000); // grows the batch buffer mid-batch
  return `t${n}`;
}

/** Reads `count` messages off a subscriber (bounded by `WAIT` per message). */
async function take<T>(sub: { receive(o: { timeoutMs: number }): Promise<T> }, count: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(await sub.receive(WAIT));
  return out;
}

describe("batched publish, straight into the batch buffer", () => {
  test("two topics, JSON codec: every message arrives, in order per topic, validated, with its exact text", async () => {
    const count = 1_500;
    await using pub = await Publisher.bind(TCP, Ticks, { noDrop: true, batch: { maxMessages: 64, maxDelayMs: 1 } });
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, { topics: ["a", "b"] });
    await pub.waitForSubscribers(2, WAIT);
    const sent: Promise<void>[] = [];
    for (let n = 0; n < count; n++) {
      const data = { n, text: textFor(n) };
      sent.push(n % 3 === 0 ? pub.publish("b", data) : pub.publish("a", data));
    }
    await pub.flush();
    await Promise.all(sent);
    const got = await take(sub, count);
    for (const topic of ["a", "b"] as const) {
      const seen = got.filter((m) => m.topic === topic).map((m) => m.data);
      const expected = [...Array(count).keys()].filter((n) => (n % 3 === 0 ? "b" : "a") === topic);
      expect(seen.map((d) => d.n)).toEqual(expected);
      for (const d of seen) expect(d.text).toBe(textFor(d.n));
    }
    expect(pub.stats.published).toBe(count);
    expect(sub.stats.delivered).toBe(count);
    expect(sub.stats.dropped).toEqual({ malformed: 0, "unknown-topic": 0, undecodable: 0, invalid: 0 });
  });

  test("msgpack codec (bytes copied into the batch): order and contents intact", async () => {
    const count = 600;
    await using pub = await Publisher.bind(TCP, Ticks, { noDrop: true, batch: true, codec: msgpackCodec });
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, { topics: ["a"], codec: msgpackCodec });
    await pub.waitForSubscribers(1, WAIT);
    const sent: Promise<void>[] = [];
    for (let n = 0; n < count; n++) sent.push(pub.publish("a", { n, text: textFor(n) }));
    await pub.flush();
    await Promise.all(sent);
    const got = await take(sub, count);
    expect(got.map((m) => m.data.n)).toEqual([...Array(count).keys()]);
    expect(got.every((m) => m.data.text === textFor(m.data.n))).toBe(true);
  });

  test("the wire is unchanged: a raw SUB reads [topic, '', packed] whose records are the JSON bodies", async () => {
    await using pub = await Publisher.bind(TCP, Ticks, { batch: { maxMessages: 3, maxDelayMs: 1_000 } });
    const raw = new zmq.Subscriber({ linger: 0 });
    try {
      raw.connect(pub.endpoint);
      raw.subscribe("a");
      await pub.waitForSubscribers(1, WAIT);
      const third = [
        pub.publish("a", { n: 1, text: "é" }),
        pub.publish("a", { n: 2, text: "" }),
        pub.publish("a", { n: 3, text: "z" }),
      ];
      await Promise.all(third);
      const [topic, empty, packed, ...rest] = await raw.receive();
      expect(topic?.toString()).toBe("a");
      expect(empty?.length).toBe(0);
      expect(rest).toEqual([]);
      expect(unpack(packed!)?.map((b) => b.toString("utf8"))).toEqual([
        JSON.stringify({ n: 1, text: "é" }),
        JSON.stringify({ n: 2, text: "" }),
        JSON.stringify({ n: 3, text: "z" }),
      ]);
    } finally {
      raw.close();
    }
  });

  test("each publish is validated on its own: a bad one rejects and is not sent, its neighbours are", async () => {
    await using pub = await Publisher.bind(TCP, Ticks, { noDrop: true, batch: true });
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, { topics: ["a"] });
    await pub.waitForSubscribers(1, WAIT);
    const first = pub.publish("a", { n: 1, text: "ok" });
    const bad = pub.publish("a", { n: -1, text: "bad" });
    const notJson = pub.publish("a", { n: 2, text: "ok", big: 1n } as never); // the schema strips `big`; JSON cannot encode it
    const last = pub.publish("a", { n: 3, text: "ok" });
    await expect(bad).rejects.toBeInstanceOf(ContractValidationError);
    await expect(notJson).rejects.toThrow(/Message for "batch-fast.v1\/a": the json codec could not encode the value/);
    await pub.flush();
    await Promise.all([first, last]);
    const got = await take(sub, 2);
    expect(got.map((m) => m.data.n)).toEqual([1, 3]);
    expect(pub.stats.published).toBe(2);
  });
});

describe("subscriber: one step per batch, one check per message", () => {
  test("bad messages inside a batch are refused and counted; the rest are delivered in order", async () => {
    const drops: SubscriberDropInfo[] = [];
    const raw = new zmq.XPublisher({ linger: 0 });
    await raw.bind(TCP);
    try {
      await using sub = await Subscriber.connect(raw.lastEndpoint!, Ticks, { topics: [""], onDrop: (d) => drops.push(d) });
      const [subscription] = await raw.receive(); // the first subscription: the subscriber is connected
      expect(subscription?.[0]).toBe(1);
      const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
      const records = [
        body({ n: 0, text: "first" }),
        body({ n: -5, text: "breaks the schema" }),
        Buffer.from("{not json"),
        Buffer.from([0x7b, 0xff, 0x7d]), // not UTF-8
        body({ n: 4, text: "last" }),
      ];
      await raw.send([
        "a",
        Buffer.alloc(0),
        pack(
          records,
          records.reduce((sum, r) => sum + r.length, 0),
        ),
      ]);
      const two = [body({ n: 1, text: "" }), body({ n: 2, text: "" })];
      await raw.send(["c", Buffer.alloc(0), pack(two, two[0]!.length + two[1]!.length)]); // "c" is not declared
      await raw.send(["a", Buffer.alloc(0), pack([body({ n: 9, text: "after" })], body({ n: 9, text: "after" }).length)]);
      const got = await take(sub, 3);
      expect(got.map((m) => m.data.n)).toEqual([0, 4, 9]);
      expect(sub.stats.received).toBe(8);
      expect(sub.stats.delivered).toBe(3);
      expect(sub.stats.dropped).toEqual({ malformed: 0, "unknown-topic": 2, undecodable: 2, invalid: 1 });
      expect(drops.map((d) => d.reason)).toEqual(["invalid", "undecodable", "undecodable", "unknown-topic", "unknown-topic"]);
      expect(drops[2]?.message).toMatch(/Message on "batch-fast.v1\/a": the body \(3 bytes\) is not valid json/);
    } finally {
      raw.close();
    }
  });

  test("for await and receive() share one batch: nothing lost or repeated between them", async () => {
    await using pub = await Publisher.bind(TCP, Ticks, { noDrop: true, batch: { maxMessages: 50, maxDelayMs: 1_000 } });
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, { topics: ["a"] });
    await pub.waitForSubscribers(1, WAIT);
    await Promise.all(Array.from({ length: 100 }, (_, n) => pub.publish("a", { n, text: "" })));
    const seen: number[] = [(await sub.receive(WAIT)).data.n];
    for await (const m of sub) {
      seen.push(m.data.n);
      if (seen.length === 30) break;
    }
    seen.push(...(await take(sub, 70)).map((m) => m.data.n));
    expect(seen).toEqual([...Array(100).keys()]);
  });
});

describe("batched push", () => {
  test("a batched source's tasks reach one worker in order, none lost, each validated", async () => {
    const count = 1_200;
    const handled: number[] = [];
    await using source = await PipelineSource.bind(TCP, Jobs, { batch: { maxMessages: 128, maxDelayMs: 1 } });
    await using sink = await PipelineSink.bind(TCP, Jobs);
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      ({ n, text }) => {
        expect(text).toBe(textFor(n));
        handled.push(n);
        return { n };
      },
      { concurrency: 1 },
    );
    await source.waitForWorkers(1, WAIT);
    const pushed: Promise<void>[] = [];
    for (let n = 0; n < count; n++) pushed.push(source.push({ n, text: textFor(n) }));
    await expect(source.push({ n: -1, text: "" })).rejects.toBeInstanceOf(ContractValidationError);
    await source.flush();
    await Promise.all(pushed);
    const outcomes = await take(sink, count);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(handled).toEqual([...Array(count).keys()]);
    expect(worker.stats.completed).toBe(count);
    expect(source.stats.pushed).toBe(count);
  });
});
