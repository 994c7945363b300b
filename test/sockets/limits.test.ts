/**
 * The receive limits (src/internal/limits.ts) with real sockets over tcp: a frame over the hard limit
 * (`ZMQ_MAXMSGSIZE`) makes libzmq close the sender's connection, with no reply, while the server keeps serving
 * everyone else; a message over `maxMessageBytes` but under the hard limit is answered `MESSAGE_TOO_LARGE`; a
 * message with more than `maxFrames` frames is dropped, counted and reported. Raw zeromq.js DEALERs play the peers.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcBroker, RpcClient, RpcServer, type RpcServerErrorInfo, type RpcServerEvent } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { deferred, within } from "../helpers/deferred.js";

const handlers = {
  echo: ({ text }: { text: string }) => ({ text }),
  getOrder: ({ id }: { id: number }) => ({ id, total: 1 }),
  wait: ({ key }: { key: string }) => ({ key }),
  whoami: () => ({ server: "s" }),
};

const WAIT_MS = 3_000;

/** A raw DEALER connected to `endpoint`, with a promise of its first disconnect. */
async function rawPeer(endpoint: string) {
  const socket = new zmq.Dealer({ linger: 0, reconnectInterval: 50 });
  const connected = deferred();
  const disconnected = deferred();
  socket.events.on("connect", () => connected.resolve());
  socket.events.on("disconnect", () => disconnected.resolve());
  socket.connect(endpoint);
  await within(connected.promise, WAIT_MS, "the raw peer to connect");
  return {
    socket,
    disconnected: disconnected.promise,
    request: (method: string, body: unknown, ...extra: Buffer[]) =>
      socket.send([Buffer.alloc(0), method, JSON.stringify(body), ...extra]),
    async reply(): Promise<{ status: string; body: unknown }> {
      const [, status, body] = await within(socket.receive(), WAIT_MS, "a reply on the raw peer");
      return { status: status!.toString(), body: JSON.parse(body!.toString()) as unknown };
    },
  };
}

describe("hard limit (ZMQ_MAXMSGSIZE)", () => {
  test("a frame over the hard limit drops the sender's connection without a reply; the server keeps serving others", async () => {
    const errors: RpcServerErrorInfo[] = [];
    // maxMessageBytes 1024 → hard limit max(2048, 1024 + 65536) = 66560 bytes.
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers, {
      maxMessageBytes: 1024,
      onError: (info) => errors.push(info),
    });
    await using client = await RpcClient.connect(server.endpoint, Orders, { timeoutMs: WAIT_MS });
    const hostile = await rawPeer(server.endpoint);
    try {
      await hostile.request("echo", { text: "x".repeat(100_000) });
      await within(hostile.disconnected, WAIT_MS, "the server to drop the hostile connection");
      // The server never saw the message: libzmq refused the frame before buffering it.
      expect(server.stats.received).toBe(0);
      expect(await client.call("echo", { text: "still here" })).toEqual({ text: "still here" });
      // The hostile peer reconnects (a new connection) and is served when it behaves.
      await hostile.request("echo", { text: "small" });
      expect(await hostile.reply()).toEqual({ status: "ok", body: { text: "small" } });
      expect(server.stats.received).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      hostile.socket.close();
    }
  });

  test("under the hard limit but over maxMessageBytes: answered MESSAGE_TOO_LARGE, the connection stays", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers, { maxMessageBytes: 1024 });
    const peer = await rawPeer(server.endpoint);
    try {
      await peer.request("echo", { text: "x".repeat(10_000) });
      const reply = await peer.reply();
      expect(reply.status).toBe("error");
      expect(reply.body).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
      await peer.request("echo", { text: "ok" });
      expect(await peer.reply()).toEqual({ status: "ok", body: { text: "ok" } });
    } finally {
      peer.socket.close();
    }
  });

  test("a server started with no options refuses a frame over the default hard limit of 8 MiB", async () => {
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
    const hostile = await rawPeer(server.endpoint);
    try {
      await hostile.socket.send([Buffer.alloc(0), "echo", Buffer.alloc(8 * 1024 * 1024 + 1, 0x20)]);
      await within(hostile.disconnected, 10_000, "the server to drop the connection sending 8 MiB + 1");
      expect(server.stats.received).toBe(0);
      await hostile.request("echo", { text: "small" });
      expect(await hostile.reply()).toEqual({ status: "ok", body: { text: "small" } });
    } finally {
      hostile.socket.close();
    }
  }, 20_000);
});

describe("maxFrames", () => {
  test("a message with more frames is dropped without a reply, counted and reported; the next one is answered", async () => {
    const errors: RpcServerErrorInfo[] = [];
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers, {
      maxFrames: 6,
      onError: (info) => errors.push(info),
    });
    const peer = await rawPeer(server.endpoint);
    try {
      // The server's ROUTER adds the identity frame: 1 + ["", method, body] + 3 = 7 frames, one over.
      await peer.request("echo", { text: "too many" }, Buffer.from("a"), Buffer.from("b"), Buffer.from("c"));
      await peer.request("echo", { text: "answered" });
      // Replies on one connection keep their order: the first reply is the second request's.
      expect(await peer.reply()).toEqual({ status: "ok", body: { text: "answered" } });
      expect(server.stats.dropped).toBe(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: "MESSAGE_TOO_LARGE", replied: false, method: undefined });
      expect(errors[0]!.message).toMatch(/dropped a 7-frame message, over the limit of 6 frames \(maxFrames\)/);
    } finally {
      peer.socket.close();
    }
  });
});

describe("behind a broker", () => {
  test("a request over a worker's maxMessageBytes is answered MESSAGE_TOO_LARGE; the worker is not cut off", async () => {
    await using broker = await RpcBroker.bind({ frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" });
    const events: RpcServerEvent[] = [];
    await using server = await RpcServer.connect(broker.backend, Orders, handlers, {
      maxMessageBytes: 1024,
      onEvent: (event) => events.push(event),
    });
    await broker.waitForServers(1, { service: Orders.name, timeoutMs: WAIT_MS });
    await using client = await RpcClient.connect(broker.frontend, Orders, { service: Orders.name, timeoutMs: WAIT_MS });
    // 200 KB: over the worker's application tier, and over the hard limit a bound server would derive (66560).
    await expect(client.call("echo", { text: "x".repeat(200_000) })).rejects.toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    expect(await client.call("echo", { text: "next" })).toEqual({ text: "next" });
    expect(server.stats.failed).toEqual({ MESSAGE_TOO_LARGE: 1 });
    expect(events.filter((e) => e.type !== "broker:connected")).toEqual([]);
    expect(broker.stats.workers).toBe(1);
  });

  test("a backend hard limit under the frontend's is refused", async () => {
    await expect(
      RpcBroker.bind(
        { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
        { hardMaxMessageBytes: 1_000_000, backendHardMaxMessageBytes: 999_999 },
      ),
    ).rejects.toThrow(/`backendHardMaxMessageBytes` must be at least the frontend's `hardMaxMessageBytes` \(1000000\)/);
  });
});
