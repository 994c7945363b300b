/**
 * Run as a child process by test/pubsub.test.ts: with libzmq's socket limit set to 4 (ZMQ_MAX_SOCKETS, only
 * settable before the first socket exists, hence a fresh process), opens every stream class many times with bad
 * options and with an endpoint that cannot be bound. A leaked socket per failure would exhaust the limit, and the
 * good objects opened last would fail with "Too many open file descriptors". Prints "ok" and exits 0, or prints the
 * first unexpected failure and exits 1.
 */
import * as z from "zod";
import * as zmq from "zeromq";
import { PipelineSink, PipelineSource, Publisher, Subscriber, defineJobs, defineTopics } from "../../src/index.js";

zmq.context.maxSockets = 4;
const Topics = defineTopics("leak.v1", { t: z.object({ n: z.number() }) });
const Jobs = defineJobs("leak-jobs.v1", { task: z.object({ n: z.number() }), result: z.object({ n: z.number() }) });

/**
 * libzmq frees a closed socket asynchronously (its reaper thread), so on a busy machine a socket closed a moment
 * ago may still count against the limit: retry, bounded, while the limit is hit. A leaked socket is never freed,
 * so a real leak still fails once the retries run out.
 */
async function withRoom<T>(open: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      if (attempt >= 40 || !/Too many open/i.test((err as Error).message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function expectRefused(open: () => Promise<{ close(): Promise<void> }>, message: RegExp): Promise<void> {
  try {
    const opened = await withRoom(open);
    await opened.close();
  } catch (err) {
    if (message.test((err as Error).message)) return;
    throw new Error(`unexpected failure: ${(err as Error).message}`, { cause: err });
  }
  throw new Error(`expected a failure matching ${String(message)}`);
}

try {
  const holder = await Publisher.bind("tcp://127.0.0.1:0", Topics); // 1 socket held throughout
  for (let i = 0; i < 10; i++) {
    await expectRefused(
      () => Publisher.bind("tcp://127.0.0.1:0", Topics, { batch: { maxMessages: 0 } }),
      /^Publisher\.bind: `batch\.maxMessages` must be a positive integer, got 0\./,
    );
    await expectRefused(
      () => PipelineSource.connect("tcp://127.0.0.1:1", Jobs, { batch: { maxDelayMs: -1 } }),
      /^PipelineSource\.connect: `batch\.maxDelayMs`/,
    );
    await expectRefused(
      () => Subscriber.connect("tcp://127.0.0.1:1", Topics, { match: "exact" as never }),
      /^Subscriber\.connect: `match` must be one of/,
    );
    await expectRefused(
      () => PipelineSink.bind("tcp://127.0.0.1:0", Jobs, { onDrop: 5 as never }),
      /^PipelineSink\.bind: `onDrop` must be a function/,
    );
    // Constructed, then the bind fails: the factory must close the socket.
    await expectRefused(() => Publisher.bind(holder.endpoint, Topics), /in use|EADDRINUSE/i);
    await expectRefused(() => PipelineSink.bind(holder.endpoint, Jobs), /in use|EADDRINUSE/i);
  }
  const good = [
    await withRoom(() => Publisher.bind("tcp://127.0.0.1:0", Topics)),
    await withRoom(() => Subscriber.connect(holder.endpoint, Topics)),
    await withRoom(() => PipelineSink.bind("tcp://127.0.0.1:0", Jobs)),
  ];
  for (const g of good) await g.close();
  await holder.close();
  console.log("ok");
} catch (err) {
  console.log(`FAILED: ${(err as Error).message}`);
  process.exit(1); // sockets may still be open (the holder): do not wait for them
}
