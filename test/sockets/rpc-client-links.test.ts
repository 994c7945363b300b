/**
 * RpcClient links: one DEALER per endpoint, calls only to live ones, NoServerError that names what each endpoint
 * showed, ConnectionLostError when a connection carrying a call is lost, and the connection events.
 */
import { createServer } from "node:net";
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcClient, RpcServer, isConnectionLostError, isNoServerError, type RpcClientEvent } from "../../src/index.js";
import { deferred, within } from "../helpers/deferred.js";
import { RawRouter, Store, storeHandlers } from "../helpers/rpc-peers.js";

/** A tcp endpoint where nothing listens: a port that was bound and released (closed for sure when this resolves). */
async function deadEndpoint(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `tcp://127.0.0.1:${port}`;
}

describe("RpcClient links", () => {
  test("given [up, down] endpoints, every call succeeds on the live server", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Store, storeHandlers("up"));
    const down = await deadEndpoint();
    await using client = await RpcClient.connect([server.endpoint, down], Store, { timeoutMs: 2_000 });
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => client.call("write", { key: String(i) })));
    expect(replies.every((r, i) => r.value === `up:${i}`)).toBe(true);
    expect(client.connected).toEqual([server.endpoint]);
    expect(client.stats.retries).toBe(0);
  });

  test("with nothing listening, a call fails with NoServerError within its deadline, naming the refusal", async () => {
    const down = await deadEndpoint();
    await using client = await RpcClient.connect(down, Store, { reconnectIntervalMs: 50 });
    const started = Date.now();
    const err: unknown = await client.call("write", { key: "k" }, { timeoutMs: 400 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(isNoServerError(err)).toBe(true);
    expect(err).toMatchObject({ name: "NoServerError", code: "NO_SERVER", endpoints: [{ endpoint: down, state: "refused" }] });
    expect((err as Error).message).toMatch(/found no connected server in \d+ ms, so nothing was sent/);
    expect((err as Error).message).toContain(`${down}: connection refused, retrying`);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1_500);
    expect(client.stats.sent).toBe(0);
  });

  test.each([
    ["PUB", () => new zmq.Publisher({ linger: 0 })],
    ["PULL", () => new zmq.Pull({ linger: 0 })],
  ] as const)("a %s bound where a ROUTER is expected is a failed handshake, reported by event and error", async (_, make) => {
    const wrong = make();
    try {
      await wrong.bind("tcp://127.0.0.1:0");
      const endpoint = wrong.lastEndpoint ?? "";
      const failed = deferred<RpcClientEvent>();
      await using client = await RpcClient.connect(endpoint, Store, {
        onEvent: (event) => {
          if (event.type === "handshake-failed") failed.resolve(event);
        },
      });
      const err: unknown = await client.call("write", { key: "k" }, { timeoutMs: 400 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "NO_SERVER", endpoints: [{ endpoint, state: "handshake-failed" }] });
      expect((err as Error).message).toMatch(/ZMTP handshake failed .*wrong socket type \(not a ROUTER\)/);
      await expect(within(failed.promise, 1_000, "handshake-failed")).resolves.toMatchObject({ endpoint });
    } finally {
      wrong.close();
    }
  });

  test("a call made before the server is up waits for it and succeeds", async () => {
    const endpoint = await deadEndpoint();
    await using client = await RpcClient.connect(endpoint, Store, { reconnectIntervalMs: 20, reconnectMaxIntervalMs: 50 });
    const call = client.call("write", { key: "early" }, { timeoutMs: 3_000 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the call is parked: no server yet
    expect(client.stats).toMatchObject({ pending: 1, sent: 0 });
    await using server = await RpcServer.bind(endpoint, Store, storeHandlers("late"));
    await expect(call).resolves.toEqual({ value: "late:early" });
    expect(server.endpoint).toBe(endpoint);
  });

  test("a lost connection fails a non-idempotent call in flight with ConnectionLostError, never retried", async () => {
    const router = await RawRouter.bind();
    const events: RpcClientEvent[] = [];
    const disconnected = deferred();
    await using client = await RpcClient.connect(router.endpoint, Store, {
      timeoutMs: 3_000,
      onEvent: (event) => {
        events.push(event);
        if (event.type === "disconnected") disconnected.resolve();
      },
    });
    const call = client.call("write", { key: "w" });
    const request = await router.next();
    expect(request.method).toBe("write");
    expect(request.headers).toMatchObject({ version: "1.4", contract: "store.v1" });
    expect(request.headers).not.toHaveProperty("idempotent");
    const started = Date.now();
    router.close();
    const err: unknown = await call.catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000); // not the 3 s timeout
    expect(isConnectionLostError(err)).toBe(true);
    expect(err).toMatchObject({ code: "CONNECTION_LOST", endpoint: router.endpoint });
    expect((err as Error).message).toMatch(/may or may not have run/);
    expect((err as { attempts?: unknown }).attempts).toBeUndefined();
    await within(disconnected.promise, 1_000, "the disconnected event");
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(["connected", "disconnected"]);
    expect(events[1]).toMatchObject({ endpoint: router.endpoint, inFlight: 1 });
    expect(client.stats).toMatchObject({ connectionsLost: 1, retries: 0, pending: 0 });
    expect(client.connected).toEqual([]);
  });

  test("emits reconnecting while a lost server is away, and connected again when it is back", async () => {
    const router = await RawRouter.bind();
    const endpoint = router.endpoint;
    const types: string[] = [];
    const reconnecting = deferred();
    const again = deferred();
    await using client = await RpcClient.connect(endpoint, Store, {
      reconnectIntervalMs: 20,
      reconnectMaxIntervalMs: 50,
      onEvent: (event) => {
        types.push(event.type);
        if (event.type === "reconnecting") reconnecting.resolve();
        if (event.type === "connected" && types.includes("disconnected")) again.resolve();
      },
    });
    await client.waitForConnected(1, { timeoutMs: 2_000 });
    router.close();
    await within(reconnecting.promise, 2_000, "a reconnecting event");
    await using server = await RpcServer.bind(endpoint, Store, storeHandlers("back"));
    await within(again.promise, 3_000, "connected again");
    await expect(client.call("write", { key: "x" })).resolves.toEqual({ value: "back:x" });
    expect(types.slice(0, 3)).toEqual(["connected", "disconnected", "reconnecting"]);
    expect(server.closed).toBe(false);
  });

  test("waitForConnected refuses a count out of range and times out naming what it saw", async () => {
    const down = await deadEndpoint();
    await using client = await RpcClient.connect(down, Store);
    await expect(client.waitForConnected(2)).rejects.toMatchObject({ code: "OUT_OF_RANGE" });
    await expect(client.waitForConnected(1, { timeoutMs: 150 })).rejects.toMatchObject({
      code: "TIMEOUT",
      message: expect.stringMatching(/0 connected/),
    });
  });

  test("close() rejects calls still waiting for a server with ClosedError", async () => {
    const down = await deadEndpoint();
    const client = await RpcClient.connect(down, Store);
    const call = client.call("read", { key: "k" }).catch((e: unknown) => e);
    await client.close();
    await expect(call).resolves.toMatchObject({ name: "ClosedError" });
  });
});
