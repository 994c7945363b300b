import { SpanKind } from "@opentelemetry/api";
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcBroker, RpcClient, RpcServer, type RpcBrokerEvent, type RpcHandlers } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { memoryTracing, parentIdOf } from "../helpers/otel.js";
import { openTelemetry } from "../../src/opentelemetry.js";
import { deferred, within } from "../helpers/deferred.js";
import { missingPython, withPeers, type Peer } from "./python.js";

// Majordomo (rfc.zeromq.org 7/MDP, 8/MMI) between typed-zmq and independent MDP peers: a REQ client, a worker and
// a minimal broker written in Python (./peers/mdp_*.py) from the RFCs alone, each its own process, over tcp on
// 127.0.0.1 with ephemeral ports. Heartbeats are short (250 ms, liveness 3) so that eviction and recovery happen
// within a second or two; every wait is for an event, with a bound. Skipped without pyzmq, like python.test.ts,
// unless REQUIRE_INTEROP=1.

const skip = missingPython !== undefined && process.env["REQUIRE_INTEROP"] !== "1";
const why = missingPython === undefined ? "" : ` [skipped: ${missingPython}]`;

const HEARTBEAT_MS = 250;
const LIVENESS = 3;
const SILENT_MS = HEARTBEAT_MS * LIVENESS;
const SERVICE = Orders.name;

const handlers: RpcHandlers<typeof Orders> = {
  echo: (request) => request,
  getOrder: ({ id }) => ({ id, total: id * 2 }),
  wait: (request) => request,
  whoami: () => ({ server: "typed" }),
};

/** One request of mdp_client.py: a service and its body frames (text, or `{ hex }` for any bytes). */
type Frame = string | { readonly hex: string };
/** What mdp_client.py saw for one request. */
interface ClientReply {
  readonly service: string;
  readonly body?: string[];
  readonly hex?: string[];
  readonly timeout?: boolean;
  readonly ms: number;
}

/** The events mdp_broker.py prints. */
interface BrokerReady {
  readonly worker: string;
  readonly service: string;
  readonly extra: string[];
}
interface BrokerHeartbeat {
  readonly worker: string;
  readonly count: number;
  readonly extra: string[];
}
interface BrokerEndpoints {
  readonly frontend: string;
  readonly backend: string;
}

const hb = ["--heartbeat-ms", HEARTBEAT_MS, "--liveness", LIVENESS] as const;

/** Runs mdp_client.py against `endpoint` and returns its replies, in request order. */
async function ask(
  start: (script: string, args: readonly (string | number)[]) => Peer,
  endpoint: string,
  requests: ReadonlyArray<readonly [string, ...Frame[]]>,
  timeoutMs = 3_000,
): Promise<ClientReply[]> {
  const client = start("mdp_client", [endpoint, JSON.stringify(requests), "--timeout-ms", timeoutMs]);
  const replies = await client.waitFor<ClientReply[]>("replies", requests.length * (timeoutMs + 500) + 2_000);
  expect(await client.program.exited).toBe(0);
  return replies;
}

/** An RPC body as a Python client sends it: [method, JSON body(, JSON headers)]. */
function rpc(method: string, body: unknown, headers?: Record<string, unknown>): Frame[] {
  return headers === undefined ? [method, JSON.stringify(body)] : [method, JSON.stringify(body), JSON.stringify(headers)];
}

/** A reply body [status, body(, headers)] as the Python client printed it, JSON decoded. */
function decoded(reply: ClientReply | undefined): unknown[] {
  expect(reply?.timeout, `the request for ${reply?.service} timed out`).toBeUndefined();
  return (reply?.body ?? []).map((frame, i) => (i === 0 ? frame : (JSON.parse(frame) as unknown)));
}

/** An MDP/Worker command as a DEALER sends it: ["", "MDPW01", command, ...frames]. */
function command(code: number, ...frames: string[]): Buffer[] {
  return [Buffer.alloc(0), Buffer.from("MDPW01"), Buffer.from([code]), ...frames.map((f) => Buffer.from(f))];
}

/** `bytes` with its bytes in reverse order, as hex: what mdp_worker.py's reverse mode answers. */
function reversedHex(bytes: Buffer): string {
  return Buffer.from(bytes).reverse().toString("hex");
}

/** A few opaque frames that are not typed-zmq RPC: text, binary with zeros, an empty frame, 20 KB of noise. */
function opaqueFrames(): Buffer[] {
  const noise = Buffer.alloc(20_000);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) & 0xff;
  return [Buffer.from("plain text"), Buffer.from([0, 255, 1, 254, 0]), Buffer.alloc(0), noise];
}

describe.skipIf(skip)(`MDP 0.1 with Python peers written from the RFC${why}`, () => {
  // The three peers among themselves: shows the peers follow the RFC the same way before they judge typed-zmq.
  describe("the Python peers among themselves", () => {
    test("client, worker and broker: opaque bodies, MMI, eviction of a muted worker and DISCONNECT", async () => {
      await withPeers(async (start) => {
        const broker = start("mdp_broker", [...hb, "--service-wait-ms", 300]);
        const { frontend, backend } = await broker.waitFor<BrokerEndpoints>("endpoints");
        const worker = start("mdp_worker", [backend, "echo.v1", "reverse", ...hb]);
        const first = await broker.waitUntil<BrokerReady>("ready", (r) => r.service === "echo.v1");
        const frames = opaqueFrames();
        const replies = await ask(start, frontend, [
          ["echo.v1", ...frames.map((f) => ({ hex: f.toString("hex") }))],
          ["mmi.service", "echo.v1"],
          ["mmi.service", "nobody.v1"],
          ["mmi.nothing", "x"],
        ]);
        expect(replies[0]?.hex).toEqual(frames.map(reversedHex));
        expect(replies.slice(1).map((r) => r.body)).toEqual([["200"], ["404"], ["501"]]);

        broker.tell({ mute: first.worker });
        await broker.waitUntil<{ worker: string }>("evicted", (e) => e.worker === first.worker, SILENT_MS + 2_000);
        const second = await broker.waitUntil<BrokerReady>("ready", (r) => r.worker !== first.worker, 3_000);
        await worker.waitUntil<{ silentMs: number }>("lost", () => true);

        broker.tell({ disconnect: second.worker });
        await worker.waitFor("disconnected");
        await broker.waitUntil<BrokerReady>("ready", (r) => ![first.worker, second.worker].includes(r.worker), 3_000);
        const again = await ask(start, frontend, [["echo.v1", "abc"]]);
        expect(again[0]?.body).toEqual(["cba"]);
      });
    });
    test("the Python broker answers protocol errors with DISCONNECT, as RFC 7 says", async () => {
      await withPeers(async (start) => {
        const broker = start("mdp_broker", hb);
        const { backend } = await broker.waitFor<BrokerEndpoints>("endpoints");
        const cases: Array<[string, Buffer[][]]> = [
          ["a heartbeat before READY", [command(0x04)]],
          ["READY for mmi.*", [command(0x01, "mmi.mine")]],
          ["a second READY", [command(0x01, "echo.v1"), command(0x01, "echo.v1")]],
        ];
        for (const [what, commands] of cases) {
          const dealer = new zmq.Dealer({ linger: 0 });
          try {
            dealer.connect(backend);
            for (const frames of commands) await dealer.send(frames);
            const [reply] = await within(
              dealer.receive().then((f) => [f]),
              3_000,
              `DISCONNECT after ${what}`,
            );
            expect(reply, what).toEqual(command(0x05));
          } finally {
            dealer.close();
          }
        }
        // Its stdout may lag behind the socket: wait for the last reason, then look at all three.
        await broker.waitUntil<{ reason: string }>("disconnect", (d) => d.reason === "a second READY");
        expect(broker.printed<{ reason: string }>("disconnect").map((d) => d.reason)).toEqual([
          "HEARTBEAT from a worker that sent no READY",
          "READY for mmi.mine: the mmi. namespace belongs to the broker",
          "a second READY",
        ]);
      });
    });
  });

  describe("through typed-zmq's RpcBroker", () => {
    async function bindBroker(serviceWaitMs = 5_000, onEvent?: (event: RpcBrokerEvent) => void): Promise<RpcBroker> {
      return RpcBroker.bind(
        { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
        {
          heartbeatMs: HEARTBEAT_MS,
          liveness: LIVENESS,
          serviceWaitMs,
          drainTimeoutMs: 500,
          ...(onEvent === undefined ? {} : { onEvent }),
        },
      );
    }

    test("a plain REQ client gets replies from a typed worker", async () => {
      await using broker = await bindBroker();
      await using _server = await typedWorker(broker.backend);
      await broker.waitForServers(1, { service: SERVICE, timeoutMs: 3_000 });
      await withPeers(async (start) => {
        const replies = await ask(start, broker.frontend, [
          [SERVICE, ...rpc("getOrder", { id: 21 })],
          [SERVICE, ...rpc("echo", { text: "héllo" }, { correlationId: "py-1" })],
          [SERVICE, ...rpc("getOrder", { id: -1 }, { correlationId: "py-2" })],
          [SERVICE, ...rpc("cancelOrder", { id: 1 })],
        ]);
        expect(decoded(replies[0])).toEqual(["ok", { id: 21, total: 42 }]);
        // A request that carries a correlationId gets it back in the reply's headers frame.
        expect(decoded(replies[1])).toEqual(["ok", { text: "héllo" }, expect.objectContaining({ correlationId: "py-1" })]);
        expect(decoded(replies[2])).toEqual([
          "error",
          expect.objectContaining({ code: "INVALID_REQUEST" }),
          expect.objectContaining({ correlationId: "py-2" }),
        ]);
        expect(decoded(replies[3]).slice(0, 2)).toEqual(["error", expect.objectContaining({ code: "UNKNOWN_METHOD" })]);
      });
    });

    test("old peers keep working: a v1 Python RPC client (no MDPC01 frame) reaches the only service through the broker", async () => {
      await using broker = await bindBroker();
      await using _server = await typedWorker(broker.backend);
      await broker.waitForServers(1, { service: SERVICE, timeoutMs: 3_000 });
      await withPeers(async (start) => {
        // rpc_client.py speaks the plain RPC protocol of docs/protocol.md, as a 1.0 peer does: REQ one at a time, and a
        // DEALER with a correlation frame and every call in flight at once.
        for (const mode of ["req", "dealer-inflight"]) {
          const calls = [0, 1, 2].map((id) => ["getOrder", JSON.stringify({ id })]);
          const client = start("rpc_client", [mode, broker.frontend, JSON.stringify(calls)]);
          const replies = await client.waitFor<string[][]>("replies");
          expect(
            replies.map((r) => [r[0], JSON.parse(r[1] ?? "null") as unknown]),
            mode,
          ).toEqual([0, 1, 2].map((id) => ["ok", { id, total: id * 2 }]));
        }
      });
    });

    test("a plain Python worker serves opaque bodies untouched, and heartbeats with the broker", async () => {
      const log = eventLog<RpcBrokerEvent>();
      await using broker = await bindBroker(5_000, log.onEvent);
      await withPeers(async (start) => {
        const worker = start("mdp_worker", [broker.backend, "echo.v1", "reverse", ...hb]);
        await broker.waitForServers(1, { service: "echo.v1", timeoutMs: 3_000 });
        const frames = opaqueFrames();
        const replies = await ask(start, broker.frontend, [
          ["echo.v1", ...frames.map((f) => ({ hex: f.toString("hex") }))],
          ["echo.v1", { hex: "00" }],
        ]);
        // Byte for byte: the broker neither parsed nor changed the body, either way.
        expect(replies[0]?.hex).toEqual(frames.map(reversedHex));
        expect(replies[1]?.hex).toEqual(["00"]);
        // The broker heartbeats the idle worker, and keeps it for longer than liveness x interval.
        await worker.waitUntil<{ count: number }>("heartbeat", (h) => h.count >= LIVENESS + 1, SILENT_MS * 4);
        expect(log.events.filter((e) => e.type === "worker:evicted")).toEqual([]);
        const later = await ask(start, broker.frontend, [["echo.v1", "still here"]]);
        expect(later[0]?.body).toEqual(["ereh llits"]);
        expect(worker.printed("ready")).toHaveLength(1);
      });
    });

    test("a silent Python worker (SIGSTOP) is evicted; after SIGCONT it is told DISCONNECT and registers again", async () => {
      const log = eventLog<RpcBrokerEvent>();
      await using broker = await bindBroker(5_000, log.onEvent);
      await withPeers(async (start) => {
        // The worker's own liveness is long, so that after SIGCONT it speaks before it would give up on the broker.
        const worker = start("mdp_worker", [
          broker.backend,
          "echo.v1",
          "reverse",
          "--heartbeat-ms",
          HEARTBEAT_MS,
          "--liveness",
          40,
        ]);
        await broker.waitForServers(1, { service: "echo.v1", timeoutMs: 3_000 });
        worker.program.child.kill("SIGSTOP");
        const stoppedAt = Date.now();
        const evicted = await log.next("worker:evicted", SILENT_MS + 2_000).finally(() => worker.program.child.kill("SIGCONT"));
        expect(Date.now() - stoppedAt).toBeLessThan(SILENT_MS + 1_000 + HEARTBEAT_MS);
        expect(evicted).toMatchObject({ service: "echo.v1" });
        // Its next HEARTBEAT comes from a worker the broker no longer knows: the RFC says DISCONNECT.
        await worker.waitFor("disconnected", 3_000);
        await worker.waitUntil<{ socket: number }>("ready", (r) => r.socket === 2, 3_000);
        await broker.waitForServers(1, { service: "echo.v1", timeoutMs: 3_000 });
        const replies = await ask(start, broker.frontend, [["echo.v1", "back"]]);
        expect(replies[0]?.body).toEqual(["kcab"]);
      });
    });

    test("a typed RpcClient calls a Python worker speaking typed-zmq RPC inside MDP, many calls in flight", async () => {
      await using broker = await bindBroker();
      await withPeers(async (start) => {
        start("mdp_worker", [broker.backend, SERVICE, "rpc", ...hb]);
        // A second service, so that only MDP addressing (not the v1 default service) can reach the first.
        start("mdp_worker", [broker.backend, "decoy.v1", "reverse", ...hb]);
        await broker.waitForServers(1, { service: SERVICE, timeoutMs: 3_000 });
        await broker.waitForServers(1, { service: "decoy.v1", timeoutMs: 3_000 });
        await using client = await RpcClient.connect(broker.frontend, Orders, { service: SERVICE, timeoutMs: 3_000 });
        const ids = Array.from({ length: 20 }, (_, i) => i + 1);
        const orders = await Promise.all(ids.map((id) => client.call("getOrder", { id })));
        expect(orders).toEqual(ids.map((id) => ({ id, total: id * 1.5 })));
        await expect(client.call("getOrder", { id: 404 })).rejects.toMatchObject({ code: "NOT_FOUND", details: { id: 404 } });
        expect(await client.call("echo", { text: "ünïcode" })).toEqual({ text: "ünïcode" });
      });
    });

    test("trace context: a Python worker gets the instrumented broker's traceparent, in the client's trace", async () => {
      const tracing = memoryTracing();
      try {
        const instrumentation = openTelemetry({ tracerProvider: tracing.provider });
        await using broker = await RpcBroker.bind(
          { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
          { heartbeatMs: HEARTBEAT_MS, liveness: LIVENESS, drainTimeoutMs: 500, instrumentation },
        );
        await withPeers(async (start) => {
          const worker = start("mdp_worker", [broker.backend, SERVICE, "rpc", ...hb]);
          await broker.waitForServers(1, { service: SERVICE, timeoutMs: 3_000 });
          await using client = await RpcClient.connect(broker.frontend, Orders, {
            service: SERVICE,
            timeoutMs: 3_000,
            instrumentation,
          });
          expect(await client.call("getOrder", { id: 2 })).toEqual({ id: 2, total: 3 });
          const seen = await worker.waitFor<{ traceparent: string; tracestate: string | null }>("trace");
          const spans = await tracing.waitForSpans(2);
          const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT)!;
          const brokerSpan = spans.find((s) => s.kind === SpanKind.SERVER)!;
          expect(parentIdOf(brokerSpan)).toBe(clientSpan.spanContext().spanId);
          expect(seen.traceparent).toBe(`00-${clientSpan.spanContext().traceId}-${brokerSpan.spanContext().spanId}-01`);
        });
      } finally {
        await tracing.shutdown();
      }
    });

    test("MMI: mmi.service answers 200 and 404, an unknown mmi.* service 501", async () => {
      await using broker = await bindBroker();
      await using _server = await typedWorker(broker.backend);
      await withPeers(async (start) => {
        start("mdp_worker", [broker.backend, "echo.v1", "reverse", ...hb]);
        await broker.waitForServers(1, { service: SERVICE, timeoutMs: 3_000 });
        await broker.waitForServers(1, { service: "echo.v1", timeoutMs: 3_000 });
        const replies = await ask(start, broker.frontend, [
          ["mmi.service", SERVICE],
          ["mmi.service", "echo.v1"],
          ["mmi.service", "nobody.v1"],
          ["mmi.nothing", "x"],
          ["mmi.services", ""],
        ]);
        expect(replies.slice(0, 4).map((r) => [r.service, r.body])).toEqual([
          ["mmi.service", ["200"]],
          ["mmi.service", ["200"]],
          ["mmi.service", ["404"]],
          ["mmi.nothing", ["501"]],
        ]);
        // typed-zmq's discovery extension: one JSON frame listing every service with its workers.
        const listing = JSON.parse(replies[4]?.body?.[0] ?? "null") as {
          services: Array<{ service: string; workers: unknown[] }>;
        };
        expect(listing.services.map((s) => s.service).sort()).toEqual(["echo.v1", SERVICE].sort());
        expect(listing.services.every((s) => s.workers.length === 1)).toBe(true);
      });
    });

    test("a request for an unserved service gets SERVICE_UNAVAILABLE after serviceWaitMs, never a hang", async () => {
      const serviceWaitMs = 400;
      await using broker = await bindBroker(serviceWaitMs);
      await withPeers(async (start) => {
        const replies = await ask(
          start,
          broker.frontend,
          [
            ["nobody.v1", ...rpc("getOrder", { id: 1 }, { correlationId: "py-9" })],
            ["nobody.v1", "an opaque body"],
          ],
          3_000,
        );
        const [typedish, opaque] = replies;
        expect(decoded(typedish)).toEqual([
          "error",
          expect.objectContaining({ code: "SERVICE_UNAVAILABLE", details: expect.objectContaining({ service: "nobody.v1" }) }),
          { correlationId: "py-9" },
        ]);
        expect(typedish?.ms).toBeGreaterThanOrEqual(serviceWaitMs - 50);
        expect(typedish?.ms).toBeLessThan(serviceWaitMs + 1_000);
        // An opaque request (no headers frame) gets the same error, without headers, in the same time.
        expect(decoded(opaque)).toEqual(["error", expect.objectContaining({ code: "SERVICE_UNAVAILABLE" })]);
        expect(opaque?.ms).toBeLessThan(serviceWaitMs + 1_000);
      });
      await using client = await RpcClient.connect(broker.frontend, Orders, { service: "nobody.v1", timeoutMs: 3_000 });
      const started = Date.now();
      await expect(client.call("getOrder", { id: 1 })).rejects.toMatchObject({
        code: "SERVICE_UNAVAILABLE",
        details: expect.objectContaining({ service: "nobody.v1" }),
      });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(serviceWaitMs - 50);
      expect(elapsed).toBeLessThan(serviceWaitMs + 1_000);
    });
  });

  describe("a typed worker through the minimal Python broker", () => {
    test("serves a Python REQ client and a typed RpcClient, and heartbeats back", async () => {
      await withPeers(async (start) => {
        await using setup = await typedWorkerBehindPythonBroker(start);
        const { broker, frontend, ready } = setup;
        // An idle typed worker heartbeats at the agreed interval: a few in a little more than liveness x interval.
        await broker.waitUntil<BrokerHeartbeat>(
          "heartbeat",
          (h) => h.worker === ready.worker && h.count >= LIVENESS,
          SILENT_MS * 4,
        );
        expect(broker.printed("evicted")).toEqual([]);
        expect(broker.printed("disconnect")).toEqual([]);

        const replies = await ask(start, frontend, [
          [SERVICE, ...rpc("getOrder", { id: 5 })],
          [SERVICE, ...rpc("echo", { text: "via python" }, { correlationId: "py-3" })],
        ]);
        expect(decoded(replies[0])).toEqual(["ok", { id: 5, total: 10 }]);
        expect(decoded(replies[1])).toEqual(["ok", { text: "via python" }, expect.objectContaining({ correlationId: "py-3" })]);

        await using client = await RpcClient.connect(frontend, Orders, { service: SERVICE, timeoutMs: 3_000 });
        const ids = Array.from({ length: 10 }, (_, i) => i);
        // The Python broker gives a worker one request at a time; the client's calls still all come back.
        expect(await Promise.all(ids.map((id) => client.call("getOrder", { id })))).toEqual(
          ids.map((id) => ({ id, total: id * 2 })),
        );
        // A strict broker never sees a second READY from the same socket.
        expect(broker.printed<BrokerReady>("ready").filter((r) => r.worker === ready.worker)).toHaveLength(1);
        expect(broker.printed("disconnect")).toEqual([]);
      });
    });

    test("re-registers with a new READY when the broker evicts it as silent, and when it sends DISCONNECT", async () => {
      await withPeers(async (start) => {
        await using setup = await typedWorkerBehindPythonBroker(start);
        const { broker, frontend, ready: first } = setup;
        const getOrder = async (id: number): Promise<unknown[]> =>
          decoded((await ask(start, frontend, [[SERVICE, ...rpc("getOrder", { id })]]))[0]);
        expect(await getOrder(1)).toEqual(["ok", { id: 1, total: 2 }]);

        // Cut the worker-to-broker path: the broker drops all it sends, evicts it and stops talking to it. The typed
        // worker hears nothing for liveness x interval and opens a new socket with a new READY.
        broker.tell({ mute: first.worker });
        await broker.waitUntil<{ worker: string }>("evicted", (e) => e.worker === first.worker, SILENT_MS + 2_000);
        const second = await broker.waitUntil<BrokerReady>(
          "ready",
          (r) => r.service === SERVICE && r.worker !== first.worker,
          SILENT_MS + 6_000,
        );
        expect(await getOrder(2)).toEqual(["ok", { id: 2, total: 4 }]);

        // DISCONNECT from the broker: the worker closes that socket and registers again on a new one.
        broker.tell({ disconnect: second.worker });
        const third = await broker.waitUntil<BrokerReady>(
          "ready",
          (r) => r.service === SERVICE && r.worker !== first.worker && r.worker !== second.worker,
          6_000,
        );
        expect(await getOrder(3)).toEqual(["ok", { id: 3, total: 6 }]);
        // After the DISCONNECT the old socket sent nothing more: no command from it was refused.
        expect(broker.printed<{ worker: string }>("disconnect").map((d) => d.worker)).toEqual([second.worker]);
        await broker.waitUntil<BrokerHeartbeat>("heartbeat", (h) => h.worker === third.worker, SILENT_MS * 4);
      });
    });

    test("a call the client aborts costs the worker nothing: its cancel notice is answered, so the broker frees it", async () => {
      await withPeers(async (start) => {
        const broker = start("mdp_broker", hb);
        const { frontend, backend } = await broker.waitFor<BrokerEndpoints>("endpoints");
        const started = deferred();
        // `wait` holds until its signal fires: here at its deadline, because a plain broker queues the cancel notice
        // behind the running request (one at a time per worker), so the notice reaches the worker only afterwards.
        const holding: RpcHandlers<typeof Orders> = {
          ...handlers,
          wait: ({ key }, { signal }) =>
            new Promise((resolve) => {
              started.resolve();
              signal.addEventListener("abort", () => resolve({ key }), { once: true });
            }),
        };
        await using server = await RpcServer.connect(backend, Orders, holding, {
          service: SERVICE,
          heartbeatMs: HEARTBEAT_MS,
          liveness: LIVENESS,
          concurrency: 1,
        });
        await broker.waitUntil<BrokerReady>("ready", (r) => r.service === SERVICE);
        await using client = await RpcClient.connect(frontend, Orders, { service: SERVICE, timeoutMs: 3_000 });
        const abort = new AbortController();
        const held = client.call("wait", { key: "k" }, { signal: abort.signal, timeoutMs: 800 });
        await within(started.promise, 3_000, "the held call to start");
        abort.abort();
        await expect(held).rejects.toMatchObject({ code: "ABORTED" });
        // Without an answer to the notice, the broker would hold this worker for ever and these would time out.
        for (const id of [1, 2, 3]) expect(await client.call("getOrder", { id })).toEqual({ id, total: id * 2 });
        expect(server.stats.failed).toEqual({});
      });
    });

    test("strictMdp: READY carries only the service; close() says DISCONNECT", async () => {
      await withPeers(async (start) => {
        await using setup = await typedWorkerBehindPythonBroker(start, { strictMdp: true });
        const { broker, server, ready } = setup;
        expect(ready.extra).toEqual([]);
        const started = Date.now();
        await server.close();
        expect(Date.now() - started).toBeLessThan(2_500);
        await broker.waitUntil<{ worker: string }>("gone", (g) => g.worker === ready.worker, 2_000);
        // No extension frame ever: every heartbeat was the RFC's three frames.
        const mine = broker.printed<BrokerHeartbeat>("heartbeat").filter((h) => h.worker === ready.worker);
        expect(mine.filter((h) => h.extra.length > 0)).toEqual([]);
      });
    });

    test("close() against a broker that never acknowledges the departure is bounded, then says DISCONNECT", async () => {
      await withPeers(async (start) => {
        await using setup = await typedWorkerBehindPythonBroker(start);
        const { broker, server, ready } = setup;
        // The capacity extension: a plain MDP broker ignores the extra READY frame.
        expect(ready.extra).toEqual([expect.stringMatching(/^[1-9]\d*$/)]);
        const started = Date.now();
        await server.close();
        // The worker waits at most a second for an acknowledgement this broker never sends.
        expect(Date.now() - started).toBeLessThan(2_500);
        await broker.waitUntil<{ worker: string }>("gone", (g) => g.worker === ready.worker, 2_000);
        const leaving = broker
          .printed<BrokerHeartbeat>("heartbeat")
          .filter((h) => h.worker === ready.worker && h.extra.length > 0);
        expect(leaving.map((h) => h.extra)).toEqual([["leaving"]]);
      });
    });
  });
});

/** A typed server in worker mode for SERVICE at `backend`, with the test's short heartbeats. */
function typedWorker(backend: string, options: { readonly strictMdp?: boolean } = {}): Promise<RpcServer<typeof Orders>> {
  return RpcServer.connect(backend, Orders, handlers, {
    service: SERVICE,
    heartbeatMs: HEARTBEAT_MS,
    liveness: LIVENESS,
    ...options,
  });
}

/**
 * Starts mdp_broker.py and a typed worker (`RpcServer.connect` in worker mode) for SERVICE on its backend, and waits
 * for the broker to see its READY. Disposing it closes the server.
 */
async function typedWorkerBehindPythonBroker(
  start: (script: string, args: readonly (string | number)[]) => Peer,
  options: { readonly strictMdp?: boolean } = {},
): Promise<BrokerEndpoints & { broker: Peer; server: RpcServer<typeof Orders>; ready: BrokerReady } & AsyncDisposable> {
  const broker = start("mdp_broker", hb);
  const endpoints = await broker.waitFor<BrokerEndpoints>("endpoints");
  const server = await typedWorker(endpoints.backend, options);
  try {
    const ready = await broker.waitUntil<BrokerReady>("ready", (r) => r.service === SERVICE);
    return { ...endpoints, broker, server, ready, [Symbol.asyncDispose]: () => server.close() };
  } catch (err) {
    await server.close();
    throw err;
  }
}

/** Records a broker's events (an `onEvent` hook) and lets a test wait for the first of a type, seen or to come. */
function eventLog<E extends { readonly type: string }>(): {
  readonly events: E[];
  readonly onEvent: (event: E) => void;
  next(type: string, timeoutMs: number): Promise<E>;
} {
  const events: E[] = [];
  const waiters: Array<{ type: string; resolve: (event: E) => void }> = [];
  return {
    events,
    onEvent(event) {
      events.push(event);
      for (const w of waiters.filter((w) => w.type === event.type)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    },
    next(type, timeoutMs) {
      const seen = events.find((e) => e.type === type);
      if (seen !== undefined) return Promise.resolve(seen);
      const d = deferred<E>();
      waiters.push({ type, resolve: (event) => d.resolve(event) });
      return within(d.promise, timeoutMs, `the broker event "${type}" (seen: ${events.map((e) => e.type).join(", ") || "none"})`);
    },
  };
}
