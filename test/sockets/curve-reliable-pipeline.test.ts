/**
 * The reliable pipeline over CURVE: sources and sinks reach the broker through a queue-client link whose monitor is
 * read as an iterator. Watching that monitor a second time (the CURVE guard's emitter) made zeromq.js throw EBUSY
 * from inside its own loop, which killed the process at `PipelineSource.connect`. Real tcp sockets, real keys.
 */
import { describe, expect, test } from "vitest";
import * as z from "zod";
import {
  PipelineBroker,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  defineJobs,
  generateCertificate,
  type PipelineSourceEvent,
} from "../../src/index.js";
import { EventLog } from "../helpers/event-log.js";

const TCP = "tcp://127.0.0.1:0";
const Jobs = defineJobs("curve-jobs.v1", {
  task: z.object({ n: z.number().int() }),
  result: z.object({ n: z.number().int(), squared: z.number().int() }),
});

describe("reliable pipeline over CURVE", () => {
  test("a source, a worker and a sink with the broker's key: tasks go through and results come back", async () => {
    const broker = generateCertificate();
    const peer = generateCertificate();
    const curve = { certificate: peer, serverKey: broker.publicKey };
    await using queue = await PipelineBroker.bind(
      { frontend: TCP, backend: TCP },
      { curve: { certificate: broker }, frontendAllow: [peer.publicKey], backendAllow: [peer.publicKey] },
    );
    await using source = await PipelineSource.connect(queue.frontend, Jobs, { mode: "reliable", curve });
    await using worker = await PipelineWorker.connect({ tasks: queue.backend }, Jobs, ({ n }) => ({ n, squared: n * n }), {
      mode: "reliable",
      curve,
    });
    await using sink = await PipelineSink.connect(queue.frontend, Jobs, { mode: "reliable", curve });
    await Promise.all([1, 2, 3].map((n) => source.push({ n }, { timeoutMs: 5_000 })));
    const squares: number[] = [];
    for (let i = 0; i < 3; i++) {
      const outcome = await sink.receive({ timeoutMs: 5_000 });
      if (outcome.ok) squares.push(outcome.result.squared);
    }
    expect(squares.sort((a, b) => a - b)).toEqual([1, 4, 9]);
    expect(worker.stats.latency.count).toBe(3);
  });

  test("a source with the wrong server key reports handshake-failed and pushes nothing; the process stays up", async () => {
    const broker = generateCertificate();
    const peer = generateCertificate();
    await using queue = await PipelineBroker.bind(
      { frontend: TCP, backend: TCP },
      { curve: { certificate: broker }, frontendAllow: [peer.publicKey], backendAllow: [peer.publicKey] },
    );
    const log = new EventLog<PipelineSourceEvent>();
    await using source = await PipelineSource.connect(queue.frontend, Jobs, {
      mode: "reliable",
      curve: { certificate: peer, serverKey: generateCertificate().publicKey },
      onEvent: log.onEvent,
    });
    expect((await log.next("handshake-failed")).endpoint).toBe(queue.frontend);
    await expect(source.push({ n: 1 }, { timeoutMs: 200 })).rejects.toThrow(/timed out|did not|deadline|within/i);
    expect(log.of("connected")).toEqual([]);
    expect(queue.stats).toMatchObject({ accepted: 0 });
  });
});
