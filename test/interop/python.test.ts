import { describe, expect, test } from "vitest";
import * as z from "zod";
import {
  PipelineSink,
  PipelineSource,
  Publisher,
  RpcClient,
  RpcServer,
  Subscriber,
  defineJobs,
  defineTopics,
  type RpcHandlers,
} from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { within } from "../helpers/deferred.js";
import { missingPython, withPeers } from "./python.js";

// The typed classes against foreign peers: small pyzmq programs (./peers) written from docs/protocol.md alone, each
// in its own process, over real tcp on 127.0.0.1 with ephemeral ports. The typed side binds port 0 and passes its
// endpoint to Python (the Python server binds an ephemeral port and prints it). Every wait is bounded, on both sides.
// Where no Python with pyzmq is found the suite is skipped and says why; REQUIRE_INTEROP=1 (set by .ci/run, which
// installs Debian's python3-zmq) turns that skip into a failure.

const skip = missingPython !== undefined && process.env["REQUIRE_INTEROP"] !== "1";
const why = missingPython === undefined ? "" : ` [skipped: ${missingPython}]`;

const handlers: RpcHandlers<typeof Orders> = {
  echo: (request) => request,
  getOrder: ({ id }) => ({ id, total: id * 2 }),
  wait: (request) => request,
  whoami: () => ({ server: "typed" }),
};

const Sports = defineTopics("sports.v1", {
  football: z.object({ team: z.string(), event: z.string(), minute: z.number().int() }),
  tennis: z.object({ player: z.string() }),
});

const Squares = defineJobs("squares.v1", {
  task: z.object({ n: z.number().int() }),
  result: z.object({ n: z.number().int(), square: z.number().int(), worker: z.string() }),
});

/** One reply as a Python client saw it: exactly [status, body], the body decoded as JSON. */
function reply(frames: string[]): { status: string; body: unknown } {
  expect(frames, "a reply is exactly [status, body] after the delimiter").toHaveLength(2);
  const [status = "", body = ""] = frames;
  return { status, body: JSON.parse(body) as unknown };
}

describe.skipIf(skip)(`typed classes with Python (pyzmq) peers over tcp${why}`, () => {
  describe.each(["req", "dealer"] as const)("a Python %s client calling a typed RpcServer", (mode) => {
    test("gets ok replies and the UNKNOWN_METHOD, INVALID_REQUEST and MALFORMED errors", async () => {
      await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
      await withPeers(async (start) => {
        const calls = [
          ["echo", JSON.stringify({ text: "héllo" })],
          ["getOrder", JSON.stringify({ id: 21 })],
          ["cancelOrder", JSON.stringify({ id: 1 })],
          ["getOrder", JSON.stringify({ id: -1 })],
          ["getOrder", "{not json"],
          ["", JSON.stringify({})],
        ];
        const client = start("rpc_client", [mode, server.endpoint, JSON.stringify(calls)]);
        const replies = (await client.waitFor<string[][]>("replies")).map(reply);
        expect(replies[0]).toEqual({ status: "ok", body: { text: "héllo" } });
        expect(replies[1]).toEqual({ status: "ok", body: { id: 21, total: 42 } });
        expect(replies[2]).toMatchObject({
          status: "error",
          body: { code: "UNKNOWN_METHOD", message: expect.stringContaining("cancelOrder") },
        });
        expect((replies[2]?.body as { details?: { known?: unknown } }).details?.known).toEqual(
          expect.arrayContaining(["echo", "getOrder"]),
        );
        expect(replies[3]).toMatchObject({
          status: "error",
          body: { code: "INVALID_REQUEST", details: { issues: [expect.objectContaining({ path: ["id"] })] } },
        });
        expect(replies[4]).toMatchObject({ status: "error", body: { code: "MALFORMED", message: expect.any(String) } });
        expect(replies[5]).toMatchObject({ status: "error", body: { code: "MALFORMED", message: expect.any(String) } });
        expect(await client.program.exited).toBe(0);
      });
    });
  });

  test("a Python DEALER with correlation frames gets 20 calls in flight answered, each to its own id", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    await withPeers(async (start) => {
      const calls = Array.from({ length: 20 }, (_, id) => ["getOrder", JSON.stringify({ id })]);
      const client = start("rpc_client", ["dealer-inflight", server.endpoint, JSON.stringify(calls)]);
      const replies = (await client.waitFor<string[][]>("replies")).map(reply);
      expect(replies).toEqual(calls.map((_, id) => ({ status: "ok", body: { id, total: id * 2 } })));
    });
  });

  // Protocol 1.1: an optional trailing headers frame (a UTF-8 JSON object, whatever the body codec) on requests.
  // A server answers a request that names its own contract as usual, and refuses one meant for another contract.
  test("a Python DEALER sending a protocol 1.1 headers frame naming the contract", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    await withPeers(async (start) => {
      const body = JSON.stringify({ text: "with headers" });
      const calls = [
        ["echo", body, JSON.stringify({ contract: "orders.v1" })],
        ["echo", body, JSON.stringify({ contract: "other.v9" })],
        ["echo", body, JSON.stringify({ contract: "orders.v1", "x-unknown-key": [1, 2] })],
        ["echo", body, JSON.stringify({ correlationId: "py-1" })],
      ];
      const client = start("rpc_client", ["dealer", server.endpoint, JSON.stringify(calls)]);
      const replies = await client.waitFor<string[][]>("replies");
      // A reply may carry its own headers frame: look at status and body only.
      const [ok, refused, unknownKey, correlated] = replies.map((frames) => reply(frames.slice(0, 2)));
      expect(ok).toEqual({ status: "ok", body: { text: "with headers" } });
      expect(refused).toMatchObject({
        status: "error",
        body: {
          code: "CONTRACT_MISMATCH",
          message: expect.stringContaining("other.v9"),
          details: { expected: "orders.v1", received: "other.v9" },
        },
      });
      expect(unknownKey).toEqual({ status: "ok", body: { text: "with headers" } });
      expect(correlated).toEqual({ status: "ok", body: { text: "with headers" } });
      // Only the request with a correlation id gets a headers frame back, echoing it.
      expect(replies.map((frames) => frames.length)).toEqual([2, 2, 2, 3]);
      expect(JSON.parse(replies[3]![2]!)).toEqual({ correlationId: "py-1" });
    });
  });

  test("a typed RpcClient calls a Python ROUTER server: ok, in flight, an application error and a bad reply", async () => {
    await withPeers(async (start) => {
      const server = start("rpc_server", [13]);
      const endpoint = await server.waitFor<string>("endpoint");
      await using client = await RpcClient.connect(endpoint, Orders, { timeoutMs: 3_000 });
      expect(await client.call("echo", { text: "from typed" })).toEqual({ text: "from typed" });
      const ids = Array.from({ length: 10 }, (_, i) => i + 1);
      const orders = await Promise.all(ids.map((id) => client.call("getOrder", { id })));
      expect(orders).toEqual(ids.map((id) => ({ id, total: id * 1.5 })));
      await expect(client.call("getOrder", { id: 404 })).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: expect.stringContaining("no order 404"),
        details: { id: 404 },
      });
      // The Python server answers { server: 42 }; the contract says a string, so the client refuses the reply.
      await expect(client.call("whoami", {})).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      const served = await server.waitFor<Array<{ method: string; frames: number }>>("served");
      expect(served.map((s) => s.method)).toEqual(["echo", ...ids.map(() => "getOrder"), "getOrder", "whoami"]);
      expect(await server.program.exited).toBe(0);
    });
  });

  test("a Python DEALER sends a call batch (protocol 1.4) to a typed RpcServer: each call answered on its own", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    await withPeers(async (start) => {
      const calls = [
        ["echo", JSON.stringify({ text: "batched" })],
        ["getOrder", JSON.stringify({ id: 4 })],
        ["getOrder", JSON.stringify({ id: -1 })],
        ["cancelOrder", JSON.stringify({ id: 1 })],
        ["getOrder", JSON.stringify({ id: 5 })],
      ];
      const client = start("rpc_batch_client", [server.endpoint, JSON.stringify(calls)]);
      expect(await client.waitFor<boolean>("announced")).toBe(true);
      const replies = await client.waitFor<Array<[string, Record<string, unknown>]>>("replies");
      expect(replies[0]).toEqual(["ok", { text: "batched" }]);
      expect(replies[1]).toEqual(["ok", { id: 4, total: 8 }]);
      expect(replies[2]).toMatchObject(["error", { code: "INVALID_REQUEST" }]);
      expect(replies[3]).toMatchObject(["error", { code: "UNKNOWN_METHOD" }]);
      expect(replies[4]).toEqual(["ok", { id: 5, total: 10 }]);
      expect(await client.waitFor<number>("replyBatches")).toBeGreaterThanOrEqual(1);
      expect(await client.program.exited).toBe(0);
      expect(server.stats.batches).toBe(1);
    });
  });

  test("a batching typed RpcClient gives a Python server that knows no batches ordinary requests only", async () => {
    await withPeers(async (start) => {
      const server = start("rpc_server", [21]);
      const endpoint = await server.waitFor<string>("endpoint");
      await using client = await RpcClient.connect(endpoint, Orders, { timeoutMs: 3_000, batch: true });
      expect(await client.call("echo", { text: "first" })).toEqual({ text: "first" });
      for (let round = 0; round < 2; round++) {
        const ids = Array.from({ length: 10 }, (_, i) => round * 10 + i + 1);
        const orders = await Promise.all(ids.map((id) => client.call("getOrder", { id })));
        expect(orders).toEqual(ids.map((id) => ({ id, total: id * 1.5 })));
      }
      const served = await server.waitFor<Array<{ method: string; frames: number }>>("served");
      // Every request was [method, body, headers]: the Python server ignored the `batch` header and never saw $batch.
      expect(served).toHaveLength(21);
      expect(served.every((s) => s.method !== "$batch" && s.frames === 3)).toBe(true);
      expect(client.stats.batches).toBe(0);
      expect(await server.program.exited).toBe(0);
    });
  });

  test("a Python SUB reads a typed Publisher, filtered by its prefix in libzmq", async () => {
    await using pub = await Publisher.bind("tcp://127.0.0.1:0", Sports);
    await withPeers(async (start) => {
      const sub = start("sub", [pub.endpoint, "football.Arsenal", 2]);
      await sub.waitFor("ready");
      await pub.waitForSubscribers(1, { timeoutMs: 3_000 });
      await pub.publish("football.Chelsea", { team: "Chelsea", event: "goal", minute: 12 });
      await pub.publish("football.Arsenal", { team: "Arsenal", event: "red card", minute: 33 });
      await pub.publish("tennis", { player: "Ada" });
      await pub.publish("football.Arsenal", { team: "Arsenal", event: "goal", minute: 90 });
      const messages = await sub.waitFor<string[][]>("messages");
      expect(messages.map(([topic = "", body = ""]) => [topic, JSON.parse(body) as unknown])).toEqual([
        ["football.Arsenal", { team: "Arsenal", event: "red card", minute: 33 }],
        ["football.Arsenal", { team: "Arsenal", event: "goal", minute: 90 }],
      ]);
    });
  });

  test("a Python PUB feeds a typed Subscriber, which drops what breaks the contract", async () => {
    await using sub = await Subscriber.bind("tcp://127.0.0.1:0", Sports, { topics: ["football"] });
    await withPeers(async (start) => {
      const goal = { team: "Arsenal", event: "goal", minute: 12 };
      const messages = [
        ["football.Arsenal", JSON.stringify(goal)],
        ["football.Arsenal", "{not json"],
        ["football.Arsenal", JSON.stringify({ team: 1 })],
        ["football.Chelsea", JSON.stringify({ ...goal, team: "Chelsea" })],
        ["football.Arsenal", JSON.stringify({ ...goal, minute: 90 })],
      ];
      const pub = start("pub", [sub.endpoint, JSON.stringify(messages)]);
      const received: Array<[string, unknown]> = [];
      await within(
        (async () => {
          for await (const msg of sub) {
            received.push([msg.topic, msg.data]);
            if (received.length === 3) break;
          }
        })(),
        4_000,
        "three valid messages from the Python publisher",
      );
      expect(received).toEqual([
        ["football.Arsenal", goal],
        ["football.Chelsea", { ...goal, team: "Chelsea" }],
        ["football.Arsenal", { ...goal, minute: 90 }],
      ]);
      expect(sub.stats.dropped).toMatchObject({ undecodable: 1, invalid: 1 });
      expect(await pub.waitFor("sent")).toBe(messages.length);
    });
  });

  test("a Python worker between a typed PipelineSource and PipelineSink: results and a failure result", async () => {
    await using source = await PipelineSource.bind("tcp://127.0.0.1:0", Squares);
    await using sink = await PipelineSink.bind("tcp://127.0.0.1:0", Squares);
    await withPeers(async (start) => {
      const ns = [0, 1, 2, 3, -3, 4];
      const worker = start("worker", [source.endpoint, sink.endpoint, ns.length]);
      await worker.waitFor("ready");
      await source.waitForWorkers(1, { timeoutMs: 3_000 });
      for (const n of ns) await source.push({ n });
      const outcomes = await sink.collect(ns.length, { timeoutMs: 4_000 });
      expect(outcomes.filter((o) => o.ok).map((o) => o.result)).toEqual(
        ns.filter((n) => n >= 0).map((n) => ({ n, square: n * n, worker: "python" })),
      );
      expect(outcomes.filter((o) => !o.ok).map((o) => o.error)).toEqual([
        { code: "NEGATIVE", message: "n must be >= 0, got -3", details: { n: -3 } },
      ]);
      expect(await worker.waitFor("handled")).toBe(ns.length);
    });
  });
});
