/**
 * RpcServer in worker mode (MDP 0.1, rfc.zeromq.org 7/MDP) against a minimal broker written here with a raw
 * zeromq.js ROUTER: the frames a worker sends (READY with and without the capacity extension, HEARTBEAT, REPLY,
 * the departure, DISCONNECT), and how it behaves when the broker falls silent or sends DISCONNECT. Real sockets.
 */
import { describe, expect, test, vi } from "vitest";
import * as zmq from "zeromq";
import { RpcBroker, RpcClient, RpcServer, type RpcServerEvent } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { deferred, within } from "../helpers/deferred.js";
import { TRANSPORTS, endpointFor } from "../helpers/endpoints.js";
import { Gates } from "../helpers/gates.js";
import { readUntilClosed } from "../helpers/read-until-closed.js";

const READY = "\x01";
const REQUEST = "\x02";
const REPLY = "\x03";
const HEARTBEAT = "\x04";
const DISCONNECT = "\x05";

/** One message a worker sent: its routing id, the command byte as a string, and the frames after it. */
interface WorkerMessage {
  readonly id: Buffer;
  readonly command: string;
  readonly rest: Buffer[];
}

/** A minimal MDP broker backend: records what workers send and lets the test answer by hand. */
class MiniBroker implements AsyncDisposable {
  readonly router = new zmq.Router({ linger: 0 });
  readonly seen: WorkerMessage[] = [];
  /** Messages a test has already consumed with `next`, when it reads several of one kind. */
  readonly taken = new Set<WorkerMessage>();
  /** Answer a worker's HEARTBEAT + "leaving" at once, as typed-zmq's broker does; false: never (a strict broker). */
  ackLeaving = true;
  #waiters: Array<() => void> = [];
  #loop: Promise<void> = Promise.resolve();

  static async bind(endpoint: string): Promise<MiniBroker> {
    const broker = new MiniBroker();
    await broker.router.bind(endpoint);
    broker.#loop = broker.#read();
    return broker;
  }

  get endpoint(): string {
    return this.router.lastEndpoint ?? "";
  }

  async #read(): Promise<void> {
    await readUntilClosed(this.router, async (frames) => {
      const [id, empty, header, command, ...rest] = frames;
      expect(empty?.length).toBe(0);
      expect(String(header)).toBe("MDPW01");
      this.seen.push({ id: id!, command: String(command), rest });
      if (this.ackLeaving && String(command) === HEARTBEAT && String(rest[0]) === "leaving") {
        await this.send(id!, HEARTBEAT, "leaving").catch(() => undefined);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Waits (bounded) for the first message from `from` on that matches, and returns it. */
  async next(match: (m: WorkerMessage) => boolean, what: string, ms = 3_000): Promise<WorkerMessage> {
    const deadline = Date.now() + ms;
    let index = 0;
    for (;;) {
      for (; index < this.seen.length; index++) {
        const m = this.seen[index]!;
        if (match(m)) return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; saw ${this.describe()}`);
      const woke = new Promise<void>((resolve) => this.#waiters.push(resolve));
      await within(woke, left, what).catch(() => undefined);
    }
  }

  /** The next message with `command` from any worker, after the first `after` messages. */
  command(command: string, what: string, after = 0, ms = 3_000): Promise<WorkerMessage> {
    return this.next((m) => m.command === command && this.seen.indexOf(m) >= after, what, ms);
  }

  send(id: Buffer, command: string, ...rest: zmq.MessageLike[]): Promise<void> {
    return this.router.send([id, "", "MDPW01", command, ...rest]);
  }

  request(id: Buffer, client: string, ...body: zmq.MessageLike[]): Promise<void> {
    return this.send(id, REQUEST, client, "", ...body);
  }

  describe(): string {
    return (
      this.seen.map((m) => `${String(m.id)}:${m.command.charCodeAt(0)}[${m.rest.map(String).join("|")}]`).join(" ") || "nothing"
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.router.close();
    await this.#loop;
  }
}

const handlers = (gates?: Gates) => ({
  echo: ({ text }: { text: string }) => ({ text }),
  getOrder: ({ id }: { id: number }) => ({ id, total: id * 2 }),
  wait: async ({ key }: { key: string }) => {
    await gates?.enter(key);
    return { key };
  },
  whoami: () => ({ server: "worker" }),
});

const json = (value: unknown): string => JSON.stringify(value);

describe.each(TRANSPORTS)("RpcServer worker mode over %s", (transport) => {
  test("sends READY with the service and the capacity extension, answers REQUEST with REPLY", async () => {
    await using broker = await MiniBroker.bind(endpointFor(transport));
    await using server = await RpcServer.connect(broker.endpoint, Orders, handlers(), { concurrency: 7, name: "orders-w" });
    const ready = await broker.command(READY, "READY");
    expect(String(ready.id)).toMatch(/^orders-w-[0-9a-f]{4}$/);
    expect(ready.rest.map(String)).toEqual(["orders.v1", "7"]);
    await broker.request(ready.id, "client-1", "getOrder", json({ id: 21 }));
    const reply = await broker.command(REPLY, "REPLY");
    expect(reply.rest.map(String)).toEqual(["client-1", "", "ok", json({ id: 21, total: 42 })]);
    expect(server.stats).toMatchObject({ received: 1, succeeded: 1 });
  });
});

describe("RpcServer worker mode", () => {
  test("strictMdp leaves the capacity frame out, and a custom service is announced", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    await using _server = await RpcServer.connect(broker.endpoint, Orders, handlers(), { strictMdp: true, service: "orders.eu" });
    const ready = await broker.command(READY, "READY");
    expect(ready.rest.map(String)).toEqual(["orders.eu"]);
  });

  test("refuses a service name in the broker's mmi. namespace before opening anything", async () => {
    await expect(RpcServer.connect("tcp://127.0.0.1:1", Orders, handlers(), { service: "mmi.service" })).rejects.toThrow(
      /`service`/,
    );
  });

  test("echoes correlationId in the reply headers, and answers a plain opaque body MALFORMED or UNKNOWN_METHOD", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    await using server = await RpcServer.connect(broker.endpoint, Orders, handlers(), { onError: () => undefined });
    const { id } = await broker.command(READY, "READY");
    const headers = json({ version: "1.1", contract: "orders.v1", correlationId: "c-17", remainingMs: 5_000 });
    await broker.request(id, "tok-1", "echo", json({ text: "hi" }), headers);
    await broker.request(id, "tok-2", "hello");
    await broker.request(id, "tok-3", "hello", "world");
    await broker.request(id, "tok-4");
    const replies = new Map<string, string[]>();
    for (let n = 0; n < 4; n++) {
      const reply = await broker.next((m) => m.command === REPLY && !replies.has(String(m.rest[0])), `reply ${n + 1} of 4`);
      replies.set(String(reply.rest[0]), reply.rest.slice(2).map(String));
    }
    expect(replies.get("tok-1")).toEqual(["ok", json({ text: "hi" }), json({ correlationId: "c-17" })]);
    const code = (token: string): unknown => (JSON.parse(replies.get(token)![1]!) as { code: string }).code;
    expect(replies.get("tok-2")![0]).toBe("error");
    expect(code("tok-2")).toBe("MALFORMED");
    expect(code("tok-3")).toBe("UNKNOWN_METHOD");
    expect(code("tok-4")).toBe("MALFORMED");
    // No headers in, no headers out: a plain MDP client sees exactly [status, body].
    expect(replies.get("tok-3")).toHaveLength(2);
    expect(server.stats.failed).toEqual({ MALFORMED: 2, UNKNOWN_METHOD: 1 });
  });

  test("heartbeats an idle broker, and stays on the same socket while the broker heartbeats back", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    const events: RpcServerEvent[] = [];
    await using _server = await RpcServer.connect(broker.endpoint, Orders, handlers(), {
      heartbeatMs: 100,
      liveness: 3,
      onEvent: (e) => events.push(e),
    });
    const ready = await broker.command(READY, "READY");
    const started = Date.now();
    // The broker heartbeats every 100 ms for 800 ms: more than the 300 ms liveness, so only its heartbeats keep the
    // worker from reconnecting.
    while (Date.now() - started < 800) {
      await broker.send(ready.id, HEARTBEAT);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const heartbeats = broker.seen.filter((m) => m.command === HEARTBEAT && m.id.equals(ready.id));
    expect(heartbeats.length).toBeGreaterThanOrEqual(4);
    expect(broker.seen.filter((m) => m.command === READY)).toHaveLength(1);
    expect(events.map((e) => e.type)).toEqual(["broker:connected"]);
  });

  test("a silent broker is taken for dead: a new socket (new routing id) sends READY again, with events", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    const events: RpcServerEvent[] = [];
    const reconnecting = deferred();
    await using _server = await RpcServer.connect(broker.endpoint, Orders, handlers(), {
      heartbeatMs: 100,
      liveness: 3,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "broker:reconnecting") reconnecting.resolve();
      },
    });
    const first = await broker.command(READY, "the first READY");
    const before = Date.now();
    // The broker never answers. The worker gives up after about 300 ms and reconnects after a 50-100 ms backoff.
    const second = await broker.next((m) => m.command === READY && !m.id.equals(first.id), "a READY from a new socket");
    expect(Date.now() - before).toBeGreaterThanOrEqual(250);
    expect(String(second.id)).not.toBe(String(first.id));
    await within(reconnecting.promise, 1_000, "broker:reconnecting");
    const types = events.map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(["broker:connected", "broker:lost", "broker:reconnecting"]);
    const lost = events.find((e) => e.type === "broker:lost");
    expect(lost).toMatchObject({ endpoint: broker.endpoint });
    if (lost?.type === "broker:lost") expect(lost.silentMs).toBeGreaterThanOrEqual(300);
    // Never a second READY on the same socket.
    expect(broker.seen.filter((m) => m.command === READY && m.id.equals(first.id))).toHaveLength(1);
  });

  test("a DISCONNECT from the broker makes the worker reconnect with a new socket, never a second READY on the old one", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    const events: RpcServerEvent[] = [];
    await using _server = await RpcServer.connect(broker.endpoint, Orders, handlers(), { onEvent: (e) => events.push(e) });
    const first = await broker.command(READY, "the first READY");
    await broker.send(first.id, DISCONNECT);
    const second = await broker.next((m) => m.command === READY && !m.id.equals(first.id), "a READY from a new socket");
    expect(second.rest.map(String)).toEqual(["orders.v1", "100"]);
    expect(broker.seen.filter((m) => m.command === READY && m.id.equals(first.id))).toHaveLength(1);
    expect(events.map((e) => e.type)).toContain("broker:disconnected");
    // The new socket serves.
    await broker.request(second.id, "c", "echo", json({ text: "again" }));
    expect((await broker.command(REPLY, "REPLY")).rest.map(String)).toEqual(["c", "", "ok", json({ text: "again" })]);
  });

  test("when its socket is replaced, requests of the old one stop: running handlers are aborted, queued ones never start", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    const started: string[] = [];
    const aborted = deferred<unknown>();
    const holding = {
      ...handlers(),
      wait: ({ key }: { key: string }, { signal }: { signal: AbortSignal }) =>
        new Promise<{ key: string }>((resolve) => {
          started.push(key);
          const onAbort = (): void => {
            aborted.resolve(signal.reason);
            resolve({ key });
          };
          signal.addEventListener("abort", onAbort, { once: true });
        }),
    };
    await using server = await RpcServer.connect(broker.endpoint, Orders, holding, { concurrency: 1 });
    const first = await broker.command(READY, "the first READY");
    await broker.request(first.id, "t1", "wait", json({ key: "running" }));
    await broker.request(first.id, "t2", "wait", json({ key: "queued" }));
    await vi.waitFor(() => expect(server.stats.queued, "the second request waits in the local queue").toBe(1), {
      timeout: 2_000,
    });
    await broker.send(first.id, DISCONNECT);
    expect(await within(aborted.promise, 2_000, "the running handler's signal")).toMatchObject({ name: "AbortError" });
    const second = await broker.next((m) => m.command === READY && !m.id.equals(first.id), "a READY from a new socket");
    // The slot is free again for the new socket's work, and the queued request of the old one never ran.
    await broker.request(second.id, "t3", "echo", json({ text: "fresh" }));
    const reply = await broker.next((m) => m.command === REPLY && m.id.equals(second.id), "the new socket's reply");
    expect(reply.rest.map(String)).toEqual(["t3", "", "ok", json({ text: "fresh" })]);
    expect(started).toEqual(["running"]);
    expect(server.stats.undeliverable).toBe(2);
  });

  test("keeps reading while its handlers are busy: requests beyond concurrency wait locally, in order", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    const gates = new Gates();
    await using server = await RpcServer.connect(broker.endpoint, Orders, handlers(gates), {
      concurrency: 1,
      heartbeatMs: 100,
    });
    const { id } = await broker.command(READY, "READY");
    for (const key of ["a", "b", "c"]) await broker.request(id, `t-${key}`, "wait", json({ key }));
    await gates.arrived("a");
    // The handler holds its only slot for longer than the liveness (300 ms) while the broker heartbeats: the worker
    // must read those heartbeats (and send its own), or it would take the broker for dead.
    for (let i = 0; i < 6; i++) {
      await broker.send(id, HEARTBEAT);
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    expect(server.stats).toMatchObject({ inFlight: 1, queued: 2 });
    expect(broker.seen.filter((m) => m.command === READY)).toHaveLength(1);
    gates.open("a");
    await gates.arrived("b");
    gates.open("b");
    gates.open("c");
    const order: string[] = [];
    for (let n = 0; n < 3; n++) {
      const reply = await broker.next((m) => m.command === REPLY && !order.includes(String(m.rest[0])), "replies");
      order.push(String(reply.rest[0]));
    }
    expect(order).toEqual(["t-a", "t-b", "t-c"]);
  });

  test("close(): announces its departure, serves what came before the ack, refuses what comes after, drains, then DISCONNECT", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    broker.ackLeaving = false;
    const gates = new Gates();
    const server = await RpcServer.connect(broker.endpoint, Orders, handlers(gates), { onError: () => undefined });
    try {
      const { id } = await broker.command(READY, "READY");
      await broker.request(id, "t-running", "wait", json({ key: "running" }));
      await gates.arrived("running");
      const closing = server.close();
      const leaving = await broker.command(HEARTBEAT, "HEARTBEAT leaving");
      expect(leaving.rest.map(String)).toEqual(["leaving"]);
      // Sent before the broker acknowledged: served.
      await broker.request(id, "t-before", "echo", json({ text: "before" }));
      await broker.send(id, HEARTBEAT, "leaving");
      const before = await broker.next((m) => m.command === REPLY && String(m.rest[0]) === "t-before", "the reply to t-before");
      expect(before.rest.slice(2).map(String)).toEqual(["ok", json({ text: "before" })]);
      // After the acknowledgement: refused, UNAVAILABLE.
      await broker.request(id, "t-after", "echo", json({ text: "after" }));
      const after = await broker.next((m) => m.command === REPLY && String(m.rest[0]) === "t-after", "the reply to t-after");
      expect(after.rest[2]!.toString()).toBe("error");
      expect(JSON.parse(String(after.rest[3]))).toMatchObject({ code: "UNAVAILABLE" });
      expect(broker.seen.some((m) => m.command === DISCONNECT)).toBe(false);
      gates.open("running");
      const running = await broker.next((m) => m.command === REPLY && String(m.rest[0]) === "t-running", "the running reply");
      expect(running.rest.slice(2).map(String)).toEqual(["ok", json({ key: "running" })]);
      const disconnect = await broker.command(DISCONNECT, "DISCONNECT");
      expect(broker.seen.indexOf(disconnect)).toBeGreaterThan(broker.seen.indexOf(running));
      await within(closing, 2_000, "close()");
    } finally {
      gates.open("running");
      await server.close();
    }
  });

  test("close() is bounded against a broker that never acknowledges the departure (a strict MDP broker)", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    broker.ackLeaving = false;
    const server = await RpcServer.connect(broker.endpoint, Orders, handlers(), { drainTimeoutMs: 300 });
    await broker.command(READY, "READY");
    const started = Date.now();
    await within(server.close(), 2_000, "close() against a silent broker");
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1_500);
    await broker.command(DISCONNECT, "DISCONNECT");
    expect(broker.seen.map((m) => m.command)).toEqual([READY, HEARTBEAT, DISCONNECT]);
    expect(broker.seen[1]!.rest.map(String)).toEqual(["leaving"]);
  });

  test("with strictMdp, close() sends no departure extension and does not wait for one", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    broker.ackLeaving = false;
    const server = await RpcServer.connect(broker.endpoint, Orders, handlers(), { strictMdp: true });
    await broker.command(READY, "READY");
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(500);
    await broker.command(DISCONNECT, "DISCONNECT");
    expect(broker.seen.map((m) => m.command)).toEqual([READY, DISCONNECT]);
  });

  test("joins every broker given, one socket each", async () => {
    await using a = await MiniBroker.bind(endpointFor("tcp"));
    await using b = await MiniBroker.bind(endpointFor("ipc"));
    await using server = await RpcServer.connect([a.endpoint, b.endpoint], Orders, handlers(), { concurrency: 3 });
    expect(server.endpoints).toEqual([a.endpoint, b.endpoint]);
    const readyA = await a.command(READY, "READY on a");
    const readyB = await b.command(READY, "READY on b");
    expect(readyA.rest.map(String)).toEqual(["orders.v1", "3"]);
    expect(String(readyA.id)).not.toBe(String(readyB.id));
    await b.request(readyB.id, "x", "whoami", "{}");
    expect((await b.command(REPLY, "REPLY on b")).rest.map(String)).toEqual(["x", "", "ok", json({ server: "worker" })]);
  });

  test("a cancel notice from the broker aborts the running handler's signal, and each notice is answered once", async () => {
    await using broker = await MiniBroker.bind(endpointFor("tcp"));
    const aborted = deferred<unknown>();
    const Slow = {
      ...handlers(),
      wait: async ({ key }: { key: string }, { signal }: { signal: AbortSignal }) => {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        aborted.resolve(signal.reason);
        return { key };
      },
    };
    await using server = await RpcServer.connect(broker.endpoint, Orders, Slow);
    const { id } = await broker.command(READY, "READY");
    await broker.request(id, "tok-9", "wait", json({ key: "k" }), json({ correlationId: "c9" }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Another client's notice with the same token but another correlation id finds nothing.
    await broker.request(id, "tok-9", "$cancel", "", json({ correlationId: "other" }));
    await broker.request(id, "tok-9", "$cancel", "", json({ correlationId: "c9" }));
    const reason = await within(aborted.promise, 2_000, "the handler's signal to abort");
    expect(reason).toMatchObject({ name: "AbortError" });
    // Each notice is answered once (a plain MDP broker frees the worker only on a REPLY), and the request itself is
    // still answered when its handler returns.
    const got: string[][] = [];
    for (let n = 0; n < 3; n++) {
      const reply = await broker.next((m) => m.command === REPLY && !broker.taken.has(m), `reply ${n + 1} of 3`);
      broker.taken.add(reply);
      got.push(reply.rest.slice(2).map(String));
    }
    const acks = got.filter((frames) => frames[0] === "error");
    expect(acks.map((frames) => (JSON.parse(frames[1]!) as { code: string }).code)).toEqual(["UNAVAILABLE", "UNAVAILABLE"]);
    expect(acks.map((frames) => frames[2]).sort()).toEqual([json({ correlationId: "c9" }), json({ correlationId: "other" })]);
    expect(got.filter((frames) => frames[0] === "ok")).toEqual([["ok", json({ key: "k" }), json({ correlationId: "c9" })]]);
    expect(server.stats).toMatchObject({ cancelled: 1, received: 3 });
    expect(broker.seen.filter((m) => m.command === REPLY)).toHaveLength(3);
  });
});

describe("RpcServer worker mode with typed-zmq's RpcBroker and a typed client", () => {
  const brokerEndpoints = () => ({ frontend: endpointFor("tcp"), backend: endpointFor("tcp") });

  test("serves calls through the broker, many in flight, with the worker's name in the broker's view", async () => {
    await using broker = await RpcBroker.bind(brokerEndpoints(), { drainTimeoutMs: 500 });
    await using server = await RpcServer.connect(broker.backend, Orders, handlers(), { name: "typed-w", concurrency: 5 });
    await broker.waitForServers(1, { service: Orders.name });
    expect(broker.services()).toMatchObject([{ service: "orders.v1", workers: [{ capacity: 5 }] }]);
    expect(broker.services()[0]!.workers[0]!.name).toMatch(/^typed-w-[0-9a-f]{4}$/);
    await using client = await RpcClient.connect(broker.frontend, Orders, { service: Orders.name, timeoutMs: 3_000 });
    const replies = await Promise.all(Array.from({ length: 50 }, (_, id) => client.call("getOrder", { id })));
    expect(replies.map((r) => r.total)).toEqual(Array.from({ length: 50 }, (_, id) => id * 2));
    expect(server.stats).toMatchObject({ received: 50, succeeded: 50, failed: {} });
  });

  test("a closing worker loses no request: 30 rounds of join, call, close while another worker serves", async () => {
    await using broker = await RpcBroker.bind(brokerEndpoints(), { drainTimeoutMs: 500 });
    await using steady = await RpcServer.connect(broker.backend, Orders, handlers(), { name: "steady" });
    await broker.waitForServers(1, { service: Orders.name });
    await using client = await RpcClient.connect(broker.frontend, Orders, { service: Orders.name, timeoutMs: 3_000 });
    let unavailable = 0;
    for (let round = 0; round < 30; round++) {
      const leaving = await RpcServer.connect(broker.backend, Orders, handlers(), { name: `leaving-${round}` });
      const calls = Array.from({ length: 4 }, (_, i) => client.call("echo", { text: `${round}-${i}` }));
      const closing = leaving.close();
      const settled = await Promise.allSettled([...calls, closing]);
      for (const result of settled.slice(0, 4)) {
        if (result.status === "rejected") {
          expect(result.reason).toMatchObject({ code: "UNAVAILABLE" });
          unavailable++;
        }
      }
    }
    // The acknowledged departure means a closing worker answers everything it was sent; nothing times out.
    expect(unavailable).toBe(0);
    expect(steady.closed).toBe(false);
  });

  test("a call the client aborts sends a cancel notice that aborts the worker's handler signal", async () => {
    await using broker = await RpcBroker.bind(brokerEndpoints(), { drainTimeoutMs: 500 });
    const aborted = deferred<unknown>();
    const started = deferred();
    await using server = await RpcServer.connect(broker.backend, Orders, {
      ...handlers(),
      wait: async ({ key }, { signal }) => {
        started.resolve();
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        aborted.resolve(signal.reason);
        return { key };
      },
    });
    await broker.waitForServers(1, { service: Orders.name });
    await using client = await RpcClient.connect(broker.frontend, Orders, { service: Orders.name, timeoutMs: 3_000 });
    const controller = new AbortController();
    const call = client.call("wait", { key: "k" }, { signal: controller.signal });
    await within(started.promise, 2_000, "the handler to start");
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: "ABORTED" });
    expect(await within(aborted.promise, 2_000, "the cancel notice to abort the handler")).toMatchObject({ name: "AbortError" });
    expect(server.stats.cancelled).toBe(1);
  });

  test("the handler sees the deadline the client's call carried through the broker, and its signal fires at it", async () => {
    await using broker = await RpcBroker.bind(brokerEndpoints(), { drainTimeoutMs: 500 });
    const fired = deferred<{ reason: unknown; deadline: number | undefined; at: number }>();
    await using _server = await RpcServer.connect(broker.backend, Orders, {
      ...handlers(),
      wait: async ({ key }, { signal, deadline }) => {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        fired.resolve({ reason: signal.reason, deadline, at: Date.now() });
        return { key };
      },
    });
    await broker.waitForServers(1, { service: Orders.name });
    await using client = await RpcClient.connect(broker.frontend, Orders, { service: Orders.name });
    const sent = Date.now();
    // 1 s: long enough that the request reaches the worker before its deadline on a loaded machine (otherwise the
    // worker rightly answers DEADLINE_EXCEEDED without starting it, and there is no signal to watch).
    await expect(client.call("wait", { key: "k" }, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: "TIMEOUT" });
    const got = await within(fired.promise, 3_000, "the handler's signal at the deadline");
    expect(got.reason).toMatchObject({ name: "TimeoutError" });
    expect(got.deadline).toBeGreaterThanOrEqual(sent + 900);
    expect(got.deadline).toBeLessThanOrEqual(sent + 1_100);
    expect(got.at).toBeGreaterThanOrEqual(got.deadline! - 5);
  });
});
