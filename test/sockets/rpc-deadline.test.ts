/**
 * Deadlines that travel, on a bound RpcServer: a request whose deadline has passed is never started (at read time,
 * and after waiting in ZeroMQ's queues while the server was busy), the handler sees its deadline and its signal
 * fires at it, a cancel notice aborts the signal, and the clock-skew policy. A raw DEALER plays the client, so the
 * headers are exactly what the test writes. Real sockets.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcServer } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { deferred, within } from "../helpers/deferred.js";
import { endpointFor } from "../helpers/endpoints.js";
import { Gates } from "../helpers/gates.js";

const json = (value: unknown): string => JSON.stringify(value);
const corr = (n: number): Buffer => {
  const frame = Buffer.alloc(4);
  frame.writeUInt32BE(n, 0);
  return frame;
};

/** A raw client: sends `[corr, "", method, body, headers?]`, reads replies by correlation id. */
class RawClient implements AsyncDisposable {
  readonly dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 3_000 });

  static connect(endpoint: string): RawClient {
    const client = new RawClient();
    client.dealer.connect(endpoint);
    return client;
  }

  send(n: number, method: string, body: unknown, headers?: unknown): Promise<void> {
    const frames: zmq.MessageLike[] = [corr(n), "", method, json(body)];
    if (headers !== undefined) frames.push(json(headers));
    return this.dealer.send(frames);
  }

  async reply(): Promise<{ id: number; status: string; body: Record<string, unknown>; headers: string | undefined }> {
    const [id, , status, body, headers] = await this.dealer.receive();
    return {
      id: id!.readUInt32BE(0),
      status: String(status),
      body: JSON.parse(String(body)) as Record<string, unknown>,
      headers: headers === undefined ? undefined : String(headers),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dealer.close();
    return Promise.resolve();
  }
}

const handlers = (gates?: Gates, ran?: string[]) => ({
  echo: ({ text }: { text: string }) => {
    ran?.push(text);
    return { text };
  },
  getOrder: ({ id }: { id: number }) => ({ id, total: id }),
  wait: async ({ key }: { key: string }) => {
    await gates?.enter(key);
    return { key };
  },
  whoami: () => ({ server: "s" }),
});

/** Handlers whose `whoami` records the deadline its context shows. */
const recordingDeadlines = (seen: Array<number | undefined>) => ({
  ...handlers(),
  whoami: (_request: object, { deadline }: { deadline: number | undefined }) => {
    seen.push(deadline);
    return { server: "s" };
  },
});

describe("RpcServer deadlines (bound)", () => {
  test("a request whose deadline has passed is answered DEADLINE_EXCEEDED and never started", async () => {
    const ran: string[] = [];
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, handlers(undefined, ran), { onError: () => undefined });
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "echo", { text: "absolute" }, { deadline: Date.now() - 2_000, remainingMs: 5_000 });
    const first = await client.reply();
    expect(first).toMatchObject({
      id: 1,
      status: "error",
      body: { code: "DEADLINE_EXCEEDED", details: { expiredBy: "deadline" } },
    });
    expect(first.body["message"]).toMatch(/orders\.v1\/echo: not started: its absolute deadline passed \d+ ms before/);
    await client.send(2, "echo", { text: "relative" }, { remainingMs: 0, correlationId: "c-2" });
    const second = await client.reply();
    expect(second).toMatchObject({ id: 2, body: { code: "DEADLINE_EXCEEDED", details: { expiredBy: "remainingMs" } } });
    expect(second.headers).toBe(json({ correlationId: "c-2" }));
    expect(ran).toEqual([]);
    expect(server.stats).toMatchObject({ expired: 2, failed: { DEADLINE_EXCEEDED: 2 } });
  });

  test("requests with and without headers are both served; the handler sees its deadline, or undefined", async () => {
    const seen: Array<number | undefined> = [];
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, recordingDeadlines(seen));
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "whoami", {});
    expect(await client.reply()).toMatchObject({ id: 1, status: "ok", headers: undefined });
    const before = Date.now();
    await client.send(2, "whoami", {}, { version: "1.1", contract: "orders.v1", remainingMs: 2_000, deadline: before + 2_000 });
    expect(await client.reply()).toMatchObject({ id: 2, status: "ok" });
    expect(seen[0]).toBeUndefined();
    expect(seen[1]).toBeGreaterThanOrEqual(before + 1_900);
    expect(seen[1]).toBeLessThanOrEqual(Date.now() + 2_000);
  });

  test("a deadline too far away for a timer (a peer's huge remainingMs) does not abort the handler's signal", async () => {
    const signals: AbortSignal[] = [];
    const watching = {
      ...handlers(),
      whoami: (_request: unknown, { signal }: { signal: AbortSignal }) =>
        new Promise<{ server: string }>((resolve) => {
          signals.push(signal);
          // Answer on a later turn: a timer over 2^31-1 ms would have fired by then, aborting the signal.
          setTimeout(() => resolve({ server: signal.aborted ? "aborted" : "alive" }), 20);
        }),
    };
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, watching);
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "whoami", {}, { remainingMs: 1e12 });
    expect(await client.reply()).toMatchObject({ id: 1, status: "ok", body: { server: "alive" } });
    expect(signals[0]?.aborted).toBe(false);
  });

  test("never starts a request that expired while it waited in ZeroMQ's queues for a busy server", async () => {
    const gates = new Gates();
    const ran: string[] = [];
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, handlers(gates, ran), {
      concurrency: 1,
      onError: () => undefined,
    });
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "wait", { key: "busy" });
    await gates.arrived("busy");
    // The server does not read while its only slot is taken: this request waits unread, its absolute deadline passes.
    await client.send(2, "echo", { text: "late" }, { deadline: Date.now() + 100, remainingMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    gates.open("busy");
    const replies = [await client.reply(), await client.reply()];
    expect(replies.find((r) => r.id === 2)).toMatchObject({
      body: { code: "DEADLINE_EXCEEDED", details: { expiredBy: "deadline" } },
    });
    expect(ran).toEqual([]);
  });

  test("absoluteDeadlines: false ignores the absolute deadline and keeps remainingMs", async () => {
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, handlers(), { absoluteDeadlines: false });
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "echo", { text: "x" }, { deadline: Date.now() - 60_000, remainingMs: 5_000 });
    expect(await client.reply()).toMatchObject({ id: 1, status: "ok", body: { text: "x" } });
    expect(server.stats.expired).toBe(0);
  });

  test("a deadline implausibly far ahead of remainingMs counts as clock skew, and remainingMs governs", async () => {
    const deadlines: Array<number | undefined> = [];
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, recordingDeadlines(deadlines));
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "whoami", {}, { deadline: Date.now() + 3_600_000, remainingMs: 1_000 });
    expect(await client.reply()).toMatchObject({ status: "ok" });
    expect(server.stats.clockSkew).toBe(1);
    expect(deadlines[0]).toBeLessThanOrEqual(Date.now() + 1_000);
  });

  test("the handler's signal aborts at the deadline with a TimeoutError reason", async () => {
    const reason = deferred<unknown>();
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, {
      ...handlers(),
      wait: async ({ key }, { signal }) => {
        const started = Date.now();
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        reason.resolve({ reason: signal.reason as unknown, after: Date.now() - started });
        return { key };
      },
    });
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "wait", { key: "k" }, { remainingMs: 150 });
    const got = (await within(reason.promise, 2_000, "the signal to abort at the deadline")) as {
      reason: unknown;
      after: number;
    };
    expect(got.reason).toMatchObject({ name: "TimeoutError" });
    expect(got.after).toBeGreaterThanOrEqual(100);
    expect(await client.reply()).toMatchObject({ id: 1, status: "ok" });
  });

  test("a cancel notice on the same envelope aborts the handler's signal; the notice gets no answer", async () => {
    const reason = deferred<unknown>();
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, {
      ...handlers(),
      wait: async ({ key }, { signal }) => {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        reason.resolve(signal.reason);
        return { key };
      },
    });
    await using client = RawClient.connect(server.endpoint);
    await client.send(7, "wait", { key: "k" }, { remainingMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Another call's id finds nothing; the right one aborts the handler.
    await client.dealer.send([corr(8), "", "$cancel", ""]);
    await client.dealer.send([corr(7), "", "$cancel", ""]);
    expect(await within(reason.promise, 2_000, "the signal to abort on cancel")).toMatchObject({ name: "AbortError" });
    // The only reply is the request's own (the cancel notices are never answered).
    expect(await client.reply()).toMatchObject({ id: 7, status: "ok" });
    await client.send(9, "whoami", {});
    expect(await client.reply()).toMatchObject({ id: 9, status: "ok" });
    expect(server.stats).toMatchObject({ cancelled: 1, received: 4, succeeded: 2, failed: {} });
  });

  test("bad ZMTP heartbeat options are refused before any socket exists", async () => {
    await expect(RpcServer.bind(endpointFor("tcp"), Orders, handlers(), { heartbeatTimeToLiveMs: 7_000_000 })).rejects.toThrow(
      /heartbeatTimeToLiveMs/,
    );
    await using server = await RpcServer.bind(endpointFor("tcp"), Orders, handlers(), {
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: 600,
    });
    await using client = RawClient.connect(server.endpoint);
    await client.send(1, "whoami", {});
    expect(await client.reply()).toMatchObject({ status: "ok" });
  });
});

describe("RpcServer deadlines (worker mode)", () => {
  test("a request that expires while queued locally is answered DEADLINE_EXCEEDED when its turn comes, and never run", async () => {
    const router = new zmq.Router({ linger: 0, receiveTimeout: 3_000 });
    try {
      await router.bind(endpointFor("tcp"));
      const gates = new Gates();
      const ran: string[] = [];
      await using _server = await RpcServer.connect(router.lastEndpoint ?? "", Orders, handlers(gates, ran), {
        concurrency: 1,
        drainTimeoutMs: 200,
        onError: () => undefined,
      });
      const [id] = await router.receive();
      const request = (client: string, method: string, body: unknown, headers?: unknown): Promise<void> =>
        router.send([
          id!,
          "",
          "MDPW01",
          "\x02",
          client,
          "",
          method,
          json(body),
          ...(headers === undefined ? [] : [json(headers)]),
        ]);
      await request("a", "wait", { key: "busy" });
      await gates.arrived("busy");
      // Read at once (a worker never stops reading), queued behind the busy handler, expired by the time it is due.
      await request("b", "echo", { text: "late" }, { remainingMs: 100, correlationId: "b-1" });
      await new Promise((resolve) => setTimeout(resolve, 250));
      gates.open("busy");
      const replies = new Map<string, Buffer[]>();
      while (replies.size < 2) {
        const frames = await router.receive();
        if (String(frames[3]) === "\x03") replies.set(String(frames[4]), frames.slice(6));
      }
      const late = replies.get("b")!;
      expect(String(late[0])).toBe("error");
      expect(JSON.parse(String(late[1]))).toMatchObject({ code: "DEADLINE_EXCEEDED" });
      expect(String(late[2])).toBe(json({ correlationId: "b-1" }));
      expect(ran).toEqual([]);
    } finally {
      router.close();
    }
  });
});
