import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import * as z from "zod";
import {
  Publisher,
  RpcBroker,
  RpcClient,
  RpcServer,
  Subscriber,
  defineRpc,
  defineTopics,
  type Instrumentation,
} from "../../src/index.js";
import { openTelemetry } from "../../src/opentelemetry.js";
import { memoryTracing, parentIdOf, type MemoryTracing } from "../helpers/otel.js";

const Echo = defineRpc("echo.v1", {
  echo: { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
});
const Prices = defineTopics("prices.v1", { price: z.object({ value: z.number() }) });
const TCP = { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" };
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

let tracing: MemoryTracing;
beforeEach(() => {
  tracing = memoryTracing();
});
afterEach(async () => {
  await tracing.shutdown();
});

describe("tracing through RpcBroker", () => {
  test("client span → broker span → worker's server span, one trace", async () => {
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    await using broker = await RpcBroker.bind(TCP, { instrumentation });
    await using _worker = await RpcServer.connect(broker.backend, Echo, { echo: ({ text }) => ({ text }) }, { instrumentation });
    await broker.waitForServers(1, { timeoutMs: 3_000 });
    await using client = await RpcClient.connect(broker.frontend, Echo, {
      service: "echo.v1",
      instrumentation,
      timeoutMs: 3_000,
    });
    await expect(client.call("echo", { text: "hi" })).resolves.toEqual({ text: "hi" });
    const spans = await tracing.waitForSpans(3);
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT)!;
    const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
    const brokerSpan = servers.find((s) => s.attributes["server.address"] === undefined)!;
    const workerSpan = servers.find((s) => s.attributes["server.address"] === broker.backend)!;
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(parentIdOf(brokerSpan)).toBe(clientSpan.spanContext().spanId);
    expect(parentIdOf(workerSpan)).toBe(brokerSpan.spanContext().spanId);
    expect(brokerSpan.attributes).toMatchObject({ "rpc.service": "echo.v1", "rpc.method": "echo" });
  });

  test("without instrumentation the broker forwards the headers unchanged", async () => {
    let seen: string | undefined;
    await using broker = await RpcBroker.bind(TCP);
    await using _worker = await RpcServer.connect(broker.backend, Echo, {
      echo: ({ text }, context) => {
        seen = context.trace?.traceparent;
        return { text };
      },
    });
    await broker.waitForServers(1, { timeoutMs: 3_000 });
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    await using client = await RpcClient.connect(broker.frontend, Echo, {
      service: "echo.v1",
      instrumentation,
      timeoutMs: 3_000,
    });
    await client.call("echo", { text: "hi" });
    const [clientSpan] = await tracing.waitForSpans(1);
    expect(seen).toBe(`00-${clientSpan!.spanContext().traceId}-${clientSpan!.spanContext().spanId}-01`);
  });

  test("a broker whose tracer gives no tracestate passes the caller's on, with its own traceparent", async () => {
    // Two hand-written tracers (no OpenTelemetry): the client's sends vendor state, the broker's sends none.
    const tracer = (traceparent: string, tracestate?: string): Instrumentation => ({
      startSpan: () => ({
        context: () => (tracestate === undefined ? { traceparent } : { traceparent, tracestate }),
        run: (fn) => fn(),
        end: () => undefined,
      }),
    });
    const brokerParent = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
    let seen: unknown;
    await using broker = await RpcBroker.bind(TCP, { instrumentation: tracer(brokerParent) });
    await using _worker = await RpcServer.connect(broker.backend, Echo, {
      echo: ({ text }, context) => {
        seen = context.trace;
        return { text };
      },
    });
    await broker.waitForServers(1, { timeoutMs: 3_000 });
    await using client = await RpcClient.connect(broker.frontend, Echo, {
      service: "echo.v1",
      instrumentation: tracer(TRACEPARENT, "vendor=abc"),
      timeoutMs: 3_000,
    });
    await client.call("echo", { text: "hi" });
    expect(seen).toEqual({ traceparent: brokerParent, tracestate: "vendor=abc" });
  });

  test("a request the broker answers itself ends its span with the error code", async () => {
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    await using broker = await RpcBroker.bind(TCP, { instrumentation, serviceWaitMs: 50 });
    await using client = await RpcClient.connect(broker.frontend, Echo, { service: "nobody", timeoutMs: 3_000 });
    await expect(client.call("echo", { text: "hi" })).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    const [span] = await tracing.waitForSpans(1);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["error.type"]).toBe("SERVICE_UNAVAILABLE");
  });
});

describe("pub-sub tracing", () => {
  test("a producer span per publish; the subscriber's consumer span is its child when headers are on", async () => {
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    await using pub = await Publisher.bind("tcp://127.0.0.1:0", Prices, { headers: true, instrumentation });
    await using sub = await Subscriber.connect(pub.endpoint, Prices, { topics: ["price"], instrumentation });
    await pub.waitForSubscribers(1, { timeoutMs: 3_000 });
    await pub.publish("price", { value: 1 });
    await expect(sub.receive({ timeoutMs: 3_000 })).resolves.toMatchObject({ data: { value: 1 } });
    const spans = await tracing.waitForSpans(2);
    const producer = spans.find((s) => s.kind === SpanKind.PRODUCER)!;
    const consumer = spans.find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(producer.name).toBe("publish price");
    expect(producer.attributes).toMatchObject({ "messaging.system": "typed-zmq", "messaging.destination.name": "price" });
    expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(parentIdOf(consumer)).toBe(producer.spanContext().spanId);
    expect(consumer.parentSpanContext?.isRemote).toBe(true);
  });

  test("without headers the consumer span has no remote parent", async () => {
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    await using pub = await Publisher.bind("tcp://127.0.0.1:0", Prices, { instrumentation });
    await using sub = await Subscriber.connect(pub.endpoint, Prices, { topics: ["price"], instrumentation });
    await pub.waitForSubscribers(1, { timeoutMs: 3_000 });
    await pub.publish("price", { value: 1 });
    await sub.receive({ timeoutMs: 3_000 });
    const spans = await tracing.waitForSpans(2);
    const consumer = spans.find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(parentIdOf(consumer)).toBeUndefined();
  });
});

describe("invalid trace context is ignored", () => {
  test("a server given a bad traceparent starts a new trace and its handler sees none", async () => {
    // A raw DEALER stands in for a foreign client with a broken traceparent (an all-zero trace-id).
    const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
    const seen: unknown[] = [];
    await using server = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Echo,
      {
        echo: ({ text }, context) => {
          seen.push(context.trace);
          return { text };
        },
      },
      { instrumentation },
    );
    const dealer = new zmq.Dealer({ linger: 0 });
    dealer.connect(server.endpoint);
    try {
      const bad = TRACEPARENT.replace(/-[0-9a-f]{32}-/, `-${"0".repeat(32)}-`);
      await dealer.send(["", "echo", JSON.stringify({ text: "a" }), JSON.stringify({ traceparent: bad })]);
      await dealer.receive();
      await dealer.send(["", "echo", JSON.stringify({ text: "b" }), JSON.stringify({ traceparent: TRACEPARENT })]);
      await dealer.receive();
    } finally {
      dealer.close();
    }
    expect(seen).toEqual([undefined, { traceparent: TRACEPARENT }]);
    const spans = await tracing.waitForSpans(2);
    expect(parentIdOf(spans[0]!)).toBeUndefined();
    expect(spans[1]!.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(parentIdOf(spans[1]!)).toBe("b7ad6b7169203331");
  });
});
