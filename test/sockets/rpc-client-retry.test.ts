/**
 * Retries (Lazy Pirate) for idempotent methods: on UNAVAILABLE, a lost connection and a per-attempt timeout, each
 * attempt with a new correlation id, to another live server when there is one, inside the overall deadline; the
 * final error carries the attempts; a call never gets two results; non-idempotent methods are never retried.
 */
import { describe, expect, test } from "vitest";
import { RpcClient, RpcServer, type RpcClientEvent } from "../../src/index.js";
import { RawRouter, Store, storeHandlers } from "../helpers/rpc-peers.js";

const UNAVAILABLE = { code: "UNAVAILABLE", message: "closing" };

describe("RpcClient retries", () => {
  test("an idempotent call answered UNAVAILABLE once is retried with a new correlation id and succeeds", async () => {
    using router = await RawRouter.bind();
    const events: RpcClientEvent[] = [];
    await using client = await RpcClient.connect(router.endpoint, Store, {
      timeoutMs: 3_000,
      onEvent: (event) => events.push(event),
    });
    const call = client.call("read", { key: "k" });
    const first = await router.next();
    expect(first.headers).toMatchObject({ idempotent: true, contract: "store.v1" });
    await first.reply("error", UNAVAILABLE);
    const second = await router.next();
    expect(second.frames[1]!.equals(first.frames[1]!)).toBe(false); // a new correlation id
    await second.reply("ok", { value: "second" });
    await expect(call).resolves.toEqual({ value: "second" });
    // The first attempt's id is forgotten: answering it again is a late reply, dropped.
    await first.reply("ok", { value: "first, late" });
    await expect.poll(() => client.stats.lateReplies).toBe(1);
    expect(client.stats).toMatchObject({ retries: 1, sent: 2, pending: 0 });
    expect(events.find((e) => e.type === "retried")).toMatchObject({
      method: "read",
      attempt: 2,
      code: "UNAVAILABLE",
      endpoint: router.endpoint,
    });
  });

  test("a non-idempotent call answered UNAVAILABLE is not retried", async () => {
    using router = await RawRouter.bind();
    await using client = await RpcClient.connect(router.endpoint, Store, { timeoutMs: 3_000 });
    const call = client.call("write", { key: "k" });
    await (await router.next()).reply("error", UNAVAILABLE);
    const err: unknown = await call.catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteCallError", code: "UNAVAILABLE" });
    expect((err as { attempts?: unknown }).attempts).toBeUndefined();
    expect(client.stats).toMatchObject({ retries: 0, sent: 1 });
  });

  test("the final error after the last attempt carries every attempt and says how many, where, over how long", async () => {
    using router = await RawRouter.bind();
    await using client = await RpcClient.connect(router.endpoint, Store, {
      timeoutMs: 3_000,
      retry: { attempts: 3, backoffMs: 5 },
    });
    const call = client.call("read", { key: "k" }).catch((e: unknown) => e);
    for (let i = 0; i < 3; i++) await (await router.next()).reply("error", UNAVAILABLE);
    const err = (await call) as Error & { attempts?: readonly { endpoint: string; code: string; elapsedMs: number }[] };
    expect(err).toMatchObject({ name: "RemoteCallError", code: "UNAVAILABLE" });
    expect(err.attempts).toHaveLength(3);
    expect(err.attempts!.map((a) => [a.endpoint, a.code])).toEqual(Array(3).fill([router.endpoint, "UNAVAILABLE"]));
    expect(err.attempts![2]!.elapsedMs).toBeGreaterThanOrEqual(err.attempts![0]!.elapsedMs);
    expect(err.message).toMatch(new RegExp(`\\(3 attempts over \\d+ ms: ${router.endpoint}: UNAVAILABLE at \\d+ ms;`));
    expect(client.stats.retries).toBe(2);
  });

  test("an attempt with no reply within attemptTimeoutMs is retried on the other server; the late reply is dropped", async () => {
    using silent = await RawRouter.bind();
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Store, storeHandlers("good"));
    await using client = await RpcClient.connect([silent.endpoint, server.endpoint], Store, {
      timeoutMs: 3_000,
      retry: { attemptTimeoutMs: 150, backoffMs: 1 },
    });
    await client.waitForConnected(2);
    // Round-robin: the first call goes to the first live link; make calls until one lands on the silent router.
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => client.call("read", { key: String(i) })));
    expect(results.map((r) => r.value)).toEqual(["good:0", "good:1", "good:2", "good:3"]);
    const stuck = await silent.next();
    expect(stuck.headers?.["remainingMs"]).toBeLessThanOrEqual(150); // the attempt's own deadline travels
    await stuck.reply("ok", { value: "too late" });
    await expect.poll(() => client.stats.lateReplies).toBeGreaterThanOrEqual(1);
    expect(client.stats.retries).toBeGreaterThanOrEqual(1);
  });

  test("a lost connection retries an idempotent call on another server: it succeeds, exactly once", async () => {
    const doomed = await RawRouter.bind();
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Store, storeHandlers("other"));
    await using client = await RpcClient.connect([doomed.endpoint, server.endpoint], Store, { timeoutMs: 3_000 });
    await client.waitForConnected(2);
    const calls = Array.from({ length: 6 }, (_, i) => client.call("slowRead", { key: String(i) }));
    await doomed.next(); // at least one call is in flight on the doomed link
    doomed.close();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.value)).toEqual(["0", "1", "2", "3", "4", "5"].map((k) => `other:${k}`));
    expect(client.stats.retries).toBeGreaterThanOrEqual(1);
    expect(client.stats.connectionsLost).toBe(1);
  });

  test("retry: false turns retries off; an idempotent call then fails like any other", async () => {
    using router = await RawRouter.bind();
    await using client = await RpcClient.connect(router.endpoint, Store, { timeoutMs: 3_000, retry: false });
    const call = client.call("read", { key: "k" });
    await (await router.next()).reply("error", UNAVAILABLE);
    await expect(call).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(client.stats.retries).toBe(0);
  });

  test("retries stay inside the overall deadline: the call ends with TIMEOUT, with its attempts", async () => {
    using router = await RawRouter.bind();
    await using client = await RpcClient.connect(router.endpoint, Store, {
      retry: { attempts: 100, attemptTimeoutMs: 60, backoffMs: 1 },
    });
    const started = Date.now();
    const err = (await client.call("read", { key: "k" }, { timeoutMs: 300 }).catch((e: unknown) => e)) as Error & {
      attempts?: readonly unknown[];
    };
    const elapsed = Date.now() - started;
    expect(err).toMatchObject({ code: "TIMEOUT" });
    expect(elapsed).toBeLessThan(1_000);
    expect(err.attempts!.length).toBeGreaterThanOrEqual(2);
    expect(err.attempts!.length).toBeLessThanOrEqual(6);
  });

  test("a call that was sent, lost with its connection and left with no server ends with its attempts, not NO_SERVER", async () => {
    const router = await RawRouter.bind();
    await using client = await RpcClient.connect(router.endpoint, Store, { timeoutMs: 600, reconnectIntervalMs: 5_000 });
    const call = client.call("read", { key: "k" });
    await router.next(); // attempt 1 arrived: it may run, so "nothing was sent" would be false
    router.close();
    const error = (await call.catch((err: unknown) => err)) as { code: string; message: string; attempts?: unknown[] };
    expect(error.code).not.toBe("NO_SERVER");
    expect(error.attempts?.length).toBeGreaterThanOrEqual(1);
    expect(error.message).not.toMatch(/nothing was sent/);
  });

  test("abort sends a cancel notice for the attempt in flight", async () => {
    using router = await RawRouter.bind();
    await using client = await RpcClient.connect(router.endpoint, Store, { timeoutMs: 3_000 });
    const controller = new AbortController();
    const call = client.call("write", { key: "k" }, { signal: controller.signal });
    const request = await router.next();
    controller.abort(new Error("user gave up"));
    await expect(call).rejects.toMatchObject({ code: "ABORTED" });
    const cancel = await router.next();
    expect(cancel.frames.slice(1).map(String)).toEqual([String(request.frames[1]), "", "$cancel", ""]);
    expect(cancel.frames[1]!.equals(request.frames[1]!)).toBe(true);
  });
});
