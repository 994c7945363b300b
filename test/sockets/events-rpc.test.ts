/**
 * onEvent and stats.latency of RpcClient, RpcServer and RpcBroker over real tcp sockets: connection events on a
 * real connect and disconnect, validation-failed from raw peers, dropped, timed-out, retried, and latency figures.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import {
  NoServerError,
  RpcBroker,
  RpcClient,
  RpcServer,
  type RpcBrokerEvent,
  type RpcClientEvent,
  type RpcServerEvent,
  type LatencyStats,
} from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { EventLog } from "../helpers/event-log.js";
import { RawRouter, Store, storeHandlers } from "../helpers/rpc-peers.js";

const TCP = "tcp://127.0.0.1:0";

const orderHandlers = {
  echo: ({ text }: { text: string }) => ({ text }),
  getOrder: ({ id }: { id: number }) => ({ id, total: 1 }),
  wait: ({ key }: { key: string }) => ({ key }),
  whoami: () => ({ server: "s" }),
};

/** count matches, and the percentiles are ordered and inside [0, max]. */
function expectPlausible(latency: LatencyStats, count: number): void {
  expect(latency.count).toBe(count);
  expect(latency.p50Ms).toBeGreaterThan(0);
  expect(latency.p50Ms).toBeLessThanOrEqual(latency.p90Ms);
  expect(latency.p90Ms).toBeLessThanOrEqual(latency.p99Ms);
  expect(latency.p99Ms).toBeLessThanOrEqual(latency.maxMs);
  expect(latency.meanMs).toBeGreaterThan(0);
  expect(latency.meanMs).toBeLessThanOrEqual(latency.maxMs);
  expect(latency.maxMs).toBeLessThan(5_000);
}

describe("RpcClient events", () => {
  test("connected on a real connect, disconnected when the server closes", async () => {
    const server = await RpcServer.bind(TCP, Orders, orderHandlers);
    const log = new EventLog<RpcClientEvent>();
    await using client = await RpcClient.connect(server.endpoint, Orders, { onEvent: log.onEvent });
    expect((await log.next("connected")).endpoint).toBe(server.endpoint);
    await server.close();
    expect((await log.next("disconnected")).endpoint).toBe(server.endpoint);
    expect(client.stats.connectionsLost).toBe(1);
  });

  test("timed-out (sent: false) on a call with no server, and the call fails with NoServerError", async () => {
    const free = await RpcServer.bind(TCP, Orders, orderHandlers);
    const endpoint = free.endpoint;
    await free.close(); // a port nobody listens on any more
    const log = new EventLog<RpcClientEvent>();
    await using client = await RpcClient.connect(endpoint, Orders, { onEvent: log.onEvent, timeoutMs: 150 });
    await expect(client.call("echo", { text: "x" })).rejects.toBeInstanceOf(NoServerError);
    const event = await log.next("timed-out");
    expect(event).toMatchObject({ what: "call", method: "echo", afterMs: 150, sent: false });
    expect(client.stats.latency.count).toBe(0); // no round trip completed
  });

  test("retried on an idempotent method answered UNAVAILABLE once; timed-out for an attempt with no reply", async () => {
    using router = await RawRouter.bind();
    const log = new EventLog<RpcClientEvent>();
    await using client = await RpcClient.connect(router.endpoint, Store, {
      onEvent: log.onEvent,
      retry: { attempts: 3, backoffMs: 1, attemptTimeoutMs: 200 },
    });
    const call = client.call("read", { key: "k" });
    const first = await router.next();
    await first.reply("error", { code: "UNAVAILABLE", message: "busy" });
    await router.next(); // attempt 2: not answered, so it times out
    let third = await router.next();
    while (third.method === "$cancel") third = await router.next(); // the cancel notice of attempt 2
    await third.reply("ok", { value: "v" });
    await expect(call).resolves.toEqual({ value: "v" });
    const retried = log.of("retried");
    expect(retried.map((e) => [e.attempt, e.code])).toEqual([
      [2, "UNAVAILABLE"],
      [3, "TIMEOUT"],
    ]);
    expect(retried[0]).toMatchObject({ method: "read", endpoint: router.endpoint });
    expect(log.of("timed-out")).toEqual([
      { type: "timed-out", what: "attempt", method: "read", afterMs: 200, endpoint: router.endpoint, sent: true },
    ]);
    expect(client.stats.latency.count).toBe(1);
  });

  test("validation-failed for a bad request (outgoing) and a bad reply (incoming); dropped for a late reply", async () => {
    using router = await RawRouter.bind();
    const log = new EventLog<RpcClientEvent>();
    const drops: unknown[] = [];
    await using client = await RpcClient.connect(router.endpoint, Store, {
      onEvent: log.onEvent,
      onDrop: (info) => drops.push(info),
      timeoutMs: 2_000,
    });
    // @ts-expect-error -- a request that breaks the schema, on purpose
    await expect(client.call("write", { key: 5 })).rejects.toMatchObject({ name: "ContractValidationError" });
    expect(await log.next("validation-failed")).toMatchObject({ direction: "outgoing", contract: "store.v1", method: "write" });

    const call = client.call("write", { key: "k" });
    const request = await router.next();
    await request.reply("ok", { value: 42 });
    await expect(call).rejects.toMatchObject({ name: "ContractValidationError", direction: "incoming" });
    const incoming = await log.next("validation-failed", (e) => e.direction === "incoming");
    expect(incoming).toMatchObject({ contract: "store.v1", method: "write" });
    expect(incoming.issues[0]?.path).toEqual(["value"]);

    await request.reply("ok", { value: "again" }); // the call is settled: a late reply
    const dropped = await log.next("dropped");
    expect(dropped.reason).toBe("late-reply");
    expect(drops).toHaveLength(1); // onDrop keeps working next to onEvent
  });

  test("stats.latency counts the calls made, with plausible percentiles", async () => {
    await using server = await RpcServer.bind(TCP, Orders, orderHandlers);
    await using client = await RpcClient.connect(server.endpoint, Orders);
    expect(client.stats.latency).toEqual({ count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 });
    for (let i = 0; i < 50; i++) await client.call("echo", { text: `m${i}` });
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.call("echo", { text: `p${i}` })));
    expectPlausible(client.stats.latency, 100);
    expect(server.stats.latency.count).toBe(100);
    expect(server.stats.latency.p99Ms).toBeLessThanOrEqual(server.stats.latency.maxMs);
    // Handler time is part of the round trip.
    expect(server.stats.latency.meanMs).toBeLessThan(client.stats.latency.meanMs);
  });
});

describe("RpcServer events", () => {
  test("connected when a client connects, disconnected when it closes", async () => {
    const log = new EventLog<RpcServerEvent>();
    await using server = await RpcServer.bind(TCP, Orders, orderHandlers, { onEvent: log.onEvent });
    const client = await RpcClient.connect(server.endpoint, Orders);
    await client.waitForConnected();
    expect((await log.next("connected")).endpoint).toBe(server.endpoint);
    await client.close();
    expect((await log.next("disconnected")).endpoint).toBe(server.endpoint);
  });

  test("validation-failed for a bad request from a raw DEALER; dropped for a message with no delimiter", async () => {
    const log = new EventLog<RpcServerEvent>();
    const errors: unknown[] = [];
    await using server = await RpcServer.bind(TCP, Orders, orderHandlers, {
      onEvent: log.onEvent,
      onError: (info) => errors.push(info),
    });
    const dealer = new zmq.Dealer({ linger: 0 });
    try {
      dealer.connect(server.endpoint);
      await dealer.send([Buffer.from([0, 0, 0, 1]), "", "getOrder", JSON.stringify({ id: -1 })]);
      const [, , status] = await dealer.receive();
      expect(String(status)).toBe("error");
      const event = await log.next("validation-failed");
      expect(event).toMatchObject({ direction: "incoming", contract: "orders.v1", method: "getOrder" });
      expect(event.issues[0]?.path).toEqual(["id"]);

      await dealer.send(["no-delimiter", "here"]);
      const dropped = await log.next("dropped");
      expect(dropped).toMatchObject({ reason: "MALFORMED", method: undefined });
      expect(dropped.message).toMatch(/no empty delimiter/);
      expect(errors).toHaveLength(2); // onError keeps working next to onEvent
    } finally {
      dealer.close();
    }
  });
});

describe("RpcBroker events and latency", () => {
  test("connected per face, disconnected when the worker closes; stats.latency counts the calls through it", async () => {
    const log = new EventLog<RpcBrokerEvent>();
    await using broker = await RpcBroker.bind({ frontend: TCP, backend: TCP }, { onEvent: log.onEvent });
    const worker = await RpcServer.connect(broker.backend, Store, storeHandlers("w"), { service: Store.name });
    await broker.waitForServers(1);
    expect(await log.next("connected", (e) => e.face === "backend")).toMatchObject({ endpoint: broker.backend });
    await using client = await RpcClient.connect(broker.frontend, Store, { service: Store.name });
    for (let i = 0; i < 20; i++) await client.call("read", { key: String(i) });
    expect(await log.next("connected", (e) => e.face === "frontend")).toMatchObject({ endpoint: broker.frontend });
    expectPlausible(broker.stats.latency, 20);
    expectPlausible(client.stats.latency, 20);
    await worker.close();
    expect(await log.next("disconnected", (e) => e.face === "backend")).toMatchObject({ endpoint: broker.backend });
  });
});
