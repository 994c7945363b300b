/**
 * Contracts written with valibot and arktype (Standard Schema v1) end to end over real tcp sockets: RPC (client and
 * server both check) and pub-sub (publisher and subscriber both check), bad messages refused with issues that carry
 * paths, asynchronous valibot checks that keep message order, and a contract that mixes zod and valibot.
 */
import { type } from "arktype";
import * as v from "valibot";
import { describe, expect, expectTypeOf, test } from "vitest";
import * as z from "zod";
import {
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  Publisher,
  RemoteCallError,
  RpcClient,
  RpcServer,
  Subscriber,
  ContractValidationError,
  defineJobs,
  defineRpc,
  defineTopics,
  type SubscriberDropInfo,
} from "../../src/index.js";
import { deferred, within } from "../helpers/deferred.js";

const TCP = "tcp://127.0.0.1:0";
const WAIT_MS = 3_000;

/** Resolves after `ms`: an asynchronous check that takes longer for earlier messages, to tempt a reorder. */
const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const ValibotMath = defineRpc("math.valibot.v1", {
  add: {
    request: v.object({ a: v.number(), b: v.number() }),
    response: v.object({ sum: v.number() }),
  },
  // A transform: callers send text, the handler receives its length.
  measure: {
    request: v.object({
      text: v.pipe(
        v.string(),
        v.transform((s) => s.length),
      ),
    }),
    response: v.object({ length: v.pipe(v.number(), v.integer()) }),
  },
});

const ArkMath = defineRpc("math.arktype.v1", {
  add: { request: type({ a: "number", b: "number" }), response: type({ sum: "number" }) },
  measure: {
    request: type({ text: type("string").pipe((s) => s.length) }),
    response: type({ length: "number.integer" }),
  },
});

/** The same method names with checks that accept anything, to put bad payloads on the wire. */
const looseRpc = (name: string) =>
  defineRpc(name, {
    add: { request: v.unknown(), response: v.unknown() },
    measure: { request: v.unknown(), response: v.unknown() },
  });

describe.each([
  { vendor: "valibot", contract: ValibotMath },
  { vendor: "arktype", contract: ArkMath },
] as const)("RPC with a $vendor contract", ({ contract }) => {
  test("calls work end to end, transforms run on the server, and types follow the schemas", async () => {
    await using server = await RpcServer.bind(TCP, contract, {
      add: ({ a, b }) => ({ sum: a + b }),
      measure: ({ text }) => {
        expectTypeOf(text).toEqualTypeOf<number>(); // the transform's output
        return { length: text };
      },
    });
    await using client = await RpcClient.connect(server.endpoint, contract, { timeoutMs: WAIT_MS });
    await expect(client.call("add", { a: 2, b: 3 })).resolves.toEqual({ sum: 5 });
    const measured = await client.call("measure", { text: "hello" }); // the transform's input: a string
    expectTypeOf(measured).toEqualTypeOf<{ length: number }>();
    expect(measured).toEqual({ length: 5 });
  });

  test("a bad request is refused before it leaves, with the path of each issue", async () => {
    await using server = await RpcServer.bind(TCP, contract, {
      add: ({ a, b }) => ({ sum: a + b }),
      measure: ({ text }) => ({ length: text }),
    });
    await using client = await RpcClient.connect(server.endpoint, contract, { timeoutMs: WAIT_MS });
    // @ts-expect-error b must be a number
    const error: unknown = await client.call("add", { a: 1, b: "two" }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ContractValidationError);
    const invalid = error as ContractValidationError;
    expect(invalid.direction).toBe("outgoing");
    expect(invalid.issues.map((i) => i.path)).toEqual([["b"]]);
    expect(invalid.message).toContain(`"${contract.name}/add" does not match the request schema`);
    expect(invalid.message).toContain("→ at b");
  });

  test("the server refuses a bad request from a peer that does not check, and the client a bad reply", async () => {
    await using strictServer = await RpcServer.bind(TCP, contract, {
      add: ({ a, b }) => ({ sum: a + b }),
      measure: ({ text }) => ({ length: text }),
    });
    await using loose = await RpcClient.connect(strictServer.endpoint, looseRpc(contract.name), { timeoutMs: WAIT_MS });
    const refused: unknown = await loose.call("add", { a: "1", b: 2 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RemoteCallError);
    expect((refused as RemoteCallError).code).toBe("INVALID_REQUEST");
    const details = (refused as RemoteCallError).details as { issues: { path: unknown[] }[] };
    expect(details.issues.map((i) => i.path)).toEqual([["a"]]);

    await using looseServer = await RpcServer.bind(TCP, looseRpc(contract.name), {
      add: () => ({ sum: "not a number" }),
      measure: () => ({ length: 1.5 }),
    });
    await using client = await RpcClient.connect(looseServer.endpoint, contract, { timeoutMs: WAIT_MS });
    const badReply: unknown = await client.call("measure", { text: "x" }).catch((err: unknown) => err);
    expect(badReply).toBeInstanceOf(ContractValidationError);
    expect((badReply as ContractValidationError).direction).toBe("incoming");
    expect((badReply as ContractValidationError).issues.map((i) => i.path)).toEqual([["length"]]);
  });
});

const ValibotNews = defineTopics("news.valibot.v1", {
  headline: v.object({ title: v.pipe(v.string(), v.minLength(1)), words: v.pipe(v.number(), v.integer()) }),
});
const ArkNews = defineTopics("news.arktype.v1", {
  headline: type({ title: "string > 0", words: "number.integer" }),
});
const looseTopics = (name: string) => defineTopics(name, { headline: v.unknown() });

describe.each([
  { vendor: "valibot", contract: ValibotNews },
  { vendor: "arktype", contract: ArkNews },
] as const)("pub-sub with a $vendor contract", ({ contract }) => {
  test("messages arrive typed; bad ones are refused by the publisher and dropped by the subscriber, with paths", async () => {
    await using pub = await Publisher.bind(TCP, contract);
    await using loosePub = await Publisher.bind(TCP, looseTopics(contract.name));
    const drops: SubscriberDropInfo[] = [];
    const dropped = deferred();
    await using sub = await Subscriber.connect([pub.endpoint, loosePub.endpoint], contract, {
      topics: ["headline"],
      onDrop: (info) => {
        drops.push(info);
        dropped.resolve();
      },
    });
    await pub.waitForSubscribers(1, { timeoutMs: WAIT_MS });
    await loosePub.waitForSubscribers(1, { timeoutMs: WAIT_MS });

    // @ts-expect-error words must be a number
    const refused: unknown = await pub.publish("headline.world", { title: "x", words: "many" }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ContractValidationError);
    expect((refused as ContractValidationError).issues.map((i) => i.path)).toEqual([["words"]]);

    // The subscriber reads only while someone waits: the bad message is dropped on the way to the good one after it.
    await loosePub.publish("headline", { title: "", words: 3 });
    await loosePub.publish("headline", { title: "Fine", words: 2 });
    await expect(sub.receive({ timeoutMs: WAIT_MS })).resolves.toMatchObject({ data: { title: "Fine", words: 2 } });
    await within(dropped.promise, WAIT_MS, "the subscriber to drop the bad message");
    expect(drops[0]?.reason).toBe("invalid");
    expect(drops[0]?.issues?.map((i) => i.path)).toEqual([["title"]]);

    await pub.publish("headline.world", { title: "Hello", words: 1 });
    const message = await sub.receive({ timeoutMs: WAIT_MS });
    expectTypeOf(message.data).toEqualTypeOf<{ title: string; words: number }>();
    expect(message).toEqual({ topic: "headline.world", declared: "headline", data: { title: "Hello", words: 1 } });
  });
});

/** A valibot check that resolves after `delayMs`: earlier messages wait longer, so only the library keeps order. */
const slowSeq = v.pipeAsync(
  v.object({ seq: v.number(), delayMs: v.number() }),
  v.checkAsync(async (input) => {
    await later(input.delayMs);
    return input.seq >= 0;
  }, "seq must be >= 0"),
);

describe("asynchronous valibot checks", () => {
  const Slow = defineRpc("slow.v1", { run: { request: slowSeq, response: slowSeq } });
  const SlowTopics = defineTopics("slow.topics.v1", { tick: slowSeq });

  test("RPC: requests reach the handler in call order, and a failing check is refused", async () => {
    const seen: number[] = [];
    await using server = await RpcServer.bind(TCP, Slow, {
      run: (request) => {
        seen.push(request.seq);
        return request;
      },
    });
    await using client = await RpcClient.connect(server.endpoint, Slow, { timeoutMs: WAIT_MS });
    const replies = await Promise.all([40, 30, 20, 10, 0].map((delayMs, seq) => client.call("run", { seq, delayMs })));
    expect(replies.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(seen).toEqual([0, 1, 2, 3, 4]);

    const refused: unknown = await client.call("run", { seq: -1, delayMs: 0 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ContractValidationError);
    expect((refused as ContractValidationError).direction).toBe("outgoing");
    expect((refused as ContractValidationError).issues[0]?.message).toBe("seq must be >= 0");
  });

  test("RPC: replies checked asynchronously by the client settle in the order they arrived", async () => {
    // The server checks synchronously and answers in order; the client's own check of each reply takes longer for
    // earlier replies.
    const Plain = defineRpc("slow.v1", {
      run: { request: v.object({ n: v.number() }), response: v.object({ seq: v.number(), delayMs: v.number() }) },
    });
    const SlowReplies = defineRpc("slow.v1", { run: { request: v.object({ n: v.number() }), response: slowSeq } });
    await using server = await RpcServer.bind(TCP, Plain, { run: ({ n }) => ({ seq: n, delayMs: 40 - 10 * n }) });
    await using client = await RpcClient.connect(server.endpoint, SlowReplies, { timeoutMs: WAIT_MS });
    const settled: number[] = [];
    const calls = [0, 1, 2, 3, 4].map((n) => client.call("run", { n }).then((reply) => void settled.push(reply.seq)));
    await Promise.all(calls);
    expect(settled).toEqual([0, 1, 2, 3, 4]);
  });

  test("pub-sub: messages are sent and delivered in publish order", async () => {
    await using pub = await Publisher.bind(TCP, SlowTopics);
    await using sub = await Subscriber.connect(pub.endpoint, SlowTopics, { topics: ["tick"] });
    await pub.waitForSubscribers(1, { timeoutMs: WAIT_MS });
    const sent = [40, 30, 20, 10, 0].map((delayMs, seq) => pub.publish("tick", { seq, delayMs }));
    const refused = pub.publish("tick", { seq: -1, delayMs: 0 }).catch((err: unknown) => err);
    await Promise.all(sent);
    await expect(refused).resolves.toBeInstanceOf(ContractValidationError);
    const received: number[] = [];
    for await (const message of sub) {
      received.push(message.data.seq);
      if (received.length === 5) break;
    }
    expect(received).toEqual([0, 1, 2, 3, 4]);
  });
  test("pipeline: tasks are pushed and started, and results yielded, in order", async () => {
    // The worker checks results synchronously (so they leave in order); the source, the worker's task check and
    // the sink's result check are asynchronous, with longer waits for earlier messages.
    const Slow = defineJobs("slow.jobs.v1", { task: slowSeq, result: slowSeq });
    const WorkerSide = defineJobs("slow.jobs.v1", { task: slowSeq, result: v.object({ seq: v.number(), delayMs: v.number() }) });
    await using source = await PipelineSource.bind(TCP, Slow);
    await using sink = await PipelineSink.bind(TCP, Slow);
    const started: number[] = [];
    await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, WorkerSide, (task) => {
      started.push(task.seq);
      return task;
    });
    await source.waitForWorkers(1, { timeoutMs: WAIT_MS });
    await Promise.all([40, 30, 20, 10, 0].map((delayMs, seq) => source.push({ seq, delayMs })));
    const outcomes = await sink.collect(5, { timeoutMs: WAIT_MS });
    expect(outcomes.map((o) => (o.ok ? o.result.seq : o.error.code))).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(worker.closed).toBe(false);
  });
});

describe("a contract that mixes zod and valibot", () => {
  const Mixed = defineRpc("mixed.v1", {
    greet: { request: z.object({ name: z.string() }), response: v.object({ greeting: v.string() }) },
  });
  const MixedTopics = defineTopics("mixed.topics.v1", {
    zod: z.object({ n: z.number() }),
    valibot: v.object({ s: v.string() }),
  });

  test("RPC and pub-sub work with both kinds of schema in one contract", async () => {
    await using server = await RpcServer.bind(TCP, Mixed, { greet: ({ name }) => ({ greeting: `Hello, ${name}!` }) });
    await using client = await RpcClient.connect(server.endpoint, Mixed, { timeoutMs: WAIT_MS });
    await expect(client.call("greet", { name: "Ada" })).resolves.toEqual({ greeting: "Hello, Ada!" });

    await using pub = await Publisher.bind(TCP, MixedTopics);
    await using sub = await Subscriber.connect(pub.endpoint, MixedTopics, { topics: [""] });
    await pub.waitForSubscribers(1, { timeoutMs: WAIT_MS });
    await pub.publish("zod", { n: 1 });
    await pub.publish("valibot", { s: "two" });
    const first = await sub.receive({ timeoutMs: WAIT_MS });
    const second = await sub.receive({ timeoutMs: WAIT_MS });
    expect([first.data, second.data]).toEqual([{ n: 1 }, { s: "two" }]);
  });

  test("sync replies queued behind an async reply check each get their own value (the validator reuses its result)", async () => {
    const gate = deferred();
    const checked: number[] = [];
    const Client = defineRpc("mixed.replies.v1", {
      slow: {
        request: z.object({}),
        response: v.pipeAsync(
          v.object({ n: v.number() }),
          v.checkAsync(async () => (await gate.promise, true)),
        ),
      },
      // Records each reply as the client checks it (synchronously, on arrival), so the test knows when all are in.
      fast: {
        request: z.object({ n: z.number() }),
        response: z.object({ n: z.number() }).refine((reply) => checked.push(reply.n) > 0),
      },
    });
    const Server = defineRpc("mixed.replies.v1", {
      slow: { request: z.object({}), response: z.object({ n: z.number() }) },
      fast: { request: z.object({ n: z.number() }), response: z.object({ n: z.number() }) },
    });
    await using server = await RpcServer.bind(TCP, Server, { slow: () => ({ n: -1 }), fast: ({ n }) => ({ n }) });
    await using client = await RpcClient.connect(server.endpoint, Client, { timeoutMs: WAIT_MS });
    const calls = Promise.all([
      client.call("slow", {}),
      client.call("fast", { n: 1 }),
      client.call("fast", { n: 2 }),
      client.call("fast", { n: 3 }),
    ]);
    // Every fast reply was checked while the slow one's check still waits; only then does that check finish.
    await within(
      (async () => {
        while (checked.length < 3) await later(2);
      })(),
      WAIT_MS,
      "the three fast replies to arrive",
    );
    gate.resolve();
    expect(await calls).toEqual([{ n: -1 }, { n: 1 }, { n: 2 }, { n: 3 }]);
  });

  test("a server closed while a request is in its asynchronous check answers it UNAVAILABLE (not run), then closes", async () => {
    const gate = deferred();
    const arrived = deferred();
    const Server = defineRpc("closing.v1", {
      m: {
        request: v.pipeAsync(
          v.object({ n: v.number() }),
          v.checkAsync(async () => {
            arrived.resolve();
            await gate.promise;
            return true;
          }),
        ),
        response: z.object({ n: z.number() }),
      },
    });
    const Client = defineRpc("closing.v1", {
      m: { request: z.object({ n: z.number() }), response: z.object({ n: z.number() }) },
    });
    let ran = 0;
    const server = await RpcServer.bind(TCP, Server, {
      m: ({ n }) => {
        ran++;
        return { n };
      },
    });
    await using client = await RpcClient.connect(server.endpoint, Client, { timeoutMs: WAIT_MS });
    const call = client.call("m", { n: 1 }).catch((err: unknown) => err);
    await within(arrived.promise, WAIT_MS, "the request to reach its check");
    const closing = server.close();
    gate.resolve();
    await closing;
    const err = await call;
    expect(err).toBeInstanceOf(RemoteCallError);
    expect(err).toMatchObject({ code: "UNAVAILABLE" });
    expect((err as Error).message).toMatch(/closed while the request was being checked; it was not run/);
    expect(ran).toBe(0);
  });
});
