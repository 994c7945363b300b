// Reliable PipelineSource and PipelineSink (protocol 1.3) against a broker played by the test: a raw zmq.Router
// speaking TZPC01 through the pure framing of src/protocol/queue.ts, over real ipc and tcp sockets.
import { afterEach, describe, expect, test } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import {
  ClosedError,
  PipelineSink,
  PipelineSource,
  TaskRejectedError,
  TimeoutError,
  defineJobs,
  isTaskRejectedError,
} from "../../src/index.js";
import {
  encodeAccepted,
  encodeQueueDisconnect,
  encodeQueueHeartbeat,
  encodeRejected,
  encodeResults,
  OutcomeStatus,
  parseQueueClientMessage,
  type Outcome,
  type QueueClientMessage,
} from "../../src/protocol/queue.js";
import { endpointFor } from "../helpers/endpoints.js";
import { readUntilClosed } from "../helpers/read-until-closed.js";

const Jobs = defineJobs("jobs.v1", {
  task: z.object({ n: z.number().int() }),
  result: z.object({ n: z.number().int(), doubled: z.number().int() }),
});

/** One message a raw broker received: who sent it (routing id) and what, parsed. */
interface Heard {
  readonly from: Buffer;
  readonly message: QueueClientMessage;
}

/** The broker's frontend, played by a ROUTER that records what it hears and answers when told. */
class RawBroker {
  socket: zmq.Router;
  readonly heard: Heard[] = [];
  endpoint = "";
  #wake: Array<() => void> = [];
  #loop: Promise<void> = Promise.resolve();

  private constructor() {
    this.socket = new zmq.Router({ linger: 0 });
  }

  static async bind(endpoint: string): Promise<RawBroker> {
    const broker = new RawBroker();
    await broker.#bind(endpoint);
    return broker;
  }

  async #bind(endpoint: string): Promise<void> {
    await this.socket.bind(endpoint);
    this.endpoint = this.socket.lastEndpoint ?? endpoint;
    this.#loop = this.#read(this.socket);
  }

  async #read(socket: zmq.Router): Promise<void> {
    await readUntilClosed(socket, (frames) => {
      const [from, ...rest] = frames;
      this.heard.push({ from: from!, message: parseQueueClientMessage(rest) });
      for (const wake of this.#wake) wake();
    });
  }

  /** Closes the ROUTER and binds a new one on the same endpoint (a broker restart). */
  async restart(): Promise<void> {
    this.socket.close();
    await this.#loop;
    this.socket = new zmq.Router({ linger: 0 });
    await this.#bind(this.endpoint);
  }

  /** Messages of one kind, in arrival order. */
  of<K extends QueueClientMessage["kind"]>(kind: K): Array<Heard & { message: Extract<QueueClientMessage, { kind: K }> }> {
    return this.heard.filter((h): h is Heard & { message: Extract<QueueClientMessage, { kind: K }> } => h.message.kind === kind);
  }

  /** Every task id pushed so far, in order (a PUSH may carry several). */
  pushedIds(): string[] {
    return this.of("push").flatMap((p) => p.message.ids);
  }

  /** Waits (bounded) until `ready()` holds, checking whenever a message arrives. */
  async until(ready: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; heard ${JSON.stringify(this.heard.map((h) => h.message.kind))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 50));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake.push(done);
      });
      this.#wake = [];
    }
  }

  async send(to: Buffer, frames: Buffer[]): Promise<void> {
    await this.socket.send([to, ...frames]);
  }

  close(): Promise<void> {
    this.socket.close();
    return this.#loop;
  }
}

function result(n: number): Outcome {
  return { status: OutcomeStatus.OK, body: Buffer.from(JSON.stringify({ n, doubled: 2 * n })) };
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function broker(transport: "ipc" | "tcp"): Promise<RawBroker> {
  const b = await RawBroker.bind(endpointFor(transport));
  cleanup.push(() => b.close());
  return b;
}

function owned<T extends { close(): Promise<void> }>(thing: T): T {
  cleanup.push(() => thing.close());
  return thing;
}

describe.each(["ipc", "tcp"] as const)("reliable PipelineSource over %s", (transport) => {
  test("push() sends PUSH with the queue, an id and the body, and resolves on ACCEPTED", async () => {
    const b = await broker(transport);
    const source = owned(await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable" }));
    let settled = false;
    const pushing = source.push({ n: 1 }).then(() => (settled = true));
    await b.until(() => b.of("push").length === 1, "a PUSH");
    const [push] = b.of("push");
    expect(push!.message.queue).toBe("jobs.v1");
    expect(push!.message.ids).toHaveLength(1);
    expect(push!.message.ids[0]).toMatch(/^[0-9a-f]{8}-1$/);
    expect(JSON.parse(push!.message.bodies[0]!.toString())).toEqual({ n: 1 });
    expect(settled).toBe(false);
    expect(source.stats.pending).toBe(1);
    await b.send(push!.from, encodeAccepted(push!.message.ids));
    await pushing;
    expect(source.stats).toMatchObject({ pushed: 1, accepted: 1, rejected: 0, pending: 0, workers: 1 });
  });

  test("REJECTED rejects the push with a TaskRejectedError carrying the broker's reason", async () => {
    const b = await broker(transport);
    const source = owned(await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable", queue: "other.q" }));
    const pushing = source.push({ n: 2 }, { id: "task-α" });
    await b.until(() => b.of("push").length === 1, "a PUSH");
    const [push] = b.of("push");
    expect(push!.message).toMatchObject({ queue: "other.q", ids: ["task-α"] });
    await b.send(push!.from, encodeRejected(["task-α"], "QUEUE_FULL", "the broker holds 100000 tasks"));
    const err: unknown = await pushing.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskRejectedError);
    expect(isTaskRejectedError(err)).toBe(true);
    expect(err).toMatchObject({ code: "TASK_REJECTED", reason: "QUEUE_FULL", taskId: "task-α" });
    expect((err as Error).message).toContain("maxTasks");
    expect(source.stats).toMatchObject({ rejected: 1, accepted: 0, pending: 0 });
  });

  test("a pending push is resent with the same id after the broker comes back on the same endpoint", async () => {
    const b = await broker(transport);
    const source = owned(await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable", resendMs: 60_000 }));
    const pushing = source.push({ n: 3 }, { id: "keep-me" });
    await b.until(() => b.of("push").length === 1, "the first PUSH");
    await b.restart();
    // The resend waits for libzmq to see the connection drop and come back: allow for a loaded machine.
    await b.until(() => b.of("push").length === 2, "the PUSH resent after the restart", 12_000);
    const resent = b.of("push")[1]!;
    expect(resent.message.ids).toEqual(["keep-me"]);
    await b.send(resent.from, encodeAccepted(["keep-me"]));
    await pushing;
    expect(source.stats).toMatchObject({ pushed: 1, resent: 1, accepted: 1, pending: 0 });
  }, 15_000);

  test("an unanswered push is resent every resendMs, and timeoutMs ends the wait (the entry is forgotten)", async () => {
    const b = await broker(transport);
    const source = owned(await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable", resendMs: 50 }));
    const started = Date.now();
    const err: unknown = await source.push({ n: 4 }, { id: "slow", timeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toContain("same `id`");
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    const pushes = b.of("push");
    expect(pushes.length).toBeGreaterThanOrEqual(3);
    expect(new Set(pushes.flatMap((p) => p.message.ids))).toEqual(new Set(["slow"]));
    expect(source.stats.pending).toBe(0);
    expect(source.stats.resent).toBe(pushes.length - 1);
    // A late answer for a forgotten push changes nothing.
    await b.send(pushes[0]!.from, encodeAccepted(["slow"]));
    await expect(source.push({ n: 5 }, { id: "after", timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
    expect(source.stats.accepted).toBe(0);
  });

  test("maxPending bounds the pending pushes: a push waits for room before it is sent", async () => {
    const b = await broker(transport);
    const source = owned(await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable", maxPending: 2, resendMs: 60_000 }));
    const first = source.push({ n: 1 }, { id: "a" });
    const second = source.push({ n: 2 }, { id: "b" });
    const third = source.push({ n: 3 }, { id: "c" });
    await b.until(() => b.pushedIds().length === 2, "two tasks pushed");
    expect(source.stats.pending).toBe(2);
    // The third waits for room: a short wait on a fourth times out and sends nothing.
    await expect(source.push({ n: 4 }, { id: "d", timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
    expect(b.pushedIds()).toEqual(["a", "b"]);
    const from = b.of("push")[0]!.from;
    await b.send(from, encodeAccepted(["a"]));
    await first;
    await b.until(() => b.pushedIds().length === 3, "the third task, once there was room");
    expect(b.pushedIds()[2]).toBe("c");
    await b.send(from, encodeAccepted(["b", "c"]));
    await Promise.all([second, third]);
    expect(source.stats).toMatchObject({ accepted: 3, pending: 0 });
  });

  test("automatic ids: a push beyond maxPending waits for room and keeps the id it drew; a batch skips a task that timed out", async () => {
    const b = await broker(transport);
    const source = owned(
      await PipelineSource.connect(b.endpoint, Jobs, {
        mode: "reliable",
        maxPending: 2,
        batch: { maxMessages: 3, maxDelayMs: 200 },
      }),
    );
    const first = source.push({ n: 1 });
    const dropped = source.push({ n: 2 }, { timeoutMs: 20 }); // waits in the batch, times out before it goes
    await expect(dropped).rejects.toBeInstanceOf(TimeoutError);
    const second = source.push({ n: 3 });
    const third = source.push({ n: 4 }); // no room: waits
    await b.until(() => b.pushedIds().length === 2, "the first batch");
    const [id1, id3] = b.pushedIds();
    expect(id1).toMatch(/^[0-9a-f]{8}-1$/);
    expect(id3).toMatch(/^[0-9a-f]{8}-3$/); // the timed-out task (counter 2) was not sent
    const from = b.of("push")[0]!.from;
    await b.send(from, encodeAccepted([id1!]));
    await first;
    await source.flush();
    await b.until(() => b.pushedIds().length === 3, "the waiting push, once there was room");
    expect(b.pushedIds()[2]).toMatch(/^[0-9a-f]{8}-4$/);
    await b.send(from, encodeAccepted([id3!, b.pushedIds()[2]!]));
    await Promise.all([second, third]);
    expect(source.stats).toMatchObject({ pushed: 3, accepted: 3, pending: 0 });
  });

  test("batch packs several tasks into one PUSH", async () => {
    const b = await broker(transport);
    const source = owned(
      await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable", batch: { maxMessages: 10, maxDelayMs: 20 } }),
    );
    await b.until(() => source.stats.workers === 1, "the connection").catch(() => undefined);
    const pushes = [1, 2, 3, 4, 5].map((n) => source.push({ n }, { id: `t${n}`, timeoutMs: 3_000 }));
    await b.until(() => b.of("push").length >= 1, "a PUSH");
    const [push] = b.of("push");
    expect(push!.message.ids).toEqual(["t1", "t2", "t3", "t4", "t5"]);
    expect(push!.message.bodies.map((body): unknown => JSON.parse(body.toString()))).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
    await b.send(push!.from, encodeAccepted(push!.message.ids));
    await Promise.all(pushes);
    expect(source.stats).toMatchObject({ pushed: 5, accepted: 5 });
  });

  test("batch: true packs up to 1,024 tasks per PUSH in reliable mode", async () => {
    const b = await broker(transport);
    const source = owned(await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable", batch: true }));
    await b.until(() => source.stats.workers === 1, "the connection").catch(() => undefined);
    const pushes = Array.from({ length: 1030 }, (_, n) => source.push({ n }));
    await b.until(() => b.pushedIds().length >= 1030, "1,030 pushed tasks");
    expect(b.of("push").map((p) => p.message.ids.length)).toEqual([1024, 6]);
    for (const push of b.of("push")) await b.send(push.from, encodeAccepted(push.message.ids));
    await Promise.all(pushes);
    expect(source.stats).toMatchObject({ pushed: 1030, accepted: 1030 });
  });

  test("close() waits for the pending pushes to be answered, then rejects what is left with ClosedError", async () => {
    const b = await broker(transport);
    const source = await PipelineSource.connect(b.endpoint, Jobs, { mode: "reliable", drainTimeoutMs: 300 });
    const answered = source.push({ n: 1 }, { id: "answered" });
    const unanswered = source.push({ n: 2 }, { id: "unanswered" }).catch((e: unknown) => e);
    await b.until(() => b.pushedIds().length >= 2, "two tasks pushed");
    const started = Date.now();
    const closing = source.close();
    await b.send(b.of("push")[0]!.from, encodeAccepted(["answered"]));
    await answered;
    await closing;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const err = await unanswered;
    expect(err).toBeInstanceOf(ClosedError);
    expect((err as Error).message).toContain("same id");
    await expect(source.push({ n: 3 })).rejects.toBeInstanceOf(ClosedError);
  });
});

describe("reliable PipelineSource misuse", () => {
  test("bind, headers, bad ids and reliable options in plain mode are refused", async () => {
    await expect(PipelineSource.bind("tcp://127.0.0.1:0", Jobs, { mode: "reliable" })).rejects.toThrow(TypeError);
    await expect(PipelineSource.connect("tcp://127.0.0.1:1", Jobs, { maxPending: 5 })).rejects.toThrow(/mode: "reliable"/);
    await expect(PipelineSource.connect(["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"], Jobs, { mode: "reliable" })).rejects.toThrow(
      TypeError,
    );
    const source = owned(await PipelineSource.connect("tcp://127.0.0.1:1", Jobs, { mode: "reliable", drainTimeoutMs: 0 }));
    await expect(source.push({ n: 1 }, { headers: { a: 1 } })).rejects.toThrow(TypeError);
    await expect(source.push({ n: 1 }, { id: "x".repeat(256) })).rejects.toThrow(RangeError);
    await expect(source.push({ n: 1 }, { id: "" })).rejects.toThrow(RangeError);
    await expect(source.waitForWorkers(1)).rejects.toThrow(TypeError);
    expect(source.stats.pending).toBe(0);
  });
});

describe.each(["ipc", "tcp"] as const)("reliable PipelineSink over %s", (transport) => {
  test("sends FETCH with its window; RESULTS become outcomes with taskId, TAKEN only once user code has them", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable", window: 7, heartbeatMs: 100 }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    const [fetch] = b.of("fetch");
    expect(fetch!.message).toMatchObject({ queue: "jobs.v1", window: 7 });
    await b.send(fetch!.from, encodeResults("jobs.v1", ["t-1", "t-2"], [result(1), result(2)]));
    // Messages from the sink arrive in order: a heartbeat sent after the results arrived shows no TAKEN went first.
    const heartbeats = b.of("heartbeat").length;
    await b.until(() => b.of("heartbeat").length > heartbeats + 1, "two heartbeats");
    expect(b.of("taken")).toHaveLength(0);
    const first = await sink.receive({ timeoutMs: 2_000 });
    expect(first).toEqual({ ok: true, result: { n: 1, doubled: 2 }, taskId: "t-1" });
    await b.until(() => b.of("taken").length === 1, "TAKEN");
    expect(b.of("taken")[0]!.message).toMatchObject({ queue: "jobs.v1", ids: ["t-1"] });
    const [second] = await sink.collect(1, { timeoutMs: 2_000 });
    expect(second).toMatchObject({ ok: true, taskId: "t-2" });
    await b.until(
      () =>
        b
          .of("taken")
          .flatMap((t) => t.message.ids)
          .includes("t-2"),
      "TAKEN of t-2",
    );
    expect(sink.stats).toMatchObject({ received: 2, results: 2, duplicates: 0 });
  });

  test("a result delivered again is acknowledged again and never yielded", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable" }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    const from = b.of("fetch")[0]!.from;
    await b.send(from, encodeResults("jobs.v1", ["t-1"], [result(1)]));
    expect(await sink.receive({ timeoutMs: 2_000 })).toMatchObject({ taskId: "t-1" });
    await b.until(() => b.of("taken").length === 1, "the first TAKEN");
    await b.send(from, encodeResults("jobs.v1", ["t-1", "t-2"], [result(1), result(2)]));
    expect(await sink.receive({ timeoutMs: 2_000 })).toMatchObject({ taskId: "t-2" });
    await b.until(
      () =>
        b
          .of("taken")
          .flatMap((t) => t.message.ids)
          .filter((id) => id === "t-1").length === 2,
      "t-1 TAKEN again",
    );
    expect(sink.stats.duplicates).toBe(1);
  });

  test("failures: the worker's (status 1, codec) and the broker's POISON_TASK (status 3, JSON) are ok: false", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable" }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    const poison = { code: "POISON_TASK", message: "delivered 5 times", details: { taskId: "p", deliveries: 5 } };
    const failed = { code: "INVALID_TASK", message: "bad task" };
    await b.send(
      b.of("fetch")[0]!.from,
      encodeResults(
        "jobs.v1",
        ["p", "f"],
        [
          { status: OutcomeStatus.BROKER_FAILED, body: Buffer.from(JSON.stringify(poison)) },
          { status: OutcomeStatus.FAILED, body: Buffer.from(JSON.stringify(failed)) },
        ],
      ),
    );
    const outcomes = await sink.collect(2, { timeoutMs: 2_000 });
    expect(outcomes).toEqual([
      { ok: false, error: poison, taskId: "p" },
      { ok: false, error: failed, taskId: "f" },
    ]);
    expect(sink.stats.failures).toBe(2);
  });

  test("a result that breaks the schema is dropped and still acknowledged", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable" }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    const bad = { status: OutcomeStatus.OK, body: Buffer.from(JSON.stringify({ n: "one" })) };
    await b.send(b.of("fetch")[0]!.from, encodeResults("jobs.v1", ["bad", "good"], [bad, result(2)]));
    expect(await sink.receive({ timeoutMs: 2_000 })).toMatchObject({ taskId: "good" });
    await b.until(() => new Set(b.of("taken").flatMap((t) => t.message.ids)).size === 2, "TAKEN of both");
    expect(sink.stats.dropped.invalid).toBe(1);
  });

  test("the iterator acknowledges what it yields", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable" }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    await b.send(b.of("fetch")[0]!.from, encodeResults("jobs.v1", ["i-1"], [result(1)]));
    for await (const outcome of sink) {
      expect(outcome).toMatchObject({ taskId: "i-1" });
      break;
    }
    await b.until(() => b.of("taken").length === 1, "TAKEN");
  });

  test("a DISCONNECT from the broker makes the sink FETCH again on a new socket", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable" }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    const first = b.of("fetch")[0]!.from;
    await b.send(first, encodeQueueDisconnect());
    await b.until(() => b.of("fetch").length === 2, "FETCH again");
    expect(b.of("fetch")[1]!.from.equals(first)).toBe(false);
    expect(sink.closed).toBe(false);
  });

  test("heartbeats go out when idle, and a silent broker makes the sink reconnect and FETCH again", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable", heartbeatMs: 100, liveness: 3 }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    await b.until(() => b.of("heartbeat").length >= 2, "heartbeats");
    // The broker says nothing: after 300 ms the sink drops its socket and FETCHes again from a new one.
    await b.until(() => b.of("fetch").length === 2, "FETCH from a new socket", 3_000);
    expect(b.of("fetch")[1]!.from.equals(b.of("fetch")[0]!.from)).toBe(false);
    expect(sink.closed).toBe(false);
  });

  test("a broker that heartbeats keeps the sink on its socket", async () => {
    const b = await broker(transport);
    const sink = owned(await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable", heartbeatMs: 100, liveness: 3 }));
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    const from = b.of("fetch")[0]!.from;
    const timer = setInterval(() => void b.send(from, encodeQueueHeartbeat()).catch(() => undefined), 50);
    try {
      const heartbeats = b.of("heartbeat").length;
      await b.until(() => b.of("heartbeat").length >= heartbeats + 6, "six more heartbeats (over 600 ms)");
      expect(b.of("fetch")).toHaveLength(1);
    } finally {
      clearInterval(timer);
    }
    expect(sink.closed).toBe(false);
  });

  test("close() sends DISCONNECT", async () => {
    const b = await broker(transport);
    const sink = await PipelineSink.connect(b.endpoint, Jobs, { mode: "reliable" });
    await b.until(() => b.of("fetch").length === 1, "FETCH");
    await sink.close();
    await b.until(() => b.of("disconnect").length === 1, "DISCONNECT");
    await expect(sink.receive()).rejects.toBeInstanceOf(ClosedError);
  });
});

describe("reliable PipelineSink misuse", () => {
  test("bind and bad windows are refused", async () => {
    await expect(PipelineSink.bind("tcp://127.0.0.1:0", Jobs, { mode: "reliable" })).rejects.toThrow(TypeError);
    await expect(
      PipelineSink.connect("tcp://127.0.0.1:1", Jobs, { mode: "reliable", window: 10, dedupeWindow: 5 }),
    ).rejects.toThrow(RangeError);
    await expect(PipelineSink.connect("tcp://127.0.0.1:1", Jobs, { window: 10 })).rejects.toThrow(/mode: "reliable"/);
  });
});
