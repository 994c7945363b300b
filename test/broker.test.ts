import { describe, expect, test } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import {
  Broker,
  ClosedError,
  PipelineStreamer,
  PubSubForwarder,
  RpcBroker,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  Publisher,
  RemoteError,
  RpcClient,
  RpcServer,
  Subscriber,
  TimeoutError,
  defineJobs,
  defineTopics,
  type RpcBrokerEvent,
  type RpcHandlers,
  type JobOutcome,
  type TopicMessage,
} from "../src/index.js";
import { Orders } from "./helpers/contracts.js";
import { deferred, within } from "./helpers/deferred.js";
import { TRANSPORTS, endpointFor, type TestTransport } from "./helpers/endpoints.js";
import { Gates } from "./helpers/gates.js";
import { RawWorker } from "./helpers/mdp-peers.js";
import { encodeDisconnect, encodeHeartbeat } from "../src/protocol/mdp.js";

/** Upper bound for any single wait on an event in this file. */
const WAIT_MS = 3_000;

/**
 * Yields to the event loop (setImmediate, not a timer) until `condition` holds, for state that has no event of its
 * own (the broker's queue length). Fails after `ms`.
 */
async function until(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Records a broker's events and lets a test wait for the first of a type (already seen or still to come). */
function eventLog(): {
  readonly events: RpcBrokerEvent[];
  readonly onEvent: (event: RpcBrokerEvent) => void;
  next(type: RpcBrokerEvent["type"]): Promise<RpcBrokerEvent>;
} {
  const events: RpcBrokerEvent[] = [];
  let waiters: Array<{ type: RpcBrokerEvent["type"]; resolve: (e: RpcBrokerEvent) => void }> = [];
  return {
    events,
    onEvent(event) {
      events.push(event);
      const ready = waiters.filter((w) => w.type === event.type);
      waiters = waiters.filter((w) => w.type !== event.type);
      for (const w of ready) w.resolve(event);
    },
    next(type) {
      const seen = events.find((e) => e.type === type);
      if (seen !== undefined) return Promise.resolve(seen);
      const d = deferred<RpcBrokerEvent>();
      waiters.push({ type, resolve: (event) => d.resolve(event) });
      return within(d.promise, WAIT_MS, `the broker event "${type}"`);
    },
  };
}

/**
 * Marks a call that stays pending while the test goes on as handled, so that if an assertion fails first, its
 * rejection at cleanup (ClosedError) is not reported as unhandled. Awaiting it later still sees the outcome.
 */
function pending<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** The rejection of `promise` (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err,
  );
}

/**
 * A tcp endpoint with a concrete port that nothing listens on right now (bound on port 0, then unbound), so a peer can
 * connect to it before the broker binds it. Other transports need no reservation.
 */
async function unboundEndpoint(transport: TestTransport): Promise<string> {
  if (transport !== "tcp") return endpointFor(transport);
  const probe = new zmq.Router({ linger: 0 });
  try {
    await probe.bind("tcp://127.0.0.1:0");
    const endpoint = probe.lastEndpoint;
    if (endpoint === null) throw new Error("the probe socket reports no endpoint after bind");
    await probe.unbind(endpoint);
    return endpoint;
  } finally {
    probe.close();
  }
}

const Sports = defineTopics("sports.v1", {
  football: z.object({ team: z.string(), minute: z.number().int().nonnegative() }),
  tennis: z.object({ player: z.string(), score: z.string() }),
});

const Jobs = defineJobs("jobs.v1", {
  task: z.object({ id: z.number().int().nonnegative() }),
  result: z.object({ id: z.number().int(), worker: z.string() }),
});

/** The result of a successful outcome; fails the test on a failure outcome. */
function resultOf(outcome: JobOutcome<typeof Jobs>): { id: number; worker: string } {
  if (!outcome.ok) throw new Error(`expected a result, got failure ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.result;
}

/** Ids 0..n-1. */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Routing ids must be unique per broker; each test makes its own broker, so a readable prefix is enough. */
let workerCount = 0;

/**
 * A raw MDP worker serving Orders the way a typed worker does (`[method, body, headers?]` in,
 * `[status, body, headers?]` out, echoing the correlationId): `whoami` answers `name`, `wait` holds on `gates`.
 * Raw workers let the tests control every frame; typed `RpcServer.connect` workers are used where noted.
 */
function ordersWorker(backend: string, name: string, options: { gates?: Gates; capacity?: number } = {}): Promise<RawWorker> {
  const { gates, capacity = 100 } = options;
  return RawWorker.start(
    backend,
    { service: Orders.name, name: `orders-${name}-${++workerCount}`, capacity, heartbeatMs: 1_000 },
    async (body) => {
      const method = body[0]?.toString("utf8") ?? "";
      const input = JSON.parse(body[1]?.toString("utf8") || "{}") as Record<string, unknown>;
      let status = "ok";
      let out: unknown;
      if (method === "echo") out = { text: input["text"] };
      else if (method === "getOrder") out = { id: input["id"], total: Number(input["id"]) * 2 };
      else if (method === "whoami") out = { server: name };
      else if (method === "wait") {
        if (gates !== undefined) await gates.enter(String(input["key"]));
        out = { key: input["key"] };
      } else {
        status = "error";
        out = { code: "UNKNOWN_METHOD", message: `no method ${method}` };
      }
      const reply: string[] = [status, JSON.stringify(out)];
      const headers = body[2];
      if (headers !== undefined && headers[0] === 0x7b) {
        const { correlationId } = JSON.parse(headers.toString("utf8")) as { correlationId?: string };
        if (correlationId !== undefined) reply.push(JSON.stringify({ correlationId }));
      }
      return reply;
    },
  );
}

describe.each(TRANSPORTS)("RPC broker over %s", (transport) => {
  const endpoints = (): { frontend: string; backend: string } => ({
    frontend: endpointFor(transport),
    backend: endpointFor(transport),
  });

  test("typed workers: a closing RpcServer loses no request and gets no new work; worker and broker counts agree", async () => {
    await using broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 1_000 });
    const handlers = (name: string): RpcHandlers<typeof Orders> => ({
      echo: ({ text }) => ({ text }),
      getOrder: ({ id }) => ({ id, total: id * 2 }),
      wait: ({ key }) => ({ key }),
      whoami: () => ({ server: name }),
    });
    const a = await RpcServer.connect(broker.backend, Orders, handlers("A"), { name: "typed-a" });
    await using b = await RpcServer.connect(broker.backend, Orders, handlers("B"), { name: "typed-b" });
    await broker.waitForServers(2, { timeoutMs: WAIT_MS });
    await using client = await RpcClient.connect(broker.frontend, Orders, { service: Orders.name, timeoutMs: WAIT_MS });
    // 100 calls in flight while A closes: every one is answered, by A before its departure or by B after it.
    const calls = range(100).map(() => client.call("whoami", {}));
    const closing = a.close();
    const answers = await Promise.all(calls);
    await closing;
    expect(answers.every((r) => r.server === "A" || r.server === "B")).toBe(true);
    // After the departure the broker sends nothing to A.
    const after = await Promise.all(range(50).map(() => client.call("whoami", {})));
    expect(after.every((r) => r.server === "B")).toBe(true);
    expect(a.stats.succeeded + b.stats.succeeded).toBe(150);
    expect(broker.stats.forwarded).toBe(150);
    expect(broker.stats.workers).toBe(1);
  });

  test("spreads sequential calls over two workers and correlates 50 concurrent calls finishing out of order", async () => {
    const log = eventLog();
    await using broker = await RpcBroker.bind(endpoints(), { onEvent: log.onEvent, drainTimeoutMs: 500 });
    expect(broker.kind).toBe("rpc");
    expect(broker.frontend).not.toMatch(/:0$|:\*$/);
    expect(broker.backend).not.toMatch(/:0$|:\*$/);
    const gates = new Gates();
    await using a = await ordersWorker(broker.backend, "A", { gates });
    await using b = await ordersWorker(broker.backend, "B", { gates });
    await broker.waitForServers(2, { timeoutMs: WAIT_MS });
    expect(broker.stats.workers).toBe(2);
    expect(log.events.filter((e) => e.type === "worker:ready")).toEqual([
      expect.objectContaining({ service: "orders.v1", capacity: 100 }),
      expect.objectContaining({ service: "orders.v1", capacity: 100 }),
    ]);
    // A typed-zmq v1 client (no MDPC01 frame) reaches the only service.
    await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });

    const answeredBy = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const { server } = await client.call("whoami", {});
      answeredBy.set(server, (answeredBy.get(server) ?? 0) + 1);
    }
    expect([...answeredBy.keys()].sort()).toEqual(["A", "B"]);
    expect((answeredBy.get("A") ?? 0) + (answeredBy.get("B") ?? 0)).toBe(20);

    // 50 calls at once; the handlers are released in reverse order, so replies come back out of order and must
    // still reach the right call through the broker.
    const keys = range(50).map((i) => `k${i}`);
    const calls = keys.map((key) => pending(client.call("wait", { key })));
    await within(gates.entered(50), WAIT_MS, "50 handlers to start");
    expect(broker.stats.inFlight).toBe(50);
    for (const key of [...keys].reverse()) gates.open(key);
    const replies = await Promise.all(calls);
    expect(replies.map((r) => r.key)).toEqual(keys);
    const orders = await Promise.all(range(50).map((id) => client.call("getOrder", { id })));
    expect(orders).toEqual(range(50).map((id) => ({ id, total: id * 2 })));
    expect(client.stats).toMatchObject({ sent: 120, pending: 0, lateReplies: 0, malformedReplies: 0 });
    expect(broker.stats).toMatchObject({ forwarded: 120, returned: 120, queued: 0, inFlight: 0, rejected: 0, dropped: 0 });
    expect(a.requests.length + b.requests.length).toBe(120);
  });

  test("sends a busy worker no new work: everything goes to the free one until the busy one answers", async () => {
    await using broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 500 });
    const gates = new Gates();
    await using a = await ordersWorker(broker.backend, "A", { gates, capacity: 1 });
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
    const held = pending(client.call("wait", { key: "held" }));
    await within(gates.arrived("held"), WAIT_MS, "A's handler to start");

    await using b = await ordersWorker(broker.backend, "B");
    await broker.waitForServers(2, { timeoutMs: WAIT_MS });
    for (let i = 0; i < 10; i++) {
      await expect(client.call("whoami", {})).resolves.toEqual({ server: "B" });
    }
    const concurrent = await Promise.all(range(10).map(() => client.call("whoami", {})));
    expect(concurrent).toEqual(range(10).map(() => ({ server: "B" })));
    expect(a.requests.length).toBe(1);
    expect(b.requests.length).toBe(20);
    expect(broker.stats).toMatchObject({ workers: 2, inFlight: 1, queued: 0 });

    gates.open("held");
    await expect(held).resolves.toEqual({ key: "held" });
    expect(broker.stats.inFlight).toBe(0);
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add((await client.call("whoami", {})).server);
    expect([...names].sort()).toEqual(["A", "B"]);
  });

  test("holds requests in the broker while every worker is busy and dispatches them when credit frees", async () => {
    await using broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 500 });
    const gates = new Gates();
    await using a = await ordersWorker(broker.backend, "A", { gates, capacity: 1 });
    await using b = await ordersWorker(broker.backend, "B", { gates, capacity: 1 });
    await broker.waitForServers(2, { timeoutMs: WAIT_MS });
    await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
    const first = pending(client.call("wait", { key: "first" }));
    const second = pending(client.call("wait", { key: "second" }));
    await within(gates.entered(2), WAIT_MS, "both workers' handlers to start");
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);

    const third = pending(client.call("wait", { key: "third" }));
    await until(() => broker.stats.queued === 1, "the third request to wait in the broker");
    expect(broker.stats).toMatchObject({ queued: 1, inFlight: 2, forwarded: 2 });

    gates.open("first");
    await expect(first).resolves.toEqual({ key: "first" });
    await within(gates.arrived("third"), WAIT_MS, "the queued request to reach the freed worker");
    expect(broker.stats).toMatchObject({ queued: 0, inFlight: 2, forwarded: 3 });
    gates.open("second");
    gates.open("third");
    await expect(second).resolves.toEqual({ key: "second" });
    await expect(third).resolves.toEqual({ key: "third" });
    expect(broker.stats).toMatchObject({ queued: 0, inFlight: 0, returned: 3, rejected: 0 });
  });

  test("answers UNAVAILABLE itself once maxQueued requests already wait", async () => {
    const log = eventLog();
    await using broker = await RpcBroker.bind(endpoints(), { maxQueued: 1, onEvent: log.onEvent, drainTimeoutMs: 500 });
    const gates = new Gates();
    await using worker = await ordersWorker(broker.backend, "A", { gates, capacity: 1 });
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
    const running = pending(client.call("wait", { key: "running" }));
    await within(gates.arrived("running"), WAIT_MS, "the handler to start");
    const waiting = pending(client.call("wait", { key: "waiting" }));
    await until(() => broker.stats.queued === 1, "the second request to wait in the broker");

    const err = await rejectionOf(client.call("wait", { key: "overflow" }));
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: "UNAVAILABLE", method: "wait" });
    expect((err as RemoteError).remoteMessage).toMatch(/^Broker: 1 requests already wait at the broker \(maxQueued\)/);
    expect(await log.next("request:rejected")).toMatchObject({
      code: "UNAVAILABLE",
      reason: expect.stringContaining("maxQueued"),
    });
    expect(broker.stats).toMatchObject({ rejected: 1, queued: 1, inFlight: 1 });

    gates.open("running");
    gates.open("waiting");
    await expect(running).resolves.toEqual({ key: "running" });
    await expect(waiting).resolves.toEqual({ key: "waiting" });
    expect(worker.requests.length).toBe(2);
  });

  test("a departing worker (HEARTBEAT leaving) is acknowledged, gets no new work, and its last reply still passes", async () => {
    const log = eventLog();
    await using broker = await RpcBroker.bind(endpoints(), { onEvent: log.onEvent, drainTimeoutMs: 100 });
    const gates = new Gates();
    await using a = await ordersWorker(broker.backend, "A", { gates, capacity: 2 });
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
    const held = pending(client.call("wait", { key: "a" })); // A is the only worker
    await within(gates.arrived("a"), WAIT_MS, "A's handler to start");
    await using b = await ordersWorker(broker.backend, "B");
    await broker.waitForServers(2, { timeoutMs: WAIT_MS });

    await a.send(encodeHeartbeat(true));
    expect(await log.next("worker:left")).toMatchObject({ service: "orders.v1", inFlight: 1 });
    await a.waitFor("heartbeat"); // the acknowledgement (HEARTBEAT "leaving")
    expect(broker.stats.workers).toBe(1);
    for (let i = 0; i < 4; i++) await expect(client.call("whoami", {})).resolves.toEqual({ server: "B" });
    gates.open("a");
    await expect(held).resolves.toEqual({ key: "a" });
    await a.send(encodeDisconnect());
    await until(() => broker.services()[0]?.workers.length === 1, "A to be forgotten");
    expect(log.events.filter((e) => e.type === "worker:gone" || e.type === "worker:evicted")).toEqual([]);
    expect(a.requests.length).toBe(1);
    expect(b.requests.length).toBe(4);
    expect(broker.stats).toMatchObject({ workers: 1, inFlight: 0, dropped: 0 });
  });

  test("serves a plain zeromq REQ socket speaking the v1 RPC frames: [method, body] in, [status, body] out", async () => {
    await using broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 500 });
    await using worker = await ordersWorker(broker.backend, "A");
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    const req = new zmq.Request({ linger: 0, receiveTimeout: WAIT_MS, sendTimeout: WAIT_MS });
    try {
      req.connect(broker.frontend);
      await req.send(["echo", JSON.stringify({ text: "hé ☃" })]);
      const [status, body, ...rest] = await req.receive();
      expect(rest).toEqual([]);
      expect(status?.toString("utf8")).toBe("ok");
      expect(JSON.parse(body?.toString("utf8") ?? "null")).toEqual({ text: "hé ☃" });

      await req.send(["nope", "{}"]);
      const [errStatus, errBody] = await req.receive();
      expect(errStatus?.toString("utf8")).toBe("error");
      expect(JSON.parse(errBody?.toString("utf8") ?? "null")).toMatchObject({ code: "UNKNOWN_METHOD" });
    } finally {
      req.close();
    }
    expect(worker.requests.length).toBe(2);
  });

  test("answers a v1 request whose method frame is ok or error MALFORMED itself, and keeps the worker's credit free", async () => {
    await using broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 500 });
    await using worker = await ordersWorker(broker.backend, "A", { capacity: 1 });
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: WAIT_MS });
    try {
      dealer.connect(broker.frontend);
      for (const status of ["ok", "error"]) {
        await dealer.send(["", status, "{}"]);
        const [delimiter, replyStatus, body] = await dealer.receive();
        expect([String(delimiter), String(replyStatus)]).toEqual(["", "error"]);
        expect(JSON.parse(String(body))).toMatchObject({
          code: "MALFORMED",
          message: expect.stringContaining("a worker never answers a reply"),
        });
      }
    } finally {
      dealer.close();
    }
    await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
    await expect(client.call("echo", { text: "after" })).resolves.toEqual({ text: "after" });
    expect(worker.requests.length).toBe(1);
    expect(broker.stats).toMatchObject({ inFlight: 0, queued: 0, rejected: 2 });
  });

  test("registers a worker that connected before the broker bound", async () => {
    const backend = await unboundEndpoint(transport);
    const log = eventLog();
    await using worker = await ordersWorker(backend, "early");
    await using broker = await RpcBroker.bind(
      { frontend: endpointFor(transport), backend },
      { onEvent: log.onEvent, drainTimeoutMs: 500 },
    );
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    expect(await log.next("worker:ready")).toMatchObject({ capacity: 100, worker: expect.stringMatching(/^orders-early-/) });
    await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
    await expect(client.call("whoami", {})).resolves.toEqual({ server: "early" });
    expect(worker.requests.length).toBe(1);
  });

  test("close() answers queued requests UNAVAILABLE, drains the one in flight, refuses new ones, and is idempotent", async () => {
    const log = eventLog();
    // drainTimeoutMs is far above the bound on close() below: close() must end because the last reply came back.
    const broker = await RpcBroker.bind(endpoints(), { onEvent: log.onEvent, drainTimeoutMs: 4_000 });
    try {
      const gates = new Gates();
      await using worker = await ordersWorker(broker.backend, "A", { gates, capacity: 1 });
      await broker.waitForServers(1, { timeoutMs: WAIT_MS });
      await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
      const inFlight = pending(client.call("wait", { key: "in-flight" }));
      await within(gates.arrived("in-flight"), WAIT_MS, "the handler to start");
      const queued = pending(client.call("wait", { key: "queued" }));
      await until(() => broker.stats.queued === 1, "the second request to wait in the broker");

      const closing = broker.close();
      expect(broker.closed).toBe(true);
      expect(broker.close()).toBe(closing);
      const queuedErr = await rejectionOf(queued);
      expect(queuedErr).toBeInstanceOf(RemoteError);
      expect(queuedErr).toMatchObject({ code: "UNAVAILABLE" });
      expect((queuedErr as RemoteError).remoteMessage).toMatch(/^Broker: the broker closed before a worker took the request/);

      // While it drains, the broker still answers, but takes nothing new.
      const late = await rejectionOf(client.call("echo", { text: "late" }));
      expect(late).toMatchObject({ name: "RemoteCallError", code: "UNAVAILABLE" });
      expect((late as RemoteError).remoteMessage).toMatch(/shutting down/);
      expect(broker.stats).toMatchObject({ rejected: 2, queued: 0, inFlight: 1 });

      gates.open("in-flight");
      await expect(inFlight).resolves.toEqual({ key: "in-flight" });
      await within(closing, 1_000, "close() to finish once the last request was answered");
      expect(log.events.filter((e) => e.type === "request:rejected")).toHaveLength(2);
      expect(worker.requests.length).toBe(1);
      await worker.waitFor("disconnect"); // every worker is told DISCONNECT at the end

      // The frontend is gone: NO_SERVER or CONNECTION_LOST once the client has seen it go, TIMEOUT if not yet.
      await expect(client.call("echo", { text: "after" }, { timeoutMs: 100 })).rejects.toMatchObject({
        code: expect.stringMatching(/^(NO_SERVER|CONNECTION_LOST|TIMEOUT)$/),
      });
      await expect(broker.close()).resolves.toBeUndefined();
    } finally {
      await broker.close();
    }
  });

  test("close() with no worker at all still answers the requests waiting in it", async () => {
    const broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 500 });
    try {
      await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
      const calls = range(3).map((i) => pending(client.call("echo", { text: `q${i}` })));
      await until(() => broker.stats.queued === 3, "three requests to wait in the broker");
      await broker.close();
      const errors = await Promise.all(calls.map(rejectionOf));
      for (const err of errors) expect(err).toMatchObject({ name: "RemoteCallError", code: "UNAVAILABLE" });
      expect(broker.stats.rejected).toBe(3);
    } finally {
      await broker.close();
    }
  });

  test("close() answers a request still in flight after drainTimeoutMs with UNAVAILABLE, and gives up in time", async () => {
    const broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 100 });
    const gates = new Gates();
    try {
      await using worker = await ordersWorker(broker.backend, "A", { gates });
      await broker.waitForServers(1, { timeoutMs: WAIT_MS });
      await using client = await RpcClient.connect(broker.frontend, Orders, { timeoutMs: WAIT_MS });
      const stuck = pending(client.call("wait", { key: "stuck" }));
      await within(gates.arrived("stuck"), WAIT_MS, "the handler to start");
      await within(broker.close(), 1_000, "close() to give up after drainTimeoutMs");
      const err = await rejectionOf(stuck);
      expect(err).toMatchObject({ name: "RemoteCallError", code: "UNAVAILABLE" });
      expect((err as RemoteError).remoteMessage).toMatch(/drainTimeoutMs 100/);
      expect(worker.requests.length).toBe(1);
    } finally {
      gates.open("stuck");
      await broker.close();
    }
  });

  // Protocol 1.1 inside MDP: the broker reads the headers frame but passes every body frame through untouched.
  test("passes request and reply bodies through with every trailing frame", async () => {
    await using broker = await RpcBroker.bind(endpoints(), { drainTimeoutMs: 100 });
    const text = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString("utf8"));
    await using worker = await RawWorker.start(broker.backend, { service: "echo" }, (body) => [
      "ok",
      ...body.slice(1),
      "trailing",
    ]);
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    const client = new zmq.Dealer({ linger: 0, receiveTimeout: WAIT_MS });
    try {
      client.connect(broker.frontend);
      const headers = JSON.stringify({
        correlationId: "c-1",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      });
      await client.send(["", "MDPC01", "echo", "echo", '{"text":"hi"}', headers, "a frame after the headers"]);
      expect(text(await client.receive())).toEqual([
        "",
        "MDPC01",
        "echo",
        "ok",
        '{"text":"hi"}',
        headers,
        "a frame after the headers",
        "trailing",
      ]);
      expect(worker.requests).toEqual([["echo", '{"text":"hi"}', headers, "a frame after the headers"]]);
      expect(broker.stats).toMatchObject({ forwarded: 1, returned: 1, inFlight: 0, workers: 1, dropped: 0 });
    } finally {
      client.close();
    }
  });

  test("waitForServers times out with TimeoutError when no worker joins, and rejects with ClosedError on close", async () => {
    const broker = await RpcBroker.bind(endpoints());
    try {
      const err = await rejectionOf(broker.waitForServers(1, { timeoutMs: 100 }));
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err).toMatchObject({ code: "TIMEOUT", timeoutMs: 100 });
      expect((err as Error).message).toMatch(
        /^RpcBroker\.waitForServers\(1\) \(0 ready\) timed out after 100 ms waiting for workers to connect to .*RpcServer\.connect\(\)/,
      );
      await expect(broker.waitForServers(0)).resolves.toBeUndefined();
      const other = await rejectionOf(broker.waitForServers(1, { service: "x.v1", timeoutMs: 50 }));
      expect((other as Error).message).toMatch(/waiting for workers of "x\.v1"/);

      const waiting = broker.waitForServers(1);
      const closing = broker.close();
      await expect(waiting).rejects.toBeInstanceOf(ClosedError);
      await closing;
      await expect(broker.waitForServers(1)).rejects.toBeInstanceOf(ClosedError);
    } finally {
      await broker.close();
    }
  });
});

describe.each(TRANSPORTS)("pub-sub forwarder over %s", (transport) => {
  test("passes subscriptions up and messages down: each subscriber gets only its topics", async () => {
    await using forwarder = await PubSubForwarder.bind({ frontend: endpointFor(transport), backend: endpointFor(transport) });
    expect(forwarder.kind).toBe("pubsub");
    expect(forwarder.frontend).not.toMatch(/:0$|:\*$/);
    // Only the RPC broker has servers to wait for.
    expect("waitForServers" in forwarder).toBe(false);
    await using football = await Subscriber.connect(forwarder.backend, Sports, { topics: ["football"] });
    await using tennis = await Subscriber.connect(forwarder.backend, Sports, { topics: ["tennis"] });
    await using alsoTennis = await Subscriber.connect(forwarder.backend, Sports, { topics: ["tennis"] });
    await using pub = await Publisher.connect(forwarder.frontend, Sports);
    await pub.waitForSubscribers(2, { timeoutMs: WAIT_MS });
    // XSUB replays its subscription set (each topic once) to a publisher that connects after the subscribers, so
    // the publisher counts topics here, not subscribers; delivery still reaches both tennis subscribers.
    expect(pub.subscriptions).toEqual(
      new Map([
        ["football", 1],
        ["tennis", 1],
      ]),
    );

    await pub.publish("football.Arsenal", { team: "Arsenal", minute: 12 });
    await pub.publish("tennis.Wimbledon", { player: "Alcaraz", score: "15-0" });
    await pub.publish("football", { team: "league", minute: 40 });
    await pub.publish("tennis", { player: "Swiatek", score: "30-15" });
    await pub.publish("football.Chelsea", { team: "Chelsea", minute: 90 });
    await pub.publish("tennis", { player: "-", score: "end" });

    const read = async (
      sub: Subscriber<typeof Sports>,
      n: number,
    ): Promise<Array<Pick<TopicMessage<typeof Sports>, "topic" | "data">>> => {
      const out: Array<Pick<TopicMessage<typeof Sports>, "topic" | "data">> = [];
      for (let i = 0; i < n; i++) {
        const { topic, data } = await sub.receive({ timeoutMs: WAIT_MS });
        out.push({ topic, data });
      }
      return out;
    };
    const tennisMessages = [
      { topic: "tennis.Wimbledon", data: { player: "Alcaraz", score: "15-0" } },
      { topic: "tennis", data: { player: "Swiatek", score: "30-15" } },
      { topic: "tennis", data: { player: "-", score: "end" } },
    ];
    // The last message of each topic was published last, so nothing else can have been delivered before it.
    expect(await read(football, 3)).toEqual([
      { topic: "football.Arsenal", data: { team: "Arsenal", minute: 12 } },
      { topic: "football", data: { team: "league", minute: 40 } },
      { topic: "football.Chelsea", data: { team: "Chelsea", minute: 90 } },
    ]);
    expect(await read(tennis, 3)).toEqual(tennisMessages);
    expect(await read(alsoTennis, 3)).toEqual(tennisMessages);
    expect([football.stats.received, tennis.stats.received, alsoTennis.stats.received]).toEqual([3, 3, 3]);

    // Unsubscriptions pass up too, once the last subscriber of a topic has gone.
    await football.close();
    await until(() => (pub.subscriptions.get("football") ?? 0) === 0, "the unsubscription to reach the publisher");
  });
});

describe.each(TRANSPORTS)("pipeline streamer over %s", (transport) => {
  test("streams 40 tasks from a connecting source to two workers; each result reaches the sink exactly once", async () => {
    await using sink = await PipelineSink.bind(endpointFor(transport), Jobs);
    await using streamer = await PipelineStreamer.bind({ frontend: endpointFor(transport), backend: endpointFor(transport) });
    expect(streamer.kind).toBe("pipeline");
    expect("waitForServers" in streamer).toBe(false);
    const worker = (name: string): Promise<PipelineWorker<typeof Jobs>> =>
      PipelineWorker.connect({ tasks: streamer.backend, results: sink.endpoint }, Jobs, ({ id }) => ({ id, worker: name }), {
        drainTimeoutMs: 200,
      });
    await using w1 = await worker("w1");
    await using w2 = await worker("w2");
    await using source = await PipelineSource.connect(streamer.frontend, Jobs);

    for (const id of range(40)) await source.push({ id });
    const results = (await sink.collect(40, { timeoutMs: WAIT_MS })).map(resultOf);
    expect(results.map((r) => r.id).sort((x, y) => x - y)).toEqual(range(40));
    for (const r of results) expect(["w1", "w2"]).toContain(r.worker);
    await Promise.all([w1.close(), w2.close()]);
    expect(w1.stats.received + w2.stats.received).toBe(40);
    expect(w1.stats.completed + w2.stats.completed).toBe(40);
  });
});

describe("devices", () => {
  const endpoints = (): { frontend: string; backend: string } => ({
    frontend: endpointFor("inproc"),
    backend: endpointFor("inproc"),
  });

  test("close() stops the native proxy and resolves once it has; it is idempotent", async () => {
    const ends = endpoints();
    const streamer = await PipelineStreamer.bind(ends);
    expect([streamer.frontend, streamer.backend]).toEqual([ends.frontend, ends.backend]);
    const closing = streamer.close();
    expect(streamer.close()).toBe(closing);
    expect(streamer.closed).toBe(true);
    await within(closing, WAIT_MS, "the proxy to stop");
    // (libzmq releases the endpoints a little later, in its reaper thread, as for any closed socket.)
  });

  test("a failed bind closes both sockets and leaves nothing running", async () => {
    await using first = await PubSubForwarder.bind(endpoints());
    const err = await rejectionOf(PubSubForwarder.bind({ frontend: endpointFor("inproc"), backend: first.backend }));
    expect(err).toMatchObject({ name: "EndpointInUseError", code: "ENDPOINT_IN_USE" });
    await expect(PubSubForwarder.bind({ frontend: "tcp://127.0.0.1", backend: endpointFor("inproc") })).rejects.toMatchObject({
      name: "InvalidEndpointError",
    });
    await expect(PipelineStreamer.bind(endpoints(), { highWaterMark: 0 })).rejects.toThrow(
      /PipelineStreamer\.bind: `highWaterMark` must be a positive integer/,
    );
  });

  // Each native proxy holds a libuv pool thread while it runs; one more than the pool can spare is refused.
  test("refuses a device that would take the last libuv pool thread, and accepts one again after a close", async () => {
    const pool = Number.parseInt(process.env["UV_THREADPOOL_SIZE"] ?? "4", 10);
    const open: Array<PubSubForwarder | PipelineStreamer> = [];
    try {
      for (let i = 0; i < pool - 1; i++) open.push(await PipelineStreamer.bind(endpoints()));
      const err = await rejectionOf(PubSubForwarder.bind(endpoints()));
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(
        new RegExp(`^PubSubForwarder\\.bind: ${pool - 1} devices already run in this process.*UV_THREADPOOL_SIZE`),
      );
      await open.pop()?.close();
      open.push(await PubSubForwarder.bind(endpoints()));
    } finally {
      await Promise.all(open.map((d) => d.close()));
    }
  });
});

describe("deprecated Broker factories", () => {
  test("Broker.rpc, Broker.pubsub and Broker.pipeline make the new classes", async () => {
    const ends = (): { frontend: string; backend: string } => ({
      frontend: endpointFor("inproc"),
      backend: endpointFor("inproc"),
    });
    await using rpc = await Broker.rpc(ends(), { maxQueued: 5 });
    expect(rpc).toBeInstanceOf(RpcBroker);
    await using pubsub = await Broker.pubsub(ends(), { highWaterMark: 10 });
    expect(pubsub).toBeInstanceOf(PubSubForwarder);
    await using pipeline = await Broker.pipeline(ends());
    expect(pipeline).toBeInstanceOf(PipelineStreamer);
    const all: Broker[] = [rpc, pubsub, pipeline];
    expect(all.map((b) => b.kind)).toEqual(["rpc", "pubsub", "pipeline"]);
    await expect(Broker.rpc(ends(), { maxQueued: 0 })).rejects.toThrow(/RpcBroker\.bind: `maxQueued` must be a positive integer/);
  });
});
