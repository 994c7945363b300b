/**
 * RpcClient's shared deadline timer (internal/deadline-timer.ts) end to end: many pending calls with different
 * timeouts, made in mixed order, each fail with TIMEOUT in deadline order and never before their own timeout; calls
 * answered in time, or aborted, never time out later; the timer works again after the client was idle. A raw ROUTER
 * plays the server, so the test decides which requests get a reply. Real sockets; every wait is bounded.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { AbortedError, RpcClient, TimeoutError } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";

/** A ROUTER that answers only the `echo` requests whose text starts with "answer". */
async function pickyServer(): Promise<{ endpoint: string; received: () => number; close: () => Promise<void> }> {
  const router = new zmq.Router({ linger: 0 });
  await router.bind("tcp://127.0.0.1:0");
  let received = 0;
  const loop = (async () => {
    try {
      for await (const frames of router) {
        received++;
        const [routingId, correlationId, delimiter, method, body] = frames;
        if (method?.toString() !== "echo" || body === undefined) continue;
        const request = JSON.parse(body.toString()) as { text: string };
        if (!request.text.startsWith("answer")) continue;
        await router.send([routingId!, correlationId!, delimiter!, "ok", JSON.stringify(request)]);
      }
    } catch {
      // closed
    }
  })();
  return {
    endpoint: router.lastEndpoint!,
    received: () => received,
    close: async () => {
      router.close();
      await loop;
    },
  };
}

describe("RpcClient deadlines on one shared timer", () => {
  test("60 calls with mixed timeouts time out in deadline order, none before its timeout", async () => {
    const server = await pickyServer();
    await using client = await RpcClient.connect(server.endpoint, Orders, { timeoutMs: 10_000 });
    await client.waitForConnected();
    // Timeouts 20..300 ms in a scrambled order, with ties.
    const timeouts = Array.from({ length: 60 }, (_, i) => 20 + ((i * 47) % 15) * 20);
    const settled: Array<{ i: number; afterMs: number; error: unknown }> = [];
    const started = performance.now();
    await Promise.all(
      timeouts.map((timeoutMs, i) =>
        client.call("echo", { text: `silent ${i}` }, { timeoutMs }).then(
          () => settled.push({ i, afterMs: performance.now() - started, error: undefined }),
          (error: unknown) => settled.push({ i, afterMs: performance.now() - started, error }),
        ),
      ),
    );
    expect(settled).toHaveLength(60);
    for (const s of settled) {
      expect(s.error).toBeInstanceOf(TimeoutError);
      expect((s.error as TimeoutError).timeoutMs).toBe(timeouts[s.i]);
      expect(s.afterMs).toBeGreaterThanOrEqual(timeouts[s.i]!);
      expect(s.afterMs).toBeLessThan(timeouts[s.i]! + 5_000); // bounded, not a speed check
    }
    // Settled in deadline order; equal timeouts in the order the calls were made.
    const expected = timeouts
      .map((timeoutMs, i) => ({ timeoutMs, i }))
      .sort((a, b) => a.timeoutMs - b.timeoutMs || a.i - b.i)
      .map((c) => c.i);
    expect(settled.map((s) => s.i)).toEqual(expected);
    expect(client.stats.pending).toBe(0);
    expect(server.received()).toBe(60);
    await server.close();
  });

  test("answered and aborted calls never time out later; a call after an idle spell still times out", async () => {
    const server = await pickyServer();
    const timedOut: string[] = [];
    await using client = await RpcClient.connect(server.endpoint, Orders, {
      timeoutMs: 10_000,
      onEvent: (event) => {
        if (event.type === "timed-out") timedOut.push(`${event.what} ${event.afterMs}`);
      },
    });
    await client.waitForConnected();
    const events: string[] = [];
    const controller = new AbortController();
    const calls = [
      client.call("echo", { text: "answer 1" }, { timeoutMs: 600 }).then((r) => events.push(`ok ${r.text}`)),
      client
        .call("echo", { text: "silent aborted" }, { timeoutMs: 500, signal: controller.signal })
        .catch((e: unknown) => events.push(e instanceof AbortedError ? "aborted" : `other ${String(e)}`)),
      client.call("echo", { text: "answer 2" }, { timeoutMs: 400 }).then((r) => events.push(`ok ${r.text}`)),
      // Outlives the deadlines of the three above: had any of them stayed armed, it would have fired by then.
      client
        .call("echo", { text: "silent 800" }, { timeoutMs: 800 })
        .catch((e: unknown) => events.push(e instanceof TimeoutError ? "timeout 800" : `other ${String(e)}`)),
    ];
    controller.abort();
    await Promise.all(calls);
    expect(events[0]).toBe("aborted");
    expect(events.slice(1).sort()).toEqual(["ok answer 1", "ok answer 2", "timeout 800"]);
    expect(timedOut).toEqual(["call 800"]);
    expect(client.stats.pending).toBe(0);
    // Idle: no call pending. Then one more, and it times out on its own deadline.
    const started = performance.now();
    await expect(client.call("echo", { text: "silent again" }, { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(30);
    expect(timedOut).toEqual(["call 800", "call 30"]);
    await server.close();
  });
});
