// Review of issue 12: the reliable pipeline end to end over real sockets (a real PipelineBroker, raw MDP workers
// and typed ends), one test per finding.
import { afterEach, describe, expect, test } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import { OutOfRangeError, PipelineBroker, PipelineSink, PipelineSource, PipelineWorker, defineJobs } from "../../src/index.js";
import { encodeHeartbeat } from "../../src/protocol/mdp.js";
import { encodeAccepted, encodePush, parseQueueBrokerMessage, parseQueueClientMessage } from "../../src/protocol/queue.js";
import { endpointFor } from "../helpers/endpoints.js";
import { RawWorker } from "../helpers/mdp-peers.js";

const Jobs = defineJobs("review12.v1", {
  task: z.object({ n: z.number().int() }),
  result: z.object({ n: z.number().int() }),
});
const Q = Jobs.name;

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A broker whose own heartbeats are rare, so that a HEARTBEAT a worker receives in a test is an echo. */
async function reliableBroker(transport: "tcp" | "ipc", heartbeatMs = 100): Promise<PipelineBroker> {
  const broker = await PipelineBroker.bind(
    { frontend: endpointFor(transport), backend: endpointFor(transport) },
    { heartbeatMs, liveness: 3, leaseMs: 5_000 },
  );
  closers.push(() => broker.close());
  return broker;
}

describe.each(["tcp", "ipc"] as const)("review 12 over %s", (transport) => {
  test('a worker\'s HEARTBEAT "leaving" is echoed and the broker sends it no new task', async () => {
    const broker = await reliableBroker(transport, 5_000);
    const leaving = await RawWorker.start(broker.backend, { service: Q, name: "leaving", capacity: 4 }, () => undefined);
    closers.push(() => leaving.close());
    await broker.waitForWorkers(1, { queue: Q });
    await leaving.send(encodeHeartbeat(true));
    await leaving.waitFor("heartbeat"); // the echo (the broker's own heartbeat is 5 s away)
    const staying = await RawWorker.start(broker.backend, { service: Q, name: "staying", capacity: 4 }, () => ['{"n":0}']);
    closers.push(() => staying.close());
    await broker.waitForWorkers(2, { queue: Q });
    const source = new zmq.Dealer({ linger: 0 });
    closers.push(() => source.close());
    source.connect(broker.frontend);
    const ids = ["t1", "t2", "t3", "t4"];
    await source.send(
      encodePush(
        Q,
        ids,
        ids.map((_, n) => Buffer.from(JSON.stringify({ n }))),
      ),
    );
    expect(parseQueueBrokerMessage(await source.receive())).toMatchObject({ kind: "accepted", ids });
    // Shared out over two workers with room, two tasks would go to each: all go to the one that stays.
    await staying.waitFor("request", 4);
    expect(leaving.requests).toHaveLength(0);
  });

  test("a reliable PipelineWorker closes without waiting for an echo the PipelineBroker never sent", async () => {
    const broker = await reliableBroker(transport);
    const worker = await PipelineWorker.connect({ tasks: broker.backend }, Jobs, ({ n }) => ({ n }), {
      mode: "reliable",
      heartbeatMs: 100,
      drainTimeoutMs: 5_000,
    });
    closers.push(() => worker.close());
    await broker.waitForWorkers(1, { queue: Q });
    const started = Date.now();
    await worker.close();
    // Without the echo, close() waits min(drainTimeoutMs, 1000) ms for it.
    expect(Date.now() - started).toBeLessThan(800);
  });

  test("collect(count) in reliable mode refuses a count over the window, which the broker could never fill", async () => {
    const broker = await reliableBroker(transport);
    const worker = await PipelineWorker.connect({ tasks: broker.backend }, Jobs, ({ n }) => ({ n }), {
      mode: "reliable",
      heartbeatMs: 100,
    });
    closers.push(() => worker.close());
    const source = await PipelineSource.connect(broker.frontend, Jobs, { mode: "reliable" });
    closers.push(() => source.close());
    await Promise.all([1, 2, 3].map((n) => source.push({ n })));
    const sink = await PipelineSink.connect(broker.frontend, Jobs, { mode: "reliable", window: 2, heartbeatMs: 100 });
    closers.push(() => sink.close());
    // Before: it waited out its timeout with 2 of 3 (the broker sends no third before the first two are taken).
    const err: unknown = await sink.collect(3, { timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutOfRangeError);
    expect((err as Error).message).toMatch(/window/);
    // Within the window it works, and the rest follows once those are taken.
    const first = await sink.collect(2, { timeoutMs: 3_000 });
    const second = await sink.collect(1, { timeoutMs: 3_000 });
    expect([...first, ...second].map((o) => (o.ok ? o.result.n : -1)).sort()).toEqual([1, 2, 3]);
  });
});

describe("review 12: a reliable source's maxPending", () => {
  test("one answer makes room for one waiting push, not for all of them", async () => {
    const router = new zmq.Router({ linger: 0 });
    closers.push(() => router.close());
    await router.bind("tcp://127.0.0.1:0");
    const source = await PipelineSource.connect(router.lastEndpoint!, Jobs, { mode: "reliable", maxPending: 2 });
    closers.push(() => source.close());
    const pushes = [1, 2, 3, 4, 5].map((n) => source.push({ n }, { id: `p${n}` }).catch((e: unknown) => e));
    const heard: { from: Buffer; ids: string[] }[] = [];
    const next = async (): Promise<void> => {
      const [from, ...frames] = await router.receive();
      const message = parseQueueClientMessage(frames);
      if (message.kind === "push") heard.push({ from: from!, ids: message.ids });
    };
    while (heard.flatMap((h) => h.ids).length < 2) await next();
    expect(source.stats.pending).toBe(2);
    await router.send([heard[0]!.from, ...encodeAccepted(["p1"])]);
    await pushes[0];
    while (heard.flatMap((h) => h.ids).length < 3) await next();
    expect(source.stats.pending).toBe(2);
    await router.send([heard[0]!.from, ...encodeAccepted(["p2", "p3", "p4", "p5"])]);
    while (heard.flatMap((h) => h.ids).length < 5) await next();
    await router.send([heard[0]!.from, ...encodeAccepted(["p4", "p5"])]);
    expect(await Promise.all(pushes)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});
