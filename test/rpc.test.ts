import { describe, expect, test, vi } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import {
  AbortedError,
  ClosedError,
  ContractValidationError,
  MessageTooLargeError,
  RemoteError,
  RpcClient,
  RpcError,
  RpcServer,
  TimeoutError,
  defineRpc,
  msgpackCodec,
  UnknownMethodError,
  type RpcHandlers,
  type RpcClientDropInfo,
} from "../src/index.js";
import { Orders, OrdersV2 } from "./helpers/contracts.js";
import { deferred, within } from "./helpers/deferred.js";
import { TRANSPORTS, endpointFor } from "./helpers/endpoints.js";
import { Gates } from "./helpers/gates.js";

function handlers(gates = new Gates(), name = "server"): RpcHandlers<typeof Orders> {
  return {
    echo: ({ text }) => ({ text }),
    getOrder: ({ id }) => {
      if (id === 404) throw new RpcError("NOT_FOUND", `order ${id} does not exist`, { details: { id } });
      if (id === 500) throw new Error("database is down");
      if (id === 501) throw "a plain string";
      // Breaks the contract on purpose (the compiler would refuse a plain string here).
      if (id === 502) return { id, total: "lots" as unknown as number };
      return { id, total: id * 2 };
    },
    wait: async ({ key }) => {
      await gates.enter(key);
      return { key };
    },
    whoami: () => ({ server: name }),
  };
}

describe.each(TRANSPORTS)("RPC over %s", (transport) => {
  test("answers a typed call and reports the real endpoint", async () => {
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers());
    expect(server.endpoint).not.toMatch(/:0$|:\*$/);
    await using client = await RpcClient.connect(server.endpoint, Orders);
    await expect(client.call("getOrder", { id: 21 })).resolves.toEqual({ id: 21, total: 42 });
    await expect(client.call("echo", { text: "hé ☃" })).resolves.toEqual({ text: "hé ☃" });
    expect(server.stats).toMatchObject({ received: 2, succeeded: 2, dropped: 0 });
  });

  test("correlates 1,000 concurrent calls when handlers finish out of order", async () => {
    const gates = new Gates();
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers(gates), { concurrency: 1000 });
    await using client = await RpcClient.connect(server.endpoint, Orders, { timeoutMs: 20_000 });
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    const calls = keys.map((key) => client.call("wait", { key }));
    await within(gates.entered(1000), 10_000, "1000 handlers to start");
    for (const key of [...keys].reverse()) gates.open(key); // finish in reverse order
    const replies = await Promise.all(calls);
    expect(replies.map((r) => r.key)).toEqual(keys);
    expect(client.stats).toMatchObject({ sent: 1000, pending: 0, lateReplies: 0 });
  }, 30_000);

  test("times out a call whose handler never answers, keeps serving others, and drops the late reply", async () => {
    const gates = new Gates();
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers(gates));
    const late = deferred<RpcClientDropInfo>();
    await using client = await RpcClient.connect(server.endpoint, Orders, { onDrop: (info) => late.resolve(info) });
    const slow = client.call("wait", { key: "slow" }, { timeoutMs: 150 });
    await expect(slow).rejects.toBeInstanceOf(TimeoutError);
    await expect(slow).rejects.toMatchObject({ code: "TIMEOUT", timeoutMs: 150 });
    await expect(slow).rejects.toThrow(/timed out after 150 ms .*raise \{ timeoutMs \}/);
    // Another call is pending while the late reply arrives; it must get its own reply.
    const other = client.call("wait", { key: "other" });
    await within(gates.arrived("other"), 3_000, "the second handler");
    gates.open("slow");
    const info = await within(late.promise, 3_000, "the late reply to be dropped");
    expect(info.reason).toBe("late-reply");
    gates.open("other");
    await expect(other).resolves.toEqual({ key: "other" });
    expect(client.stats.lateReplies).toBe(1);
  });

  test("aborts a pending call with AbortedError carrying the signal's reason", async () => {
    const gates = new Gates();
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers(gates));
    await using client = await RpcClient.connect(server.endpoint, Orders);
    const controller = new AbortController();
    const call = client.call("wait", { key: "a" }, { signal: controller.signal });
    await within(gates.arrived("a"), 3_000, "the handler");
    const reason = new Error("user navigated away");
    controller.abort(reason);
    const err: unknown = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(err).toMatchObject({ code: "ABORTED", cause: reason });
    expect(client.stats.pending).toBe(0);
    gates.open("a");

    // An already-aborted signal rejects at once and sends nothing.
    const sentBefore = client.stats.sent;
    await expect(client.call("echo", { text: "x" }, { signal: AbortSignal.abort("gone") })).rejects.toMatchObject({
      name: "AbortedError",
      cause: "gone",
    });
    expect(client.stats.sent).toBe(sentBefore);
  });

  test("surfaces handler errors as RemoteError with code, message and details", async () => {
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers());
    await using client = await RpcClient.connect(server.endpoint, Orders);
    const notFound: unknown = await client.call("getOrder", { id: 404 }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(RemoteError);
    expect(notFound).toMatchObject({ code: "NOT_FOUND", remoteMessage: "order 404 does not exist", details: { id: 404 } });

    const crashed: unknown = await client.call("getOrder", { id: 500 }).catch((e: unknown) => e);
    expect(crashed).toMatchObject({ name: "RemoteCallError", code: "HANDLER_ERROR", details: { errorId: expect.any(String) } });
    // An unexpected error's message stays on the server unless it opts in (exposeErrors).
    expect((crashed as Error).message).not.toContain("database is down");
    expect((crashed as Error).message).toContain("failed unexpectedly (error id");

    const nonError: unknown = await client.call("getOrder", { id: 501 }).catch((e: unknown) => e);
    expect(nonError).toMatchObject({ code: "HANDLER_ERROR" });
    expect((nonError as RemoteError).remoteMessage).not.toMatch(/a plain string/);

    const invalid: unknown = await client.call("getOrder", { id: 502 }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: "INVALID_RESPONSE" });
    expect((invalid as RemoteError).remoteMessage).toMatch(/response schema[\s\S]*total/);

    await expect(client.call("getOrder", { id: 3 })).resolves.toEqual({ id: 3, total: 6 });
    expect(server.stats.failed).toEqual({ NOT_FOUND: 1, HANDLER_ERROR: 2, INVALID_RESPONSE: 1 });
  });

  test("with no onError, an unexpected handler failure is written to stderr once, with the id the caller got", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers());
      await using client = await RpcClient.connect(server.endpoint, Orders);
      const crashed = (await client.call("getOrder", { id: 500 }).catch((e: unknown) => e)) as RemoteError;
      const { errorId } = crashed.details as { errorId: string };
      const lines = write.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.includes(errorId));
      expect(lines).toEqual([
        `typed-zmq: RpcServer("orders.v1"): the handler of "orders.v1/getOrder" threw: database is down (error id ${errorId})\n`,
      ]);
      // A handler that returns data breaking the contract is a server bug too: never silent either.
      await client.call("getOrder", { id: 502 }).catch(() => undefined);
      expect(
        write.mock.calls.filter(([chunk]) => /INVALID_RESPONSE|does not match the response schema/.test(String(chunk))),
      ).toHaveLength(1);
      // Application errors are expected outcomes, not failures to log.
      await client.call("getOrder", { id: 404 }).catch(() => undefined);
      expect(write.mock.calls.filter(([chunk]) => String(chunk).includes("order 404 does not exist"))).toEqual([]);
    } finally {
      write.mockRestore();
    }
  });

  test("sends a stack only when the server opts in with exposeStack", async () => {
    await using quiet = await RpcServer.bind(endpointFor(transport), Orders, handlers());
    await using loud = await RpcServer.bind(endpointFor(transport), Orders, handlers(), { exposeStack: true });
    await using a = await RpcClient.connect(quiet.endpoint, Orders);
    await using b = await RpcClient.connect(loud.endpoint, Orders);
    const hidden = (await a.call("getOrder", { id: 500 }).catch((e: unknown) => e)) as RemoteError;
    const shown = (await b.call("getOrder", { id: 500 }).catch((e: unknown) => e)) as RemoteError;
    expect(JSON.stringify(hidden)).not.toContain("at ");
    expect(hidden.details).toEqual({ errorId: expect.any(String) });
    expect(shown.details).toMatchObject({ stack: expect.stringContaining("database is down") });
  });

  test("validates requests before sending: nothing leaves on a bad payload", async () => {
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers());
    await using client = await RpcClient.connect(server.endpoint, Orders);
    // @ts-expect-error id must be a number: checks the run-time validation for untyped callers
    const outgoing: unknown = await client.call("getOrder", { id: "7" }).catch((e: unknown) => e);
    expect(outgoing).toBeInstanceOf(ContractValidationError);
    expect(outgoing).toMatchObject({ direction: "outgoing", contract: "orders.v1", method: "getOrder" });
    expect((outgoing as ContractValidationError).issues[0]?.path).toEqual(["id"]);
    expect(client.stats.sent).toBe(0);
    await expect(client.call("echo", { text: "ok" })).resolves.toEqual({ text: "ok" });
    expect(server.stats.received).toBe(1);
  });

  test("rejects a reply that breaks the response schema", async () => {
    const v2: RpcHandlers<typeof OrdersV2> = {
      echo: ({ text }) => ({ text }),
      getOrder: ({ id }) => ({ id, total: "forty-two" }),
      wait: ({ key }) => ({ key }),
      whoami: () => ({ server: "v2" }),
    };
    await using server = await RpcServer.bind(endpointFor(transport), OrdersV2, v2);
    await using client = await RpcClient.connect(server.endpoint, Orders);
    const err: unknown = await client.call("getOrder", { id: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractValidationError);
    expect(err).toMatchObject({ name: "ContractValidationError", code: "VALIDATION_FAILED", direction: "incoming" });
    expect((err as Error).message).toMatch(
      /Reply to "orders\.v1\/getOrder" does not match the response schema[\s\S]*different contract versions/,
    );
  });

  test("rejects an unknown method locally for untyped callers", async () => {
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers());
    await using client = await RpcClient.connect(server.endpoint, Orders);
    // @ts-expect-error not a method of the contract
    const err: unknown = await client.call("deleteEverything", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownMethodError);
    expect((err as Error).message).toContain('Known methods: "echo", "getOrder"');
  });

  test("enforces maxMessageBytes on both sides and keeps serving", async () => {
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers(), { maxMessageBytes: 64 });
    await using client = await RpcClient.connect(server.endpoint, Orders);
    await using strict = await RpcClient.connect(server.endpoint, Orders, { maxMessageBytes: 64 });
    const big = { text: "x".repeat(100) };
    await expect(strict.call("echo", big)).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(strict.stats.sent).toBe(0);
    const remote: unknown = await client.call("echo", big).catch((e: unknown) => e);
    expect(remote).toMatchObject({ name: "RemoteCallError", code: "MESSAGE_TOO_LARGE", details: { limit: 64 } });
    await expect(client.call("echo", { text: "small" })).resolves.toEqual({ text: "small" });
  });

  test("close() rejects pending calls with ClosedError, is idempotent, and later calls reject at once", async () => {
    const gates = new Gates();
    await using server = await RpcServer.bind(endpointFor(transport), Orders, handlers(gates));
    const client = await RpcClient.connect(server.endpoint, Orders);
    // The rejection is caught at once: close() rejects the call before this test awaits it.
    const pending = client.call("wait", { key: "p" }).catch((e: unknown) => e);
    await within(gates.arrived("p"), 3_000, "the handler");
    const first = client.close();
    expect(client.closed).toBe(true);
    await Promise.all([first, client.close()]);
    const err: unknown = await pending;
    expect(err).toBeInstanceOf(ClosedError);
    expect((err as Error).message).toMatch(/client was closed while the call was pending/);
    await expect(client.call("echo", { text: "late" })).rejects.toBeInstanceOf(ClosedError);
    gates.open("p");
  });

  test("server close() lets in-flight handlers finish, then closes", async () => {
    const gates = new Gates();
    const server = await RpcServer.bind(endpointFor(transport), Orders, handlers(gates));
    await using client = await RpcClient.connect(server.endpoint, Orders);
    const call = client.call("wait", { key: "drain" });
    await within(gates.arrived("drain"), 3_000, "the handler");
    const closing = server.close();
    gates.open("drain");
    await expect(call).resolves.toEqual({ key: "drain" });
    await closing;
    expect(server.closed).toBe(true);
    expect(server.stats.inFlight).toBe(0);
  });

  test("server close() answers handlers still running after drainTimeoutMs with UNAVAILABLE and aborts them", async () => {
    const aborted = deferred<unknown>();
    const stuck = deferred();
    const server = await RpcServer.bind(
      endpointFor(transport),
      Orders,
      {
        ...handlers(),
        wait: async ({ key }, { signal }) => {
          signal.addEventListener("abort", () => aborted.resolve(signal.reason));
          stuck.resolve();
          await new Promise<never>(() => undefined);
          return { key };
        },
      },
      { drainTimeoutMs: 50 },
    );
    await using client = await RpcClient.connect(server.endpoint, Orders);
    const call = client.call("wait", { key: "never" });
    await within(stuck.promise, 3_000, "the handler");
    await server.close();
    await expect(call).rejects.toMatchObject({ name: "RemoteCallError", code: "UNAVAILABLE" });
    await expect(within(aborted.promise, 1_000, "the handler's signal")).resolves.toBeInstanceOf(ClosedError);
  });

  test("spreads calls over several servers", async () => {
    await using one = await RpcServer.bind(endpointFor(transport), Orders, handlers(undefined, "one"));
    await using two = await RpcServer.bind(endpointFor(transport), Orders, handlers(undefined, "two"));
    await using client = await RpcClient.connect([one.endpoint, two.endpoint], Orders);
    await client.waitForConnected(2); // calls go to connected servers only
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.call("whoami", {})));
    const counts = { one: 0, two: 0 };
    for (const a of answers) counts[a.server as "one" | "two"]++;
    expect(counts.one + counts.two).toBe(20);
    expect(counts.one).toBeGreaterThan(0);
    expect(counts.two).toBeGreaterThan(0);
  });

  test("limits handlers running at once to `concurrency`", async () => {
    let running = 0;
    let peak = 0;
    await using server = await RpcServer.bind(
      endpointFor(transport),
      Orders,
      {
        ...handlers(),
        echo: async ({ text }) => {
          running++;
          peak = Math.max(peak, running);
          for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
          running--;
          return { text };
        },
      },
      { concurrency: 2 },
    );
    await using client = await RpcClient.connect(server.endpoint, Orders);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => client.call("echo", { text: `${i}` })));
    expect(replies).toHaveLength(10);
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(2);
  });

  test("await using closes client and server at the end of the scope", async () => {
    let server: RpcServer<typeof Orders> | undefined;
    let client: RpcClient<typeof Orders> | undefined;
    {
      await using s = await RpcServer.bind(endpointFor(transport), Orders, handlers());
      await using c = await RpcClient.connect(s.endpoint, Orders);
      server = s;
      client = c;
      await c.call("echo", { text: "scoped" });
    }
    expect(server.closed).toBe(true);
    expect(client.closed).toBe(true);
  });

  test("carries binary fields intact with the MessagePack codec", async () => {
    const Blobs = defineRpc("blobs.v1", {
      reverse: {
        request: z.object({ data: z.instanceof(Uint8Array), note: z.string().optional() }),
        response: z.object({ data: z.instanceof(Uint8Array), size: z.number() }),
      },
    });
    await using server = await RpcServer.bind(
      endpointFor(transport),
      Blobs,
      { reverse: ({ data }) => ({ data: Uint8Array.from(data).reverse(), size: data.length }) },
      { codec: msgpackCodec },
    );
    await using client = await RpcClient.connect(server.endpoint, Blobs, { codec: msgpackCodec });
    const data = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    const reply = await client.call("reverse", { data });
    expect(reply.size).toBe(300);
    expect(reply.data).toBeInstanceOf(Uint8Array);
    expect([...reply.data]).toEqual([...data].reverse());
  });

  test("RpcServer.connect joins a bound ROUTER as an MDP 0.1 worker: READY, then REQUEST answered by REPLY", async () => {
    const backend = new zmq.Router({ linger: 0, receiveTimeout: 3_000 });
    try {
      await backend.bind(endpointFor(transport));
      await using server = await RpcServer.connect(backend.lastEndpoint ?? "", Orders, handlers(), { name: "w" });
      expect(server.endpoint).toBe(backend.lastEndpoint);
      const [id, ...ready] = await backend.receive();
      expect(String(id)).toMatch(/^w-[0-9a-f]{4}$/);
      expect(ready.map(String)).toEqual(["", "MDPW01", "\x01", "orders.v1", "100"]);
      await backend.send([id!, "", "MDPW01", "\x02", "client-7", "", "getOrder", JSON.stringify({ id: 4 })]);
      expect((await backend.receive()).slice(1).map(String)).toEqual([
        "",
        "MDPW01",
        "\x03",
        "client-7",
        "",
        "ok",
        JSON.stringify({ id: 4, total: 8 }),
      ]);
    } finally {
      backend.close();
    }
  });
});

describe("RpcClient protocol 1.1 headers", () => {
  test('sends a headers frame by default, and [id, "", method, body] with { headers: false }', async () => {
    const router = new zmq.Router({ linger: 0, receiveTimeout: 3_000 });
    try {
      await router.bind("tcp://127.0.0.1:0");
      await using plain = await RpcClient.connect(router.lastEndpoint ?? "", Orders, { timeoutMs: 3_000, headers: false });
      await using withHeaders = await RpcClient.connect(router.lastEndpoint ?? "", Orders, { timeoutMs: 2_000 });
      const calls = [plain.call("echo", { text: "a" }), withHeaders.call("echo", { text: "b" })];
      const seen: Buffer[][] = [await router.receive(), await router.receive()];
      const v1 = seen.find((frames) => frames.length === 5)!;
      const v11 = seen.find((frames) => frames.length === 6)!;
      expect(v1.slice(2).map(String)).toEqual(["", "echo", JSON.stringify({ text: "a" })]);
      const before = Date.now();
      const headers = JSON.parse(String(v11[5])) as Record<string, unknown>;
      // remainingMs is what was left when the request was sent (it waited for the connection first).
      expect(headers).toMatchObject({ version: "1.4", contract: "orders.v1" });
      expect(headers["remainingMs"]).toBeGreaterThan(1_000);
      expect(headers["remainingMs"]).toBeLessThanOrEqual(2_000);
      expect(headers["deadline"]).toBeGreaterThan(before);
      expect(headers["deadline"]).toBeLessThanOrEqual(before + 2_000);
      // Answer both, the second with a headers frame of its own: the client accepts it.
      await router.send([...v1.slice(0, 3), "ok", JSON.stringify({ text: "a" })]);
      await router.send([...v11.slice(0, 3), "ok", JSON.stringify({ text: "b" }), JSON.stringify({ correlationId: "x" })]);
      await expect(Promise.all(calls)).resolves.toEqual([{ text: "a" }, { text: "b" }]);
    } finally {
      router.close();
    }
  });

  test("with headers (the default), a server for another contract answers CONTRACT_MISMATCH", async () => {
    const Other = defineRpc("orders.v2", { echo: Orders.methods.echo });
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Other, { echo: ({ text }) => ({ text }) });
    await using client = await RpcClient.connect(server.endpoint, Orders, { timeoutMs: 3_000 });
    await expect(client.call("echo", { text: "x" })).rejects.toMatchObject({
      name: "RemoteCallError",
      code: "CONTRACT_MISMATCH",
      details: { expected: "orders.v2", received: "orders.v1" },
    });
    // Without headers the same call is served: the server cannot tell (the 1.0 behaviour).
    await using plain = await RpcClient.connect(server.endpoint, Orders, { timeoutMs: 3_000, headers: false });
    await expect(plain.call("echo", { text: "x" })).resolves.toEqual({ text: "x" });
  });
});

describe("RPC factories refuse misuse with errors that name the option", () => {
  test.each(["ok", "error"])("defineRpc refuses the reserved method name %s", (method) => {
    const schemas = { request: z.object({}), response: z.object({}) };
    expect(() => defineRpc("loop.v1", { [method]: schemas })).toThrow(
      new RegExp(`method name "${method}" is reserved: "ok" and "error" are reply statuses`),
    );
    expect(() => defineRpc("loop.v1", { okay: schemas, errors: schemas })).not.toThrow();
  });

  test("bad options, a missing handler and a taken endpoint", async () => {
    const ok = handlers();
    await expect(RpcServer.bind("inproc://x-opt", Orders, ok, { concurrency: 0 })).rejects.toThrow(
      /RpcServer\.bind: `concurrency` must be a positive integer, got 0/,
    );
    await expect(RpcServer.bind("inproc://x-opt", Orders, ok, { drainTimeoutMs: -1 })).rejects.toBeInstanceOf(RangeError);
    const partial: unknown = { echo: ok.echo };
    await expect(RpcServer.bind("inproc://x-opt", Orders, partial as RpcHandlers<typeof Orders>)).rejects.toThrow(
      /no handler for "getOrder", "wait", "whoami"/,
    );
    await expect(RpcClient.connect("inproc://x-opt", Orders, { timeoutMs: 0 })).rejects.toThrow(
      /`timeoutMs` must be a number of milliseconds/,
    );
    await expect(RpcClient.connect("inproc://x-opt", Orders, { codec: {} as never })).rejects.toThrow(/`codec` must be a codec/);
    await expect(RpcClient.connect("tcp:/x", Orders)).rejects.toMatchObject({ name: "InvalidEndpointError", endpoint: "tcp:/x" });
    await expect(RpcServer.bind("epgm://127.0.0.1;239.192.1.1:5555", Orders, ok)).rejects.toThrow(
      /PGM multicast carries only publish-subscribe/,
    );

    await using first = await RpcServer.bind("tcp://127.0.0.1:0", Orders, ok);
    await expect(RpcServer.bind(first.endpoint, Orders, ok)).rejects.toMatchObject({
      name: "EndpointInUseError",
      code: "ENDPOINT_IN_USE",
      endpoint: first.endpoint,
    });
    await using client = await RpcClient.connect(first.endpoint, Orders);
    await expect(client.call("echo", { text: "first still serves" })).resolves.toEqual({ text: "first still serves" });
    await expect(client.call("echo", { text: "x" }, { timeoutMs: -5 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe("RPC over tcp on IPv6 loopback", () => {
  test("binds tcp://[::1]:0 (ZMQ_IPV6 is set for a bracketed host) and a client connects to the real endpoint", async () => {
    await using server = await RpcServer.bind("tcp://[::1]:0", Orders, handlers());
    expect(server.endpoint).toMatch(/^tcp:\/\/\[::1\]:\d+$/);
    await using client = await RpcClient.connect(server.endpoint, Orders);
    await expect(client.call("echo", { text: "v6" })).resolves.toEqual({ text: "v6" });
  });
});
