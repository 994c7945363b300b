/**
 * PipelineWorker in reliable mode (protocol 1.3, docs/protocol.md "Reliable pipeline") against a broker played here
 * by a raw zeromq.js ROUTER speaking MDP 0.1: READY with capacity and "batch", single and batched tasks, the REPLY
 * bodies (parsed with the protocol's own parseTaskReply) and their statuses, credit, strict MDP, a DISCONNECT from
 * the broker, and the departure on close(). Real sockets, tcp and ipc.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import * as z from "zod";
import { ApplicationError, PipelineWorker, defineJobs, jsonCodec, type PipelineWorkerEvent } from "../../src/index.js";
import { parseWorkerCommand } from "../../src/protocol/mdp.js";
import { OutcomeStatus, encodeTask, encodeTaskBatch, parseTaskReply, type DispatchedTask } from "../../src/protocol/queue.js";
import { within } from "../helpers/deferred.js";
import { endpointFor } from "../helpers/endpoints.js";
import { Gates } from "../helpers/gates.js";
import { readUntilClosed } from "../helpers/read-until-closed.js";

const Jobs = defineJobs("reliable-jobs.v1", {
  task: z.object({ n: z.number(), key: z.string().optional() }),
  result: z.object({ n: z.number(), doubled: z.number() }),
});

/** One MDP command a worker sent, as the broker's ROUTER read it. */
interface Seen {
  readonly id: string;
  readonly frames: Buffer[];
  readonly command: ReturnType<typeof parseWorkerCommand>;
}

/** The broker's backend, by hand: records what workers send; the test sends REQUESTs. */
class FakeBroker implements AsyncDisposable {
  readonly router = new zmq.Router({ linger: 0 });
  readonly seen: Seen[] = [];
  /** Echo a worker's HEARTBEAT + "leaving", as a typed broker does (false: a strict broker, which never does). */
  ackLeaving = true;
  #wake: Array<() => void> = [];
  #loop: Promise<void> = Promise.resolve();

  static async bind(endpoint: string): Promise<FakeBroker> {
    const broker = new FakeBroker();
    await broker.router.bind(endpoint);
    broker.#loop = broker.#read();
    return broker;
  }

  get endpoint(): string {
    return this.router.lastEndpoint ?? "";
  }

  async #read(): Promise<void> {
    await readUntilClosed(this.router, async (frames) => {
      const [id, ...rest] = frames;
      const command = parseWorkerCommand(rest);
      this.seen.push({ id: String(id), frames: rest, command });
      if (this.ackLeaving && command.kind === "heartbeat" && command.leaving) {
        await this.router.send([id!, "", "MDPW01", "\x04", "leaving"]).catch(() => undefined);
      }
      for (const wake of this.#wake.splice(0)) wake();
    });
  }

  /** The first command (after `after` seen) that matches; bounded. */
  async next(match: (seen: Seen) => boolean, what: string, after = 0, ms = 4_000): Promise<Seen> {
    const deadline = Date.now() + ms;
    for (let i = after; ;) {
      for (; i < this.seen.length; i++) if (match(this.seen[i]!)) return this.seen[i]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; saw ${this.describe()}`);
      await within(new Promise<void>((resolve) => this.#wake.push(resolve)), left, what).catch(() => undefined);
    }
  }

  ready(after = 0): Promise<Seen> {
    return this.next((s) => s.command.kind === "ready", "READY", after);
  }

  /** The REPLY for `token`, its body parsed as a task reply. */
  async reply(token: string, ms?: number): Promise<ReturnType<typeof parseTaskReply>> {
    const seen = await this.next(
      (s) => s.command.kind === "reply" && String(s.command.client) === token,
      `the REPLY for ${token}`,
      0,
      ms,
    );
    return parseTaskReply(seen.command.kind === "reply" ? seen.command.body : []);
  }

  replies(): number {
    return this.seen.filter((s) => s.command.kind === "reply").length;
  }

  request(worker: string, token: string, body: zmq.MessageLike[]): Promise<void> {
    return this.router.send([worker, "", "MDPW01", "\x02", token, "", ...body]);
  }

  task(worker: string, token: string, task: DispatchedTask): Promise<void> {
    return this.request(worker, token, encodeTask(task));
  }

  batch(worker: string, token: string, tasks: DispatchedTask[]): Promise<void> {
    return this.request(worker, token, encodeTaskBatch(tasks));
  }

  describe(): string {
    return this.seen.map((s) => `${s.id}:${s.command.kind}`).join(" ") || "nothing";
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.router.close();
    await this.#loop;
  }
}

const body = (value: unknown): Buffer => Buffer.from(jsonCodec.encode(value));
const task = (id: string, value: unknown, delivery = 1): DispatchedTask => ({ id, delivery, body: body(value) });
const decode = (bytes: Buffer): unknown => jsonCodec.decode(bytes);

/** A handler by task: a negative n raises an application error, 13 throws unexpectedly, 7 returns a bad result. */
function handlerWith(gates?: Gates, seen?: Array<{ taskId: string | undefined; delivery: number | undefined }>) {
  let running = 0;
  const stats = { maxRunning: 0 };
  const handler = async (
    { n, key }: { n: number; key?: string | undefined },
    context: { taskId?: string; delivery?: number },
  ): Promise<{ n: number; doubled: number }> => {
    seen?.push({ taskId: context.taskId, delivery: context.delivery });
    running++;
    stats.maxRunning = Math.max(stats.maxRunning, running);
    try {
      if (key !== undefined) await gates?.enter(key);
      if (n < 0) throw new ApplicationError("NEGATIVE", `${n} is negative`);
      if (n === 13) throw new Error("unlucky");
      if (n === 7) return { n, doubled: "fourteen" } as unknown as { n: number; doubled: number };
      return { n, doubled: n * 2 };
    } finally {
      running--;
    }
  };
  return { handler, stats };
}

describe.each(["tcp", "ipc"] as const)("PipelineWorker reliable mode over %s", (transport) => {
  test('READY names the queue with capacity and "batch"; a single task gets its result with taskId and delivery', async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    const contexts: Array<{ taskId: string | undefined; delivery: number | undefined }> = [];
    const { handler } = handlerWith(undefined, contexts);
    await using worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handler, {
      mode: "reliable",
      concurrency: 3,
      name: "w1",
      onError: () => undefined,
    });
    const ready = await broker.ready();
    expect(ready.command).toEqual({ kind: "ready", service: "reliable-jobs.v1", capacity: 3, batch: true });
    expect(ready.id).toMatch(/^w1-[0-9a-f]{4}$/);
    await broker.task(ready.id, "tok-1", task("src-1", { n: 21 }, 2));
    const reply = await broker.reply("tok-1");
    expect(reply.kind).toBe("outcome");
    if (reply.kind !== "outcome") return;
    expect(reply.outcome.status).toBe(OutcomeStatus.OK);
    expect(decode(reply.outcome.body)).toEqual({ n: 21, doubled: 42 });
    expect(contexts).toEqual([{ taskId: "src-1", delivery: 2 }]);
    expect(worker.stats).toMatchObject({ received: 1, completed: 1, retried: 0, dropped: 0 });
  });

  test("single tasks: INVALID_TASK and ApplicationError are final, an unexpected error asks for another delivery", async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    const errors: string[] = [];
    await using worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handlerWith().handler, {
      mode: "reliable",
      queue: "custom-queue",
      onError: (info) => errors.push(info.code),
    });
    const ready = await broker.ready();
    expect(ready.command.kind === "ready" && ready.command.service).toBe("custom-queue");
    await broker.task(ready.id, "bad", task("t-bad", { n: "x" }));
    await broker.task(ready.id, "app", task("t-app", { n: -1 }));
    await broker.task(ready.id, "oops", task("t-oops", { n: 13 }));
    const expectations: Array<[string, number, string]> = [
      ["bad", OutcomeStatus.FAILED, "INVALID_TASK"],
      ["app", OutcomeStatus.FAILED, "NEGATIVE"],
      ["oops", OutcomeStatus.RETRY, "HANDLER_ERROR"],
    ];
    for (const [token, status, code] of expectations) {
      const reply = await broker.reply(token);
      if (reply.kind !== "outcome") throw new Error(`${token}: ${reply.kind}`);
      expect(reply.outcome.status).toBe(status);
      expect(decode(reply.outcome.body)).toMatchObject({ code });
    }
    // The unexpected error's real message stays here (exposeErrors is off): the broker gets an error id.
    const oops = await broker.reply("oops");
    if (oops.kind !== "outcome") throw new Error("oops");
    expect(decode(oops.outcome.body)).toMatchObject({ details: { errorId: expect.any(String) } });
    expect(JSON.stringify(decode(oops.outcome.body))).not.toContain("unlucky");
    expect(worker.stats).toMatchObject({ received: 3, completed: 0, retried: 1 });
    expect(worker.stats.failed).toEqual({ INVALID_TASK: 1, NEGATIVE: 1, HANDLER_ERROR: 1 });
    expect(errors.sort()).toEqual(["HANDLER_ERROR", "INVALID_TASK", "NEGATIVE"]);
  });

  test("a batch gets one batch REPLY with every outcome, in order, once all its tasks are done", async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    const gates = new Gates();
    await using worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handlerWith(gates).handler, {
      mode: "reliable",
      concurrency: 8,
      onError: () => undefined,
    });
    const ready = await broker.ready();
    const tasks = [
      task("a", { n: 1 }),
      task("b", { n: "x" }),
      task("c", { n: -5 }),
      task("d", { n: 13 }, 4),
      task("e", { n: 7 }),
      task("f", { n: 3, key: "slow" }),
    ];
    await broker.batch(ready.id, "batch-1", tasks);
    await within(gates.arrived("slow"), 3_000, "the slow task to start");
    // Every other task is done, but the REPLY waits for the last one.
    expect(broker.replies()).toBe(0);
    gates.open("slow");
    const reply = await broker.reply("batch-1");
    expect(reply.kind).toBe("batch");
    if (reply.kind !== "batch") return;
    expect(reply.ids).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(reply.outcomes.map((o) => o.status)).toEqual([
      OutcomeStatus.OK,
      OutcomeStatus.FAILED,
      OutcomeStatus.FAILED,
      OutcomeStatus.RETRY,
      OutcomeStatus.FAILED,
      OutcomeStatus.OK,
    ]);
    expect(reply.outcomes.map((o) => (decode(o.body) as { code?: string }).code)).toEqual([
      undefined,
      "INVALID_TASK",
      "NEGATIVE",
      "HANDLER_ERROR",
      "INVALID_RESULT",
      undefined,
    ]);
    expect(decode(reply.outcomes[5]!.body)).toEqual({ n: 3, doubled: 6 });
    expect(broker.replies()).toBe(1);
    expect(worker.stats).toMatchObject({ received: 6, completed: 2, retried: 1, dropped: 0, inFlight: 0 });
  });

  test("credit: never more than concurrency tasks run, even when the broker sends more", async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    const gates = new Gates();
    const { handler, stats } = handlerWith(gates);
    await using worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handler, {
      mode: "reliable",
      concurrency: 2,
    });
    const ready = await broker.ready();
    expect(ready.command.kind === "ready" && ready.command.capacity).toBe(2);
    await broker.batch(ready.id, "b", [task("k0", { n: 0, key: "k0" }), task("k1", { n: 1, key: "k1" })]);
    for (let i = 2; i < 5; i++) await broker.task(ready.id, `s${i}`, task(`k${i}`, { n: i, key: `k${i}` }));
    await within(gates.entered(2), 3_000, "two tasks to start");
    // The others wait for a slot: a message round trip gives them every chance to start if they could.
    await broker.task(ready.id, "probe", task("probe", { n: 100 }));
    await within(
      (async () => {
        while (worker.stats.received < 6) await new Promise((resolve) => setImmediate(resolve));
      })(),
      3_000,
      "six tasks received",
    );
    expect(worker.stats.inFlight).toBe(2);
    for (let i = 0; i < 5; i++) gates.open(`k${i}`);
    for (const token of ["b", "s2", "s3", "s4", "probe"]) expect((await broker.reply(token)).kind).not.toBe("malformed");
    expect(stats.maxRunning).toBe(2);
    expect(worker.stats.completed).toBe(6);
  });

  test("strict MDP: READY without capacity or feature frame, one task at a time, close() sends DISCONNECT", async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    const worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handlerWith().handler, {
      mode: "reliable",
      concurrency: 4,
      strictMdp: true,
    });
    const ready = await broker.ready();
    expect(ready.frames.map(String)).toEqual(["", "MDPW01", "\x01", "reliable-jobs.v1"]);
    await broker.task(ready.id, "only", task("one", { n: 2 }));
    const reply = await broker.reply("only");
    expect(reply.kind === "outcome" && decode(reply.outcome.body)).toEqual({ n: 2, doubled: 4 });
    const before = broker.seen.length;
    await worker.close();
    await broker.next((s) => s.command.kind === "disconnect", "DISCONNECT", before);
    expect(broker.seen.slice(before).some((s) => s.command.kind === "heartbeat" && s.command.leaving)).toBe(false);
  });

  test("a DISCONNECT from the broker: a new socket sends READY; the outcome of a task from the old one is dropped", async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    const gates = new Gates();
    const events: PipelineWorkerEvent[] = [];
    const dropped: string[] = [];
    let aborted = false;
    await using worker = await PipelineWorker.connect(
      { tasks: broker.endpoint },
      Jobs,
      async (value, context) => {
        context.signal.addEventListener("abort", () => (aborted = true));
        return handlerWith(gates).handler(value, context);
      },
      {
        mode: "reliable",
        concurrency: 2,
        onEvent: (event) => events.push(event),
        onError: (info) => dropped.push(info.code),
      },
    );
    const first = await broker.ready();
    await broker.task(first.id, "old", task("t-old", { n: 5, key: "held" }));
    await within(gates.arrived("held"), 3_000, "the task to start");
    const mark = broker.seen.length;
    await broker.router.send([first.id, "", "MDPW01", "\x05"]);
    const second = await broker.ready(mark);
    expect(second.id).not.toBe(first.id);
    expect(second.command).toMatchObject({ kind: "ready", capacity: 2, batch: true });
    expect(aborted).toBe(true);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["broker:disconnected", "broker:reconnecting"]));
    gates.open("held");
    await broker.task(second.id, "new", task("t-new", { n: 6 }));
    const reply = await broker.reply("new");
    expect(reply.kind === "outcome" && decode(reply.outcome.body)).toEqual({ n: 6, doubled: 12 });
    // The old task finished too, but its outcome never went out (on either socket).
    await within(
      (async () => {
        while (worker.stats.inFlight > 0) await new Promise((resolve) => setImmediate(resolve));
      })(),
      3_000,
      "the old task to finish",
    );
    expect(broker.seen.some((s) => s.command.kind === "reply" && String(s.command.client) === "old")).toBe(false);
    expect(worker.stats).toMatchObject({ received: 2, completed: 1, dropped: 1 });
    expect(dropped).toContain("UNAVAILABLE");
  });

  test('close(): HEARTBEAT "leaving", the tasks sent before the echo are answered, then DISCONNECT', async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    broker.ackLeaving = false;
    const gates = new Gates();
    const worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handlerWith(gates).handler, {
      mode: "reliable",
      concurrency: 2,
    });
    const ready = await broker.ready();
    await broker.task(ready.id, "running", task("r", { n: 1, key: "r" }));
    await within(gates.arrived("r"), 3_000, "the task to start");
    const closing = worker.close();
    const leaving = await broker.next((s) => s.command.kind === "heartbeat" && s.command.leaving, "HEARTBEAT leaving");
    // A task the broker sent before it acknowledged the departure is still run and answered.
    await broker.task(ready.id, "late", task("l", { n: 2 }));
    await broker.router.send([leaving.id, "", "MDPW01", "\x04", "leaving"]);
    gates.open("r");
    await within(closing, 4_000, "close()");
    expect((await broker.reply("running")).kind).toBe("outcome");
    expect((await broker.reply("late")).kind).toBe("outcome");
    // close() resolved once DISCONNECT left; the broker's read loop may not have read it yet.
    const disconnect = await broker.next((s) => s.command.kind === "disconnect", "DISCONNECT");
    expect(broker.seen.indexOf(disconnect)).toBeGreaterThan(
      broker.seen.findIndex((s) => s.command.kind === "reply" && String(s.command.client) === "late"),
    );
  });

  test("close() past drainTimeoutMs answers a batch with the outcomes it has; the rest is left to the broker", async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    const gates = new Gates();
    const worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handlerWith(gates).handler, {
      mode: "reliable",
      concurrency: 4,
      drainTimeoutMs: 200,
      onError: () => undefined,
    });
    const ready = await broker.ready();
    await broker.batch(ready.id, "cut", [task("quick", { n: 1 }), task("stuck", { n: 2, key: "stuck" }), task("also", { n: 3 })]);
    await within(gates.arrived("stuck"), 3_000, "the stuck task to start");
    await within(worker.close(), 3_000, "close()");
    const reply = await broker.reply("cut");
    if (reply.kind !== "batch") throw new Error(reply.kind);
    expect(reply.ids).toEqual(["quick", "also"]);
    expect(reply.outcomes.map((o) => decode(o.body))).toEqual([
      { n: 1, doubled: 2 },
      { n: 3, doubled: 6 },
    ]);
    expect(worker.stats).toMatchObject({ completed: 2, dropped: 1 });
    gates.open("stuck");
  });

  test("one link per broker: each broker gets READY, and each task's outcome goes back to the broker that sent it", async () => {
    await using a = await FakeBroker.bind(endpointFor(transport));
    await using b = await FakeBroker.bind(endpointFor(transport));
    await using worker = await PipelineWorker.connect({ tasks: [a.endpoint, b.endpoint] }, Jobs, handlerWith().handler, {
      mode: "reliable",
      concurrency: 2,
    });
    const [readyA, readyB] = await Promise.all([a.ready(), b.ready()]);
    await a.task(readyA.id, "from-a", task("ta", { n: 10 }));
    await b.task(readyB.id, "from-b", task("tb", { n: 20 }));
    const [replyA, replyB] = await Promise.all([a.reply("from-a"), b.reply("from-b")]);
    expect(replyA.kind === "outcome" && decode(replyA.outcome.body)).toEqual({ n: 10, doubled: 20 });
    expect(replyB.kind === "outcome" && decode(replyB.outcome.body)).toEqual({ n: 20, doubled: 40 });
    expect(a.replies() + b.replies()).toBe(2);
    expect(worker.stats.completed).toBe(2);
  });

  test('close() against a broker that never echoes "leaving" is bounded', async () => {
    await using broker = await FakeBroker.bind(endpointFor(transport));
    broker.ackLeaving = false;
    const worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handlerWith().handler, {
      mode: "reliable",
      drainTimeoutMs: 300,
    });
    await broker.ready();
    const started = Date.now();
    await within(worker.close(), 3_000, "close()");
    expect(Date.now() - started).toBeLessThan(2_000);
    await broker.next((s) => s.command.kind === "disconnect", "DISCONNECT");
  });
});

describe("PipelineWorker reliable mode: misuse and bad input", () => {
  test("results, batchResults and sendFailures: false are refused in reliable mode; reliable options in plain mode", async () => {
    const handler = handlerWith().handler;
    await expect(
      PipelineWorker.connect({ tasks: "tcp://127.0.0.1:5555", results: "tcp://127.0.0.1:5556" }, Jobs, handler, {
        mode: "reliable",
      }),
    ).rejects.toThrow(/`results` has no use in reliable mode/);
    await expect(
      PipelineWorker.connect({ tasks: "tcp://127.0.0.1:5555" }, Jobs, handler, { mode: "reliable", batchResults: true }),
    ).rejects.toThrow(TypeError);
    await expect(
      PipelineWorker.connect({ tasks: "tcp://127.0.0.1:5555" }, Jobs, handler, { mode: "reliable", sendFailures: false }),
    ).rejects.toThrow(/sendFailures/);
    await expect(PipelineWorker.connect({ tasks: "tcp://127.0.0.1:5555" }, Jobs, handler, { queue: "q" })).rejects.toThrow(
      /`queue` is an option of reliable mode/,
    );
    await expect(
      PipelineWorker.connect({ tasks: "tcp://127.0.0.1:5555" }, Jobs, handler, { mode: "reliable", queue: "mmi.x" }),
    ).rejects.toThrow(TypeError);
  });

  test("a REQUEST whose body is not a task shape is answered with one final MALFORMED failure", async () => {
    await using broker = await FakeBroker.bind(endpointFor("tcp"));
    const codes: string[] = [];
    await using worker = await PipelineWorker.connect({ tasks: broker.endpoint }, Jobs, handlerWith().handler, {
      mode: "reliable",
      onError: (info) => codes.push(info.code),
    });
    const ready = await broker.ready();
    await broker.request(ready.id, "no-headers", [body({ n: 1 })]);
    await broker.request(ready.id, "bad-batch", ["", "xx", "yy", "z"]);
    for (const token of ["no-headers", "bad-batch"]) {
      const reply = await broker.reply(token);
      if (reply.kind !== "outcome") throw new Error(`${token}: ${reply.kind}`);
      expect(reply.outcome.status).toBe(OutcomeStatus.FAILED);
      expect(decode(reply.outcome.body)).toMatchObject({ code: "MALFORMED" });
    }
    expect(codes).toEqual(["MALFORMED", "MALFORMED"]);
    expect(worker.stats.failed).toEqual({ MALFORMED: 2 });
  });
});
