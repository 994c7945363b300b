/**
 * Opt-in call batching (protocol 1.4, docs/protocol.md "Call batches"): many calls in one ZeroMQ message and their
 * replies in another, negotiated per connection, each call validated, timed, cancelled and answered on its own.
 * No timed assertions: speed is the bench's business (bench/cases/rpc.ts).
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcClient, RpcServer, isAbortedError, isTimeoutError, type RpcHandlers } from "../../src/index.js";
import { pack, unpack } from "../../src/protocol/batch.js";
import { parseHeaders } from "../../src/protocol/headers.js";
import { correlationFrame, encodeBatchCall, encodeBatchCallRecord } from "../../src/protocol/rpc.js";
import { Orders, OrdersV2 } from "../helpers/contracts.js";
import { deferred, within } from "../helpers/deferred.js";

const handlers: RpcHandlers<typeof Orders> = {
  echo: (request) => request,
  getOrder: ({ id }) => ({ id, total: id * 2 }),
  wait: (request) => request,
  whoami: () => ({ server: "typed" }),
};

/** A bound ROUTER answering by hand, as a foreign or older server would; `serve` maps each message to a reply. */
async function rawServer(serve: (frames: Buffer[]) => (Buffer | string)[] | undefined): Promise<{
  readonly endpoint: string;
  readonly seen: Buffer[][];
  close(): Promise<void>;
}> {
  const socket = new zmq.Router({ linger: 0 });
  await socket.bind("tcp://127.0.0.1:0");
  const seen: Buffer[][] = [];
  const loop = (async () => {
    try {
      for await (const frames of socket) {
        seen.push(frames);
        const reply = serve(frames);
        if (reply !== undefined) await socket.send(reply);
      }
    } catch {
      // The socket closed.
    }
  })();
  return {
    endpoint: socket.lastEndpoint ?? "",
    seen,
    async close() {
      socket.close();
      await loop;
    },
  };
}

/** A 1.3 server: answers `echo` from `[routing, id, "", method, body, headers?]`, ignores headers, knows no `$batch`. */
function oldServer(announce: boolean) {
  return (frames: Buffer[]): (Buffer | string)[] => {
    const [routing, id, , method, body] = frames;
    const tail = announce ? [JSON.stringify({ batch: true })] : [];
    if (String(method) !== "echo") {
      const error = { code: "UNKNOWN_METHOD", message: `no method ${String(method)}`, details: { known: ["echo"] } };
      return [routing!, id!, "", "error", JSON.stringify(error)];
    }
    return [routing!, id!, "", "ok", body!, ...tail];
  };
}

const isBatch = (frames: Buffer[]): boolean => frames.some((frame) => String(frame) === "$batch");

describe("the client's one-Buffer call record and the server's headers parse", () => {
  test("encodeBatchCallRecord writes the bytes encodeBatchCall packs, non-ASCII headers included", () => {
    const method = Buffer.from("getOrder");
    const body = Buffer.from('{"id":7}');
    const headers = '{"traceparent":"00-é€-01","deadline":1,"remainingMs":2}';
    for (const id of [0, 7, 0xffff_ffff]) {
      expect(encodeBatchCallRecord(id, method, body, headers)).toEqual(
        encodeBatchCall(correlationFrame(id), method, body, Buffer.from(headers)),
      );
    }
  });

  test("parseHeaders reads a view inside a larger frame, drops a leading BOM, refuses broken UTF-8", () => {
    const outer = Buffer.from('xx{"deadline":5,"batch":true}yy');
    expect(parseHeaders(outer.subarray(2, outer.length - 2))).toEqual({ kind: "headers", headers: { deadline: 5, batch: true } });
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"seq":1}')]);
    expect(parseHeaders(bom)).toEqual({ kind: "headers", headers: { seq: 1 } });
    expect(parseHeaders(Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]))).toMatchObject({
      kind: "malformed",
    });
    expect(parseHeaders(Buffer.from('{"__proto__":1,"batch":"yes"}'))).toMatchObject({ kind: "malformed" });
  });
});

describe("RpcClient { batch } with RpcServer over tcp", () => {
  test("calls made together travel in batches; every reply reaches its call, in order, none lost", async () => {
    const order: number[] = [];
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, {
      ...handlers,
      getOrder: ({ id }) => {
        order.push(id);
        return { id, total: id * 2 };
      },
    });
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true });
    // The first reply carries the server's `"batch": true`: from then on this connection batches.
    await client.call("getOrder", { id: 0 });
    const settled: number[] = [];
    const ids = Array.from({ length: 600 }, (_, i) => i + 1);
    const replies = await Promise.all(
      ids.map((id) =>
        client.call("getOrder", { id }).then((reply) => {
          settled.push(reply.id);
          return reply;
        }),
      ),
    );
    expect(replies).toEqual(ids.map((id) => ({ id, total: id * 2 })));
    expect(order).toEqual([0, ...ids]);
    expect(settled).toEqual(ids);
    // 600 calls in one turn, ramping 16, 32, ... up to 256 per batch: several batches, nothing sent alone after the first.
    expect(client.stats.batches).toBeGreaterThanOrEqual(3);
    expect(server.stats.batches).toBe(client.stats.batches);
    expect(server.stats.received).toBe(601);
    expect(server.stats.succeeded).toBe(601);
    expect(client.stats.pending).toBe(0);
  });

  test("a turn's calls ramp up: the first batch goes at 16 calls, the next at 32, the rest on the next turn", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true });
    await client.call("getOrder", { id: 0 });
    const burst = async (from: number): Promise<void> => {
      const ids = Array.from({ length: 100 }, (_, i) => from + i);
      const replies = await Promise.all(ids.map((id) => client.call("getOrder", { id })));
      expect(replies).toEqual(ids.map((id) => ({ id, total: id * 2 })));
    };
    await burst(1);
    // 16 + 32 sent while the calls were being made, the 52 others on the next turn.
    expect(client.stats.batches).toBe(3);
    // The ramp starts again at 16 on a new turn.
    await burst(101);
    expect(client.stats.batches).toBe(6);
    expect(server.stats.batches).toBe(6);
    expect(server.stats.succeeded).toBe(201);
  });

  test("the ramp never goes past maxMessages", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: { maxMessages: 8 } });
    await client.call("getOrder", { id: 0 });
    const ids = Array.from({ length: 100 }, (_, i) => i + 1);
    const replies = await Promise.all(ids.map((id) => client.call("getOrder", { id })));
    expect(replies).toEqual(ids.map((id) => ({ id, total: id * 2 })));
    // Twelve full batches of 8, then the 4 left on the next turn.
    expect(client.stats.batches).toBe(13);
    expect(server.stats.succeeded).toBe(101);
  });

  test("`maxMessages` bounds a batch", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: { maxMessages: 10 } });
    await client.call("echo", { text: "first" });
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.call("echo", { text: String(i) })));
    expect(client.stats.batches).toBe(10);
    expect(server.stats.batches).toBe(10);
  });

  test("the server validates each call of a batch on its own: a bad call gets its own error, the others succeed", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    // validateOutgoing: false lets the bad payload leave the client, so the server's check is the one exercised.
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true, validateOutgoing: false });
    await client.call("echo", { text: "first" });
    const results = await Promise.allSettled([
      client.call("getOrder", { id: 1 }),
      client.call("getOrder", { id: -1 }),
      client.call("echo", { text: "after" }),
    ]);
    expect(results[0]).toEqual({ status: "fulfilled", value: { id: 1, total: 2 } });
    expect(results[1]).toMatchObject({ status: "rejected", reason: { name: "RemoteCallError", code: "INVALID_REQUEST" } });
    expect(results[2]).toEqual({ status: "fulfilled", value: { text: "after" } });
    expect(client.stats.batches).toBe(1);
    expect(server.stats.failed).toEqual({ INVALID_REQUEST: 1 });
  });

  test("the client validates each reply of a batch on its own", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", OrdersV2, {
      echo: (request) => request,
      getOrder: ({ id }) => ({ id, total: "many" }),
      wait: (request) => request,
      whoami: () => ({ server: "typed" }),
    });
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true });
    await client.call("echo", { text: "first" });
    const results = await Promise.allSettled([client.call("echo", { text: "a" }), client.call("getOrder", { id: 3 })]);
    expect(results[0]).toEqual({ status: "fulfilled", value: { text: "a" } });
    expect(results[1]).toMatchObject({
      status: "rejected",
      reason: { name: "ContractValidationError", code: "VALIDATION_FAILED", direction: "incoming" },
    });
    expect(client.stats.batches).toBe(1);
  });

  test("a timeout is per call: a slow call of a batch times out alone", async () => {
    const release = deferred();
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, {
      ...handlers,
      wait: async (request) => {
        await release.promise;
        return request;
      },
    });
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true });
    await client.call("echo", { text: "first" });
    const slow = client.call("wait", { key: "slow" }, { timeoutMs: 150 }).catch((err: unknown) => err);
    const fast = await Promise.all([client.call("echo", { text: "x" }), client.call("getOrder", { id: 2 })]);
    expect(fast).toEqual([{ text: "x" }, { id: 2, total: 4 }]);
    const err = await slow;
    release.resolve();
    expect(isTimeoutError(err)).toBe(true);
    expect(client.stats.batches).toBe(1);
  });

  test("aborting a batched call cancels it at the server (the notice names the call inside its batch)", async () => {
    const started = deferred();
    const aborted = deferred<string>();
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, {
      ...handlers,
      wait: (request, context) =>
        new Promise((resolve) => {
          started.resolve();
          context.signal.addEventListener("abort", () => {
            aborted.resolve(context.signal.reason instanceof Error ? context.signal.reason.message : "no reason");
            resolve(request);
          });
        }),
    });
    await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true });
    await client.call("echo", { text: "first" });
    const controller = new AbortController();
    const call = client.call("wait", { key: "k" }, { signal: controller.signal }).catch((err: unknown) => err);
    const other = client.call("echo", { text: "other" });
    await within(started.promise, 2_000, "the handler to start");
    controller.abort();
    expect(isAbortedError(await call)).toBe(true);
    expect(await within(aborted.promise, 2_000, "the handler's signal")).toContain("cancelled the call");
    expect(await other).toEqual({ text: "other" });
    expect(server.stats.cancelled).toBe(1);
    // Both calls went in one batch, so the notice was the batched one: [batch, "", "$cancel", call id].
    expect(client.stats.batches).toBe(1);
  });

  test("closing the client rejects calls still waiting in a batch and sends nothing more", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    const client = await RpcClient.connect(server.endpoint, Orders, { batch: { maxDelayMs: 50 } });
    await client.call("echo", { text: "first" });
    const pending = client.call("echo", { text: "never" }).catch((err: unknown) => err);
    await client.close();
    expect(await pending).toMatchObject({ name: "ClosedError" });
    expect(client.stats.batches).toBe(0);
  });
});

describe("RpcClient { batch } with servers that cannot read batches", () => {
  test("an older server, which never announces batches, gets ordinary requests only", async () => {
    const server = await rawServer(oldServer(false));
    try {
      await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true });
      for (let round = 0; round < 3; round++) {
        const texts = Array.from({ length: 20 }, (_, i) => `${round}.${i}`);
        expect(await Promise.all(texts.map((text) => client.call("echo", { text })))).toEqual(texts.map((text) => ({ text })));
      }
      expect(client.stats.batches).toBe(0);
      expect(server.seen).toHaveLength(60);
      expect(server.seen.some(isBatch)).toBe(false);
      // It asked, in every request's headers (the old server ignored the key).
      expect(JSON.parse(String(server.seen[0]![5]))).toMatchObject({ batch: true, version: "1.4" });
    } finally {
      await server.close();
    }
  });

  test("a server that announced batches but answers $batch UNKNOWN_METHOD (mixed versions behind a proxy) gets the calls again one by one", async () => {
    const server = await rawServer(oldServer(true));
    try {
      await using client = await RpcClient.connect(server.endpoint, Orders, { batch: true });
      await client.call("echo", { text: "first" });
      const texts = Array.from({ length: 10 }, (_, i) => String(i));
      expect(await Promise.all(texts.map((text) => client.call("echo", { text })))).toEqual(texts.map((text) => ({ text })));
      expect(client.stats.batches).toBe(1);
      expect(server.seen.filter(isBatch)).toHaveLength(1);
      expect(server.seen).toHaveLength(1 + 1 + 10);
    } finally {
      await server.close();
    }
  });
});

describe("RpcServer reading call batches from a raw DEALER", () => {
  test("answers each call of a batch, a malformed one with its own MALFORMED, and a broken batch once", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    const dealer = new zmq.Dealer({ linger: 0 });
    try {
      dealer.connect(server.endpoint);
      const record = (parts: string[]): Buffer => {
        const buffers = parts.map((part) => Buffer.from(part));
        return pack(
          buffers,
          buffers.reduce((n, b) => n + b.length, 0),
        );
      };
      const calls = [
        record(["a", "echo", JSON.stringify({ text: "hi" })]),
        record(["b", "getOrder", JSON.stringify({ id: 4 }), "not json"]),
        record(["c", "getOrder", JSON.stringify({ id: 5 }), JSON.stringify({ contract: "orders.v1" })]),
      ];
      await dealer.send([
        "batch-1",
        "",
        "$batch",
        pack(
          calls,
          calls.reduce((n, c) => n + c.length, 0),
        ),
      ]);
      const [head, delimiter, status, packed] = await within(dealer.receive(), 2_000, "the reply batch");
      expect([String(head), String(delimiter), String(status)]).toEqual(["batch-1", "", "$batch"]);
      const replies = (unpack(packed!) ?? []).map((r) => (unpack(r) ?? []).map(String));
      expect(replies).toHaveLength(3);
      expect(replies[0]).toEqual(["a", "ok", JSON.stringify({ text: "hi" })]);
      expect(replies[1]?.slice(0, 2)).toEqual(["b", "error"]);
      expect(JSON.parse(replies[1]![2]!)).toMatchObject({ code: "MALFORMED" });
      expect(replies[2]).toEqual(["c", "ok", JSON.stringify({ id: 5, total: 10 })]);

      await dealer.send(["batch-2", "", "$batch", Buffer.from([0, 0, 0, 9, 1])]);
      const broken = await within(dealer.receive(), 2_000, "the answer to a broken batch");
      expect(broken.map(String).slice(0, 3)).toEqual(["batch-2", "", "error"]);
      expect(JSON.parse(String(broken[3]))).toMatchObject({ code: "MALFORMED" });
      expect(server.stats.batches).toBe(2);
    } finally {
      dealer.close();
    }
  });

  test("a reply batch goes once every call of its batch answered; a call still running answers in a later one", async () => {
    const gate = deferred();
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, {
      ...handlers,
      wait: async (request) => {
        await gate.promise;
        return request;
      },
    });
    const dealer = new zmq.Dealer({ linger: 0 });
    try {
      dealer.connect(server.endpoint);
      const record = (parts: string[]): Buffer =>
        pack(
          parts.map((part) => Buffer.from(part)),
          parts.join("").length,
        );
      const batch = (head: string, calls: Buffer[]): (string | Buffer)[] => [
        head,
        "",
        "$batch",
        pack(
          calls,
          calls.reduce((n, c) => n + c.length, 0),
        ),
      ];
      const repliesOf = (frames: Buffer[]): string[][] => (unpack(frames[3]!) ?? []).map((r) => (unpack(r) ?? []).map(String));
      // Two call batches of synchronous calls, sent back to back: one reply batch each, every reply in it.
      await dealer.send(batch("b-1", [record(["a", "getOrder", '{"id":1}']), record(["b", "getOrder", '{"id":2}'])]));
      await dealer.send(batch("b-2", [record(["c", "getOrder", '{"id":3}'])]));
      const first = await within(dealer.receive(), 2_000, "the first reply batch");
      const second = await within(dealer.receive(), 2_000, "the second reply batch");
      expect([String(first[0]), repliesOf(first).map((r) => r[0])]).toEqual(["b-1", ["a", "b"]]);
      expect([String(second[0]), repliesOf(second).map((r) => r[0])]).toEqual(["b-2", ["c"]]);
      // A batch with a call still running: the others' replies go, that call's reply follows when it ends.
      await dealer.send(batch("b-3", [record(["d", "wait", '{"key":"w"}']), record(["e", "echo", '{"text":"e"}'])]));
      const early = await within(dealer.receive(), 2_000, "the replies of the finished calls");
      expect([String(early[0]), repliesOf(early)]).toEqual(["b-3", [["e", "ok", '{"text":"e"}']]]);
      gate.resolve();
      const late = await within(dealer.receive(), 2_000, "the reply of the call that waited");
      expect([String(late[0]), repliesOf(late)]).toEqual(["b-3", [["d", "ok", '{"key":"w"}']]]);
      expect(server.stats.succeeded).toBe(5);
    } finally {
      dealer.close();
    }
  });

  test("announces `batch: true` only to a request that asked", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    const dealer = new zmq.Dealer({ linger: 0 });
    try {
      dealer.connect(server.endpoint);
      await dealer.send(["1", "", "echo", JSON.stringify({ text: "a" }), JSON.stringify({ version: "1.3" })]);
      expect(await within(dealer.receive(), 2_000, "a reply")).toHaveLength(4);
      await dealer.send(["2", "", "echo", JSON.stringify({ text: "b" }), JSON.stringify({ batch: true })]);
      const asked = await within(dealer.receive(), 2_000, "a reply");
      expect(asked).toHaveLength(5);
      expect(JSON.parse(String(asked[4]))).toEqual({ batch: true });
    } finally {
      dealer.close();
    }
  });
});

describe("RpcClient `batch` option", () => {
  test.each([
    [{ batch: true, service: "orders" }, /`batch` must be false when `service` is set/],
    [{ batch: true, headers: false }, /`batch` must be false with `headers: false`/],
    [{ batch: { maxMessages: 0 } }, /`batch.maxMessages`/],
  ] as const)("refuses %o", async (options, message) => {
    await expect(RpcClient.connect("tcp://127.0.0.1:5999", Orders, options)).rejects.toThrow(message);
  });
});
