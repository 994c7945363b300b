import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcClient, RpcServer, type RpcServerErrorInfo, type RpcServerOptions } from "../src/index.js";
import { Orders } from "./helpers/contracts.js";
import { deferred, within } from "./helpers/deferred.js";
import { TRANSPORTS, endpointFor, type TestTransport } from "./helpers/endpoints.js";

const RECEIVE_TIMEOUT_MS = 3_000;

interface Fixture extends AsyncDisposable {
  readonly server: RpcServer<typeof Orders>;
  readonly errors: RpcServerErrorInfo[];
  /** Resolves with the next error the server reports. */
  nextError(): Promise<RpcServerErrorInfo>;
  /** A raw REQ socket connected to the server. */
  request(): zmq.Request;
  /** A raw DEALER socket connected to the server. */
  dealer(): zmq.Dealer;
  /** Proves the server still serves a well-behaved typed client. */
  stillServes(): Promise<void>;
}

async function fixture(transport: TestTransport, options: RpcServerOptions = {}): Promise<Fixture> {
  const errors: RpcServerErrorInfo[] = [];
  let waiter = deferred<RpcServerErrorInfo>();
  const server = await RpcServer.bind(
    endpointFor(transport),
    Orders,
    {
      echo: ({ text }) => ({ text }),
      getOrder: ({ id }) => {
        if (id === 1) throw { not: "an error" };
        if (id === 2) throw 42;
        return { id, total: 1 };
      },
      wait: ({ key }) => ({ key }),
      whoami: () => ({ server: "s" }),
    },
    {
      ...options,
      onError: (info) => {
        errors.push(info);
        waiter.resolve(info);
        waiter = deferred<RpcServerErrorInfo>();
      },
    },
  );
  const sockets: zmq.Socket[] = [];
  function raw<T extends zmq.Request | zmq.Dealer>(socket: T): T {
    socket.receiveTimeout = RECEIVE_TIMEOUT_MS;
    socket.linger = 0;
    socket.connect(server.endpoint);
    sockets.push(socket);
    return socket;
  }
  return {
    server,
    errors,
    nextError: () => within(waiter.promise, RECEIVE_TIMEOUT_MS, "the server to report an error"),
    request: () => raw(new zmq.Request()),
    dealer: () => raw(new zmq.Dealer()),
    async stillServes() {
      await using client = await RpcClient.connect(server.endpoint, Orders, { timeoutMs: RECEIVE_TIMEOUT_MS });
      await expect(client.call("echo", { text: "still here" })).resolves.toEqual({ text: "still here" });
    },
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.close();
      await server.close();
    },
  };
}

/** Decodes a JSON error or ok body. */
function json(frame: Buffer | undefined): unknown {
  return JSON.parse(String(frame));
}

/** Sends `frames` on a fresh REQ socket and returns the reply frames. */
async function ask(f: Fixture, frames: zmq.MessageLike[]): Promise<Buffer[]> {
  const req = f.request();
  await req.send(frames);
  return req.receive();
}

describe.each(TRANSPORTS)("RpcServer with raw peers over %s", (transport) => {
  test("a plain REQ socket calls a method with [method, body] and gets [status, body]", async () => {
    await using f = await fixture(transport);
    const [status, body, ...rest] = await ask(f, ["echo", JSON.stringify({ text: "from REQ" })]);
    expect(String(status)).toBe("ok");
    expect(json(body)).toEqual({ text: "from REQ" });
    expect(rest).toEqual([]);
  });

  test("echoes every envelope frame, so a pipelining DEALER can correlate with its own frames", async () => {
    await using f = await fixture(transport);
    const dealer = f.dealer();
    await dealer.send(["hop-a", "hop-b", "", "getOrder", JSON.stringify({ id: 9 })]);
    await dealer.send(["corr-2", "", "echo", JSON.stringify({ text: "second" })]);
    const replies = [await dealer.receive(), await dealer.receive()].map((frames) => frames.map(String));
    expect(replies).toContainEqual(["hop-a", "hop-b", "", "ok", JSON.stringify({ id: 9, total: 1 })]);
    expect(replies).toContainEqual(["corr-2", "", "ok", JSON.stringify({ text: "second" })]);
  });

  test.each([
    ["invalid JSON", ["echo", "{not json"], /not valid json/],
    ["a body that is not UTF-8", ["echo", Buffer.from([0xff, 0xfe, 0xfd])], /not valid json/],
    [
      "a third frame that is not a headers object",
      ["echo", JSON.stringify({ text: "a" }), "extra"],
      /headers frame is not a JSON object/,
    ],
    [
      "a headers frame that is a JSON array",
      ["echo", JSON.stringify({ text: "a" }), "[1]"],
      /headers frame is not a JSON object/,
    ],
    [
      "a reserved header of the wrong type",
      ["echo", JSON.stringify({ text: "a" }), '{"deadline":"soon"}'],
      /header `deadline` must be a number/,
    ],
    ["a missing body frame", ["echo"], /body frame is missing/],
    ["an empty method", ["", JSON.stringify({ text: "a" })], /method frame is empty/],
    ["a non-UTF-8 method", [Buffer.from([0xc3, 0x28]), JSON.stringify({ text: "a" })], /method frame .* not valid UTF-8/],
    ["garbage bytes", [Buffer.from([0, 1, 2, 3, 255]), Buffer.from([0xde, 0xad, 0xbe, 0xef])], /MALFORMED|not valid/],
  ] as const)("answers MALFORMED to %s and keeps serving", async (_label, frames, pattern) => {
    await using f = await fixture(transport);
    const reported = f.nextError();
    const [status, body] = await ask(f, [...frames]);
    expect(String(status)).toBe("error");
    const error = json(body) as { code: string; message: string };
    expect(error.code).toBe("MALFORMED");
    expect(`${error.code} ${error.message}`).toMatch(pattern);
    await expect(reported).resolves.toMatchObject({ code: "MALFORMED", replied: true });
    expect(f.server.stats.failed).toEqual({ MALFORMED: 1 });
    await f.stillServes();
  });

  test("answers UNKNOWN_METHOD naming the known methods", async () => {
    await using f = await fixture(transport);
    const [status, body] = await ask(f, ["deleteAll", "{}"]);
    expect(String(status)).toBe("error");
    expect(json(body)).toMatchObject({
      code: "UNKNOWN_METHOD",
      message: expect.stringContaining('method "deleteAll" is not part of contract "orders.v1"'),
      details: { known: ["echo", "getOrder", "wait", "whoami"] },
    });
    await f.stillServes();
  });

  test("answers INVALID_REQUEST with the zod issues and their paths", async () => {
    await using f = await fixture(transport);
    const [status, body] = await ask(f, ["getOrder", JSON.stringify({ id: -3 })]);
    expect(String(status)).toBe("error");
    const error = json(body) as { code: string; message: string; details: { issues: { path: unknown[]; code: string }[] } };
    expect(error.code).toBe("INVALID_REQUEST");
    expect(error.message).toMatch(/Request to "orders\.v1\/getOrder" does not match the request schema/);
    expect(error.details.issues).toEqual([expect.objectContaining({ path: ["id"], code: "too_small" })]);
    await f.stillServes();
  });

  test("answers HANDLER_ERROR when a handler throws a non-Error value", async () => {
    await using f = await fixture(transport);
    for (const [id, text] of [
      [1, '{"not":"an error"}'],
      [2, "42"],
    ] as const) {
      const reported = f.nextError();
      const [status, body] = await ask(f, ["getOrder", JSON.stringify({ id })]);
      expect(String(status)).toBe("error");
      // The caller gets a generic message and an error id; the server's report has the real one, under the same id.
      const error = json(body) as { code: string; message: string; details: { errorId: string } };
      expect(error).toEqual({
        code: "HANDLER_ERROR",
        message: `the handler of "orders.v1/getOrder" failed unexpectedly (error id ${error.details.errorId}). The server's log has the details under this id.`,
        details: { errorId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
      });
      await expect(reported).resolves.toMatchObject({
        code: "HANDLER_ERROR",
        errorId: error.details.errorId,
        message: `the handler of "orders.v1/getOrder" threw a non-Error value: ${text} (error id ${error.details.errorId})`,
      });
    }
    await f.stillServes();
  });

  test("with exposeErrors, sends the handler's own message", async () => {
    await using f = await fixture(transport, { exposeErrors: true });
    const [, body] = await ask(f, ["getOrder", JSON.stringify({ id: 2 })]);
    expect(json(body)).toMatchObject({
      code: "HANDLER_ERROR",
      message: 'the handler of "orders.v1/getOrder" threw a non-Error value: 42',
    });
  });

  test("answers a protocol 1.1 request with a headers frame, ignores unknown keys and later frames, echoes the correlation id", async () => {
    await using f = await fixture(transport);
    const dealer = f.dealer();
    const headers = JSON.stringify({ version: "1.1", contract: "orders.v1", correlationId: "c-7", futureKey: { any: 1 } });
    await dealer.send(["", "echo", JSON.stringify({ text: "h" }), headers, "a frame from a later version"]);
    const reply = (await dealer.receive()).map(String);
    expect(reply).toEqual(["", "ok", JSON.stringify({ text: "h" }), JSON.stringify({ correlationId: "c-7" })]);
    // Without a correlation id there is nothing to echo: the reply keeps the v1 shape.
    await dealer.send(["", "echo", JSON.stringify({ text: "i" }), "{}"]);
    expect((await dealer.receive()).map(String)).toEqual(["", "ok", JSON.stringify({ text: "i" })]);
  });

  test("refuses a request written for another contract with CONTRACT_MISMATCH", async () => {
    await using f = await fixture(transport);
    const [status, body] = await ask(f, ["echo", JSON.stringify({ text: "a" }), JSON.stringify({ contract: "orders.v2" })]);
    expect(String(status)).toBe("error");
    expect(json(body)).toMatchObject({
      code: "CONTRACT_MISMATCH",
      message: expect.stringContaining('written for contract "orders.v2", but this server serves "orders.v1"'),
      details: { expected: "orders.v1", received: "orders.v2" },
    });
    await f.stillServes();
  });

  test.each([["ok"], ["error"]])("never answers a message whose method frame is %s (a reply), and counts it", async (status) => {
    await using f = await fixture(transport);
    const dealer = f.dealer();
    const reported = f.nextError();
    await dealer.send(["", status, JSON.stringify({ text: "a reply" })]);
    await expect(reported).resolves.toMatchObject({
      code: "MALFORMED",
      replied: false,
      message: expect.stringContaining("a server never answers a reply"),
    });
    expect(f.server.stats.strayReplies).toBe(1);
    // Nothing came back for it: the next thing on this socket is the answer to the next request.
    await dealer.send(["", "echo", JSON.stringify({ text: "next" })]);
    expect((await dealer.receive()).map(String)).toEqual(["", "ok", JSON.stringify({ text: "next" })]);
  });

  test('a bound server answers [...envelope, ""] (a ZMQ_PROBE_ROUTER hello) with MALFORMED, never as broker control', async () => {
    await using f = await fixture(transport);
    const probing = new zmq.Router({ probeRouter: true, linger: 0, receiveTimeout: RECEIVE_TIMEOUT_MS });
    try {
      probing.connect(f.server.endpoint);
      const [, delimiter, status, body] = await probing.receive();
      expect([String(delimiter), String(status)]).toEqual(["", "error"]);
      expect(json(body)).toMatchObject({
        code: "MALFORMED",
        message: expect.stringContaining("nothing follows the empty delimiter"),
      });
      // A later call to a method named like the old control word is a plain request (UNKNOWN_METHOD here).
      const [reqStatus, reqBody] = await ask(f, ["ready", "{}"]);
      expect(String(reqStatus)).toBe("error");
      expect(json(reqBody)).toMatchObject({ code: "UNKNOWN_METHOD" });
    } finally {
      probing.close();
    }
    await f.stillServes();
  });

  test("answers MESSAGE_TOO_LARGE when a request exceeds maxMessageBytes", async () => {
    await using f = await fixture(transport, { maxMessageBytes: 1024 });
    const request = JSON.stringify({ text: "y".repeat(2000) });
    const [status, body] = await ask(f, ["echo", request]);
    expect(String(status)).toBe("error");
    expect(json(body)).toMatchObject({ code: "MESSAGE_TOO_LARGE", details: { size: request.length, limit: 1024 } });
    await f.stillServes();
  });

  test("counts and reports a message without an envelope delimiter (nothing to reply to)", async () => {
    await using f = await fixture(transport);
    const dealer = f.dealer();
    const reported = f.nextError();
    await dealer.send(["echo", JSON.stringify({ text: "no delimiter" })]);
    await expect(reported).resolves.toMatchObject({ code: "MALFORMED", replied: false });
    expect(f.errors.at(-1)?.message).toMatch(/no empty delimiter frame/);
    expect(f.server.stats.dropped).toBe(1);
    // The same peer is still served once it follows the protocol.
    await dealer.send(["", "echo", JSON.stringify({ text: "with delimiter" })]);
    expect((await dealer.receive()).map(String)).toEqual(["", "ok", JSON.stringify({ text: "with delimiter" })]);
    await f.stillServes();
  });

  test("a single garbage frame is dropped and counted, and the server keeps serving", async () => {
    await using f = await fixture(transport);
    const dealer = f.dealer();
    const reported = f.nextError();
    await dealer.send(Buffer.from([0xff, 0x00, 0x13, 0x37]));
    await within(reported, RECEIVE_TIMEOUT_MS, "the drop report");
    expect(f.server.stats).toMatchObject({ received: 1, dropped: 1, succeeded: 0 });
    await f.stillServes();
  });
});

describe("RpcClient facing a misbehaving server", () => {
  test("fails the call with MalformedMessageError on an unknown status and on an undecodable body", async () => {
    const router = new zmq.Router({ linger: 0 });
    await router.bind("tcp://127.0.0.1:*");
    await using client = await RpcClient.connect(router.lastEndpoint ?? "", Orders, { timeoutMs: 3_000 });
    const first = client.call("echo", { text: "a" });
    const [peer, corr] = await router.receive();
    await router.send([peer!, corr!, "", "maybe", "{}"]);
    await expect(first).rejects.toMatchObject({ name: "MalformedMessageError", code: "MALFORMED" });
    await expect(first).rejects.toThrow(/unknown status "maybe"/);

    const second = client.call("echo", { text: "b" });
    const [peer2, corr2] = await router.receive();
    await router.send([peer2!, corr2!, "", "ok", "{oops"]);
    await expect(second).rejects.toThrow(/not valid json/);

    const third = client.call("echo", { text: "c" });
    const [peer3, corr3] = await router.receive();
    await router.send([peer3!, corr3!, "", "error", JSON.stringify({ nope: true })]);
    await expect(third).rejects.toThrow(/error body is not \{ code: string, message: string \}/);

    const dropped = deferred<string>();
    await using counting = await RpcClient.connect(router.lastEndpoint ?? "", Orders, {
      onDrop: (info) => dropped.resolve(info.reason),
    });
    const fourth = counting.call("echo", { text: "d" });
    const [peer4, corr4] = await router.receive();
    await router.send([peer4!, "garbage"]);
    await expect(within(dropped.promise, 3_000, "the drop")).resolves.toBe("malformed-reply");
    expect(counting.stats.malformedReplies).toBe(1);
    await router.send([peer4!, corr4!, "", "ok", JSON.stringify({ text: "d" })]);
    await expect(fourth).resolves.toEqual({ text: "d" });
    router.close();
  });
});
