import { describe, expect, test } from "vitest";
import { killAll, startProgram, type Program } from "../helpers/programs.js";
import type { SpanLine } from "./roles/otel-process.js";

function spansOf(program: Program): SpanLine[] {
  return program.lines.filter((l) => l.startsWith("SPAN ")).map((l) => JSON.parse(l.slice(5)) as SpanLine);
}

describe("OpenTelemetry across processes", () => {
  test("one trace spans the client process, the broker and the server process", async () => {
    const programs: Program[] = [];
    try {
      const broker = startProgram("broker", "test/trace/roles/broker.ts", {});
      programs.push(broker);
      const [, frontend, backend] = await broker.waitForLine(/^READY (\S+) (\S+)$/);
      const server = startProgram("server", "test/trace/roles/server.ts", { BACKEND: backend! });
      programs.push(server);
      await server.waitForLine(/^READY$/);
      // The client waits for a worker within its timeout, so it need not wait for the server's registration.
      const client = startProgram("client", "test/trace/roles/client.ts", { FRONTEND: frontend! });
      programs.push(client);
      await client.waitForLine(/^REPLY Hello, Ada \(trace 00-[0-9a-f]{32}-[0-9a-f]{16}-01\)$/);
      expect(await client.exited).toBe(0);
      expect(await server.stop()).toBe(0);
      expect(await broker.stop()).toBe(0);

      const [clientSpan, ...moreClient] = spansOf(client);
      const [brokerSpan, ...moreBroker] = spansOf(broker);
      const [serverSpan, ...moreServer] = spansOf(server);
      expect([moreClient, moreBroker, moreServer]).toEqual([[], [], []]);
      expect(clientSpan).toMatchObject({ kind: "CLIENT", name: "greeter.v1/hello" });
      expect(clientSpan!.parentSpanId).toBeUndefined();
      expect(brokerSpan).toMatchObject({ kind: "SERVER", attributes: { "rpc.service": "greeter.v1", "rpc.method": "hello" } });
      expect(serverSpan).toMatchObject({ kind: "SERVER", name: "greeter.v1/hello", attributes: { "server.address": backend } });
      // One trace, and the parent chain client → broker → server, each parent remote.
      expect(new Set([clientSpan!.traceId, brokerSpan!.traceId, serverSpan!.traceId]).size).toBe(1);
      expect(brokerSpan!.parentSpanId).toBe(clientSpan!.spanId);
      expect(brokerSpan!.parentIsRemote).toBe(true);
      expect(serverSpan!.parentSpanId).toBe(brokerSpan!.spanId);
      expect(serverSpan!.parentIsRemote).toBe(true);
      // The handler saw the broker's span as its caller.
      expect(client.lines.join("\n")).toContain(`trace 00-${serverSpan!.traceId}-${brokerSpan!.spanId}-01`);
      console.log(
        `trace ${clientSpan!.traceId}: client ${clientSpan!.spanId} → broker ${brokerSpan!.spanId} → server ${serverSpan!.spanId}`,
      );
    } finally {
      await killAll(programs);
    }
  }, 60_000);
});
