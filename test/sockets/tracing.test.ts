import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import * as z from "zod";
import { ApplicationError, RpcClient, RpcServer, defineRpc, setInstrumentation } from "../../src/index.js";
import { openTelemetry } from "../../src/opentelemetry.js";
import { memoryTracing, parentIdOf, type MemoryTracing } from "../helpers/otel.js";

const Calc = defineRpc("calc.v1", {
  add: { request: z.object({ a: z.number(), b: z.number() }), response: z.object({ sum: z.number() }) },
  twice: { request: z.object({ a: z.number() }), response: z.object({ sum: z.number() }) },
  fail: { request: z.object({}), response: z.object({}) },
});

let tracing: MemoryTracing;
beforeEach(() => {
  tracing = memoryTracing();
});
afterEach(async () => {
  setInstrumentation(undefined);
  await tracing.shutdown();
});

describe("RPC tracing, in one process", () => {
  test("a call makes a client span, the server a child server span; a call made inside a handler is its child", async () => {
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    // The handler of `twice` calls `add` on the same server through a client of its own.
    const inner: { client?: RpcClient<typeof Calc> } = {};
    await using server = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Calc,
      {
        add: ({ a, b }) => ({ sum: a + b }),
        twice: async ({ a }, context) => {
          expect(context.trace?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
          return inner.client!.call("add", { a, b: a });
        },
        fail: () => {
          throw new ApplicationError("NOPE", "refused on purpose");
        },
      },
      { instrumentation },
    );
    await using innerClient = await RpcClient.connect(server.endpoint, Calc, { instrumentation });
    inner.client = innerClient;
    await using client = await RpcClient.connect(server.endpoint, Calc, { instrumentation, timeoutMs: 2_000 });

    await expect(client.call("twice", { a: 4 })).resolves.toEqual({ sum: 8 });
    const spans = await tracing.waitForSpans(4);
    const byKind = (kind: SpanKind, method: string) =>
      spans.filter((s) => s.kind === kind && s.attributes["rpc.method"] === method);
    const [outer] = byKind(SpanKind.CLIENT, "twice");
    const [serverTwice] = byKind(SpanKind.SERVER, "twice");
    const [innerCall] = byKind(SpanKind.CLIENT, "add");
    const [serverAdd] = byKind(SpanKind.SERVER, "add");
    expect(outer && serverTwice && innerCall && serverAdd).toBeTruthy();
    const traceId = outer!.spanContext().traceId;
    for (const s of [serverTwice!, innerCall!, serverAdd!]) expect(s.spanContext().traceId).toBe(traceId);
    expect(parentIdOf(outer!)).toBeUndefined();
    expect(parentIdOf(serverTwice!)).toBe(outer!.spanContext().spanId);
    expect(serverTwice!.parentSpanContext?.isRemote).toBe(true);
    expect(parentIdOf(innerCall!)).toBe(serverTwice!.spanContext().spanId);
    expect(parentIdOf(serverAdd!)).toBe(innerCall!.spanContext().spanId);
    expect(outer!.name).toBe("calc.v1/twice");
    expect(outer!.attributes).toMatchObject({
      "rpc.system": "typed-zmq",
      "rpc.service": "calc.v1",
      "rpc.method": "twice",
      "server.address": server.endpoint,
    });
    expect(serverTwice!.attributes["server.address"]).toBe(server.endpoint);
    expect(outer!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  test("a failed call ends both spans with status ERROR and the error code", async () => {
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    await using server = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Calc,
      {
        add: ({ a, b }) => ({ sum: a + b }),
        twice: ({ a }) => ({ sum: 2 * a }),
        fail: () => {
          throw new ApplicationError("NOPE", "refused on purpose");
        },
      },
      { instrumentation },
    );
    await using client = await RpcClient.connect(server.endpoint, Calc, { instrumentation, timeoutMs: 2_000 });
    await expect(client.call("fail", {})).rejects.toMatchObject({ code: "NOPE" });
    const spans = await tracing.waitForSpans(2);
    for (const s of spans) {
      expect(s.status.code, s.name).toBe(SpanStatusCode.ERROR);
      expect(s.attributes["error.type"], s.name).toBe("NOPE");
    }
  });

  test("setInstrumentation() is the default; `instrumentation: null` turns it off for one socket", async () => {
    setInstrumentation(openTelemetry({ tracerProvider: tracing.provider }));
    let seen: string | undefined = "unset";
    await using server = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Calc,
      {
        add: ({ a, b }, context) => {
          seen = context.trace?.traceparent;
          return { sum: a + b };
        },
        twice: ({ a }) => ({ sum: 2 * a }),
        fail: () => ({}),
      },
      { instrumentation: null },
    );
    await using client = await RpcClient.connect(server.endpoint, Calc, { timeoutMs: 2_000 });
    await client.call("add", { a: 1, b: 2 });
    const [span] = await tracing.waitForSpans(1);
    expect(span!.kind).toBe(SpanKind.CLIENT);
    // The server has no tracer but still sees the caller's context, which names the client span.
    expect(seen).toBe(`00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`);
    expect(tracing.spans()).toHaveLength(1);
  });

  test("no instrumentation: no trace context is sent", async () => {
    let seen: unknown = "unset";
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Calc, {
      add: ({ a, b }, context) => {
        seen = context.trace;
        return { sum: a + b };
      },
      twice: ({ a }) => ({ sum: 2 * a }),
      fail: () => ({}),
    });
    await using client = await RpcClient.connect(server.endpoint, Calc, { timeoutMs: 2_000 });
    // Even with a span active in the caller, nothing is injected when the client has no instrumentation.
    const tracer = tracing.provider.getTracer("test");
    await tracer.startActiveSpan("outer", async (outer) => {
      await client.call("add", { a: 1, b: 2 });
      outer.end();
    });
    expect(seen).toBeUndefined();
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  test("`headers: false` sends no trace context, but still records the client span", async () => {
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    let seen: unknown = "unset";
    await using server = await RpcServer.bind("tcp://127.0.0.1:0", Calc, {
      add: ({ a, b }, context) => {
        seen = context.trace;
        return { sum: a + b };
      },
      twice: ({ a }) => ({ sum: 2 * a }),
      fail: () => ({}),
    });
    await using client = await RpcClient.connect(server.endpoint, Calc, { instrumentation, headers: false, timeoutMs: 2_000 });
    await client.call("add", { a: 1, b: 2 });
    expect(seen).toBeUndefined();
    expect((await tracing.waitForSpans(1))[0]!.kind).toBe(SpanKind.CLIENT);
  });

  test("a bad `instrumentation` option is refused with a TypeError naming it", async () => {
    await expect(RpcClient.connect("tcp://127.0.0.1:1", Calc, { instrumentation: {} as never })).rejects.toThrow(
      /`instrumentation` must be an Instrumentation/,
    );
  });
});

describe("the README's tracing example", () => {
  test("examples/tracing.ts records a client and a server span in one trace", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const { main } = await import("../../examples/tracing.js");
      const lines = await main({ signal: AbortSignal.timeout(3_000) });
      expect(lines).toHaveLength(2);
      const [server, client] = lines.map((l) => l.split(" "));
      expect([server![1], client![1]]).toEqual(["SERVER", "CLIENT"]);
      expect(server![2]).toMatch(/^[0-9a-f]{32}$/);
      expect(server![2]).toBe(client![2]);
    } finally {
      log.mockRestore();
    }
  });
});

describe("setInstrumentation", () => {
  test("refuses what is not an Instrumentation, with a message that says what to pass", () => {
    expect(() => setInstrumentation({} as never)).toThrow(/must be an Instrumentation/);
  });
});
