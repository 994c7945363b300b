/**
 * `validateOutgoing: false` on every sending class: the sender's check is skipped (a bad message leaves and the
 * receiver, whose check always runs, refuses it), and good messages still arrive in order, none lost.
 */
import { describe, expect, test } from "vitest";
import * as z from "zod";
import {
  ContractValidationError,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  Publisher,
  RemoteCallError,
  RpcClient,
  RpcServer,
  Subscriber,
  defineJobs,
  defineRpc,
  defineTopics,
  type PipelineSinkDropInfo,
  type SubscriberDropInfo,
} from "../../src/index.js";

const WAIT_MS = 5_000;
const GOOD = 200;

const Ticks = defineTopics("ticks.v1", { tick: z.object({ seq: z.number().int().nonnegative() }) });
const Echo = defineRpc("echo.v1", {
  echo: { request: z.object({ seq: z.number().int() }), response: z.object({ seq: z.number().int().nonnegative() }) },
});
const Jobs = defineJobs("jobs.v1", {
  task: z.object({ id: z.number().int().nonnegative() }),
  result: z.object({ id: z.number().int().nonnegative() }),
});

/** A value the types allow (through a cast, as a bug would) but the schema refuses. */
const bad = (value: unknown): never => value as never;

describe("validateOutgoing", () => {
  test("the default still refuses a bad outgoing message at the sender, and `false` is checked as a flag", async () => {
    await using pub = await Publisher.bind("tcp://127.0.0.1:0", Ticks);
    await expect(pub.publish("tick", bad({ seq: "x" }))).rejects.toMatchObject({
      name: "ContractValidationError",
      direction: "outgoing",
    });
    await expect(Publisher.bind("tcp://127.0.0.1:0", Ticks, { validateOutgoing: bad("no") })).rejects.toThrow(/validateOutgoing/);
  });

  test("Publisher: a bad message is sent and the subscriber drops it; good ones arrive in order", async () => {
    await using pub = await Publisher.bind("tcp://127.0.0.1:0", Ticks, { validateOutgoing: false, noDrop: true });
    const drops: SubscriberDropInfo[] = [];
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, { topics: ["tick"], onDrop: (d) => void drops.push(d) });
    await pub.waitForSubscribers(1, { timeoutMs: WAIT_MS });

    await pub.publish("tick", bad({ seq: -1 })); // resolves: nothing checked it here
    const sends: Promise<void>[] = [];
    for (let seq = 0; seq < GOOD; seq++) sends.push(pub.publish("tick", { seq }));
    await Promise.all(sends);

    const got: number[] = [];
    for (let i = 0; i < GOOD; i++) got.push((await sub.receive({ timeoutMs: WAIT_MS })).data.seq);
    expect(got).toEqual(Array.from({ length: GOOD }, (_, i) => i));
    expect(drops.map((d) => d.reason)).toEqual(["invalid"]);
    expect(sub.stats.dropped).toMatchObject({ invalid: 1, malformed: 0, undecodable: 0 });
  });

  test("RpcClient: a bad request reaches the server, which answers INVALID_REQUEST; good calls resolve", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Echo, { echo: ({ seq }) => ({ seq: Math.abs(seq) }) });
    await using client = await RpcClient.connect(server.endpoint, Echo, { validateOutgoing: false, timeoutMs: WAIT_MS });

    const refused = await client.call("echo", bad({ seq: 1.5 })).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RemoteCallError);
    expect(refused).toMatchObject({ code: "INVALID_REQUEST" });
    const replies = await Promise.all(Array.from({ length: GOOD }, (_, seq) => client.call("echo", { seq })));
    expect(replies.map((r) => r.seq)).toEqual(Array.from({ length: GOOD }, (_, i) => i));
    expect(server.stats.failed).toEqual({ INVALID_REQUEST: 1 });
  });

  test("RpcServer: a bad reply is sent and the client refuses it (incoming); good replies resolve", async () => {
    await using server = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Echo,
      { echo: ({ seq }) => ({ seq }) },
      { validateOutgoing: false },
    );
    await using client = await RpcClient.connect(server.endpoint, Echo, { timeoutMs: WAIT_MS });

    // The handler echoes -1, which breaks the response schema: the server does not catch it, the client does.
    const refused = await client.call("echo", { seq: -1 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ContractValidationError);
    expect(refused).toMatchObject({ direction: "incoming", method: "echo" });
    const replies = await Promise.all(Array.from({ length: GOOD }, (_, seq) => client.call("echo", { seq })));
    expect(replies.map((r) => r.seq)).toEqual(Array.from({ length: GOOD }, (_, i) => i));
    expect(server.stats.failed).toEqual({});
  });

  test("PipelineSource and PipelineWorker: a bad task and a bad result are sent and refused downstream", async () => {
    const drops: PipelineSinkDropInfo[] = [];
    await using sink = await PipelineSink.bind("tcp://127.0.0.1:0", Jobs, { onDrop: (d) => void drops.push(d) });
    await using source = await PipelineSource.bind("tcp://127.0.0.1:0", Jobs, { validateOutgoing: false });
    // id 7 comes back as -7, which breaks the result schema: the worker does not catch it, the sink does.
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint, results: sink.endpoint },
      Jobs,
      ({ id }) => ({ id: id === 7 ? -7 : id }),
      { validateOutgoing: false },
    );
    await source.waitForWorkers(1, { timeoutMs: WAIT_MS });

    await source.push(bad({ id: "x" })); // resolves: the source did not check it
    for (let id = 0; id < GOOD; id++) await source.push({ id });

    // The worker refuses the bad task (INVALID_TASK) and sends the failure; result 7 is dropped by the sink.
    const outcomes = await sink.collect(GOOD, { timeoutMs: WAIT_MS });
    expect(outcomes[0]).toMatchObject({ ok: false, error: { code: "INVALID_TASK" } });
    const ids = outcomes.slice(1).map((o) => (o.ok ? o.result.id : o.error.code));
    expect(ids).toEqual(Array.from({ length: GOOD }, (_, i) => i).filter((i) => i !== 7));
    expect(drops.map((d) => d.reason)).toEqual(["invalid"]);
    expect(worker.stats.failed).toEqual({ INVALID_TASK: 1 });
  });
});
