// RpcBroker as an MDP 0.1 broker, over real sockets: raw MDP clients (REQ, DEALER) and raw workers (DEALER) built
// from protocol/mdp.ts, so these tests see exactly the frames an independent MDP peer sees.
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcBroker, type RpcBrokerEvent } from "../../src/index.js";
import { deferred, within } from "../helpers/deferred.js";
import { TRANSPORTS, endpointFor, type TestTransport } from "../helpers/endpoints.js";
import { RawWorker, clientRequest, rpcReply } from "../helpers/mdp-peers.js";

const WAIT_MS = 3_000;
const text = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString("utf8"));
const ends = (transport: TestTransport): { frontend: string; backend: string } => ({
  frontend: endpointFor(transport),
  backend: endpointFor(transport),
});

function requestSocket(endpoint: string): zmq.Request {
  const req = new zmq.Request({ linger: 0, receiveTimeout: WAIT_MS, sendTimeout: WAIT_MS });
  req.connect(endpoint);
  return req;
}

/** Resolves with the first event of `type` (bounded). */
function firstEvent(): { onEvent: (e: RpcBrokerEvent) => void; next: (type: RpcBrokerEvent["type"]) => Promise<RpcBrokerEvent> } {
  const seen: RpcBrokerEvent[] = [];
  let waiters: Array<{ type: string; resolve: (e: RpcBrokerEvent) => void }> = [];
  return {
    onEvent: (e) => {
      seen.push(e);
      for (const w of waiters.filter((x) => x.type === e.type)) w.resolve(e);
      waiters = waiters.filter((x) => x.type !== e.type);
    },
    next: (type) => {
      const already = seen.find((e) => e.type === type);
      if (already !== undefined) return Promise.resolve(already);
      const d = deferred<RpcBrokerEvent>();
      waiters.push({ type, resolve: (e) => d.resolve(e) });
      return within(d.promise, WAIT_MS, `the broker event ${type}`);
    },
  };
}

describe.each(TRANSPORTS)("MDP broker over %s", (transport) => {
  test("a plain REQ client gets a plain worker's reply: [MDPC01, service, ...body] both ways, bodies untouched", async () => {
    await using broker = await RpcBroker.bind(ends(transport), { drainTimeoutMs: 100 });
    await using worker = await RawWorker.start(broker.backend, { service: "echo" }, (body) => ["echoed", ...body]);
    await broker.waitForServers(1, { service: "echo", timeoutMs: WAIT_MS });
    const req = requestSocket(broker.frontend);
    try {
      await req.send(["MDPC01", "echo", "a", Buffer.from([0, 1, 2])]);
      const reply = await req.receive();
      expect(text(reply.slice(0, 4))).toEqual(["MDPC01", "echo", "echoed", "a"]);
      expect([...reply[4]!]).toEqual([0, 1, 2]);
    } finally {
      req.close();
    }
    // The client-address frame the worker saw is the broker's 8-byte token, not the client's routing id.
    expect(worker.requests).toEqual([["a", "\u0000\u0001\u0002"]]);
    expect(broker.stats).toMatchObject({ forwarded: 1, returned: 1, workers: 1, inFlight: 0 });
  });
});

describe("MDP broker over tcp", () => {
  test("a DEALER client with 200 calls in flight, correlated by the correlationId header, over two workers", async () => {
    await using broker = await RpcBroker.bind(ends("tcp"), { drainTimeoutMs: 100 });
    const answer = (name: string) => rpcReply((_, body) => ({ ...(body as object), by: name }));
    await using a = await RawWorker.start(broker.backend, { service: "calc", name: "calc-a", capacity: 20 }, answer("a"));
    await using b = await RawWorker.start(broker.backend, { service: "calc", name: "calc-b", capacity: 20 }, answer("b"));
    await broker.waitForServers(2, { service: "calc", timeoutMs: WAIT_MS });
    const listed = broker.services().map((s) => ({ ...s, workers: [...s.workers].sort((x, y) => x.name.localeCompare(y.name)) }));
    expect(listed).toEqual([
      {
        service: "calc",
        workers: [
          { name: "calc-a", capacity: 20, inFlight: 0 },
          { name: "calc-b", capacity: 20, inFlight: 0 },
        ],
        queued: 0,
      },
    ]);
    const client = new zmq.Dealer({ linger: 0, receiveTimeout: WAIT_MS });
    try {
      client.connect(broker.frontend);
      const n = 200;
      for (let i = 0; i < n; i++) {
        await client.send(clientRequest("calc", ["add", JSON.stringify({ i }), JSON.stringify({ correlationId: `c${i}` })]));
      }
      const byCorrelation = new Map<string, { i: number; by: string }>();
      for (let k = 0; k < n; k++) {
        const [empty, mdpc, service, status, body, headers] = await client.receive();
        expect(text([empty!, mdpc!, service!, status!])).toEqual(["", "MDPC01", "calc", "ok"]);
        const { correlationId } = JSON.parse(String(headers)) as { correlationId: string };
        byCorrelation.set(correlationId, JSON.parse(String(body)) as { i: number; by: string });
      }
      expect(byCorrelation.size).toBe(n);
      for (const [id, value] of byCorrelation) expect(`c${value.i}`).toBe(id);
      const by = [...byCorrelation.values()].map((v) => v.by);
      expect(by.filter((x) => x === "a").length).toBeGreaterThan(0);
      expect(by.filter((x) => x === "b").length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
    expect(a.requests.length + b.requests.length).toBe(200);
    expect(broker.stats).toMatchObject({ forwarded: 200, returned: 200, inFlight: 0, dropped: 0 });
  });

  test("heartbeats both ways; a silent worker is evicted within heartbeatMs × liveness, idempotent work goes elsewhere", async () => {
    const log = firstEvent();
    const heartbeatMs = 100;
    await using broker = await RpcBroker.bind(ends("tcp"), {
      heartbeatMs,
      liveness: 3,
      drainTimeoutMs: 100,
      onEvent: log.onEvent,
    });
    // "stuck" takes requests and never answers, like a process stopped with SIGSTOP; it heartbeats until muted.
    await using stuck = await RawWorker.start(
      broker.backend,
      { service: "s", name: "stuck", capacity: 2, heartbeatMs },
      () => undefined,
    );
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    await stuck.waitFor("heartbeat", 2); // the broker heartbeats a worker it has nothing to send
    const client = new zmq.Dealer({ linger: 0, receiveTimeout: WAIT_MS });
    try {
      client.connect(broker.frontend);
      await client.send(clientRequest("s", ["get", "{}", JSON.stringify({ correlationId: "idem", idempotent: true })]));
      await client.send(clientRequest("s", ["put", "{}", JSON.stringify({ correlationId: "once" })]));
      await stuck.waitFor("request", 2);
      await using healthy = await RawWorker.start(
        broker.backend,
        { service: "s", name: "healthy", capacity: 2, heartbeatMs },
        rpcReply(() => ({ from: "healthy" })),
      );
      await broker.waitForServers(2, { timeoutMs: WAIT_MS });
      const mutedAt = Date.now();
      stuck.mute();
      const evicted = await log.next("worker:evicted");
      const after = Date.now() - mutedAt;
      expect(evicted).toMatchObject({ service: "s", worker: "stuck", redispatched: 1, lost: 1 });
      expect(after).toBeLessThan(heartbeatMs * 3 + 1_000);
      const replies = new Map<string, string[]>();
      for (let k = 0; k < 2; k++) {
        const frames = text(await client.receive());
        replies.set((JSON.parse(frames[5] ?? "{}") as { correlationId: string }).correlationId, frames.slice(3, 5));
      }
      expect(replies.get("idem")).toEqual(["ok", JSON.stringify({ from: "healthy" })]);
      expect(replies.get("once")?.[0]).toBe("error");
      expect(JSON.parse(replies.get("once")?.[1] ?? "{}")).toMatchObject({
        code: "UNAVAILABLE",
        message: expect.stringContaining('worker "stuck" of service "s" missed its heartbeats'),
      });
      expect(healthy.requests.map((r) => r[0])).toEqual(["get"]);
      // The evicted worker was told DISCONNECT (a live one reconnects with a new identity and READY).
      await stuck.waitFor("disconnect");
      expect(broker.stats).toMatchObject({ evicted: 1, redispatched: 1, workers: 1, inFlight: 0 });
    } finally {
      client.close();
    }
  });

  test("MMI: mmi.service 200 and 404, mmi.services JSON, other mmi.* 501", async () => {
    await using broker = await RpcBroker.bind(ends("tcp"), { drainTimeoutMs: 100 });
    await using worker = await RawWorker.start(broker.backend, { service: "echo", name: "echo-1", capacity: 4 }, (b) => b);
    await broker.waitForServers(1, { timeoutMs: WAIT_MS });
    const req = requestSocket(broker.frontend);
    try {
      const ask = async (service: string, body: string): Promise<string[]> => {
        await req.send(["MDPC01", service, body]);
        return text(await req.receive());
      };
      expect(await ask("mmi.service", "echo")).toEqual(["MDPC01", "mmi.service", "200"]);
      expect(await ask("mmi.service", "nobody")).toEqual(["MDPC01", "mmi.service", "404"]);
      expect(await ask("mmi.unknown", "x")).toEqual(["MDPC01", "mmi.unknown", "501"]);
      const [, , json] = await ask("mmi.services", "");
      expect(JSON.parse(json ?? "")).toEqual({
        services: [{ service: "echo", workers: [{ name: "echo-1", capacity: 4, inFlight: 0 }], queued: 0 }],
      });
    } finally {
      req.close();
    }
    expect(worker.requests).toEqual([]);
  });

  test("a request for an unserved service gets SERVICE_UNAVAILABLE after serviceWaitMs, in time", async () => {
    await using broker = await RpcBroker.bind(ends("tcp"), { serviceWaitMs: 300, drainTimeoutMs: 100 });
    const req = requestSocket(broker.frontend);
    try {
      const started = Date.now();
      await req.send(["MDPC01", "nobody.v1", "hello", "{}", JSON.stringify({ correlationId: "x", remainingMs: 2_000 })]);
      const [mdpc, service, status, body, headers] = text(await req.receive());
      const took = Date.now() - started;
      expect([mdpc, service, status]).toEqual(["MDPC01", "nobody.v1", "error"]);
      expect(JSON.parse(body ?? "")).toMatchObject({
        code: "SERVICE_UNAVAILABLE",
        message: expect.stringContaining('no worker serves "nobody.v1"'),
        details: { service: "nobody.v1" },
      });
      expect(JSON.parse(headers ?? "")).toEqual({ correlationId: "x" });
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(1_500);
      // A deadline nearer than serviceWaitMs is honoured: the answer comes before it.
      const t = Date.now();
      await req.send(["MDPC01", "nobody.v1", "hello", "{}", JSON.stringify({ remainingMs: 250 })]);
      expect(text(await req.receive())[2]).toBe("error");
      expect(Date.now() - t).toBeLessThan(250);
    } finally {
      req.close();
    }
  });

  test("close() drains the request in flight and sends every worker DISCONNECT", async () => {
    const broker = await RpcBroker.bind(ends("tcp"), { drainTimeoutMs: 2_000 });
    const release = deferred();
    await using worker = await RawWorker.start(broker.backend, { service: "s", capacity: 1 }, async (body) => {
      await release.promise;
      return body;
    });
    try {
      await broker.waitForServers(1, { timeoutMs: WAIT_MS });
      const req = requestSocket(broker.frontend);
      try {
        await req.send(["MDPC01", "s", "last"]);
        await worker.waitFor("request");
        const closing = broker.close();
        release.resolve();
        expect(text(await req.receive())).toEqual(["MDPC01", "s", "last"]);
        await within(closing, WAIT_MS, "close() to finish");
      } finally {
        req.close();
      }
      await worker.waitFor("disconnect");
    } finally {
      await broker.close();
    }
  });
});
