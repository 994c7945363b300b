// The MDP broker's pure core: no sockets, no timers, no clock. Each input returns the actions the broker must take;
// they are written as text here: frames joined with "|", worker commands by name, request tokens as #n, and the
// broker's own error bodies by their code.
import { describe, expect, test } from "vitest";
import { jsonCodec } from "../../src/codec.js";
import { MdpBroker, REASONS, type BrokerAction, type MdpBrokerConfig } from "../../src/internal/mdp-broker.js";

const EPOCH = 0x0a0b0c0d;
const CONFIG: MdpBrokerConfig = {
  codec: jsonCodec,
  maxQueued: 100,
  heartbeatMs: 1000,
  liveness: 3,
  strict: false,
  defaultService: undefined,
  serviceWaitMs: 5000,
  absoluteDeadlines: true,
  tickMs: 50,
};
const COMMANDS = ["?", "READY", "REQUEST", "REPLY", "HEARTBEAT", "DISCONNECT"];

type Part = string | Buffer;
const buf = (parts: readonly Part[]): Buffer[] => parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p));
const text = (f: Uint8Array): string => Buffer.from(f).toString("utf8");

/** The 8-byte client-address frame the broker sends for token `n`. */
function token(n: number, epoch = EPOCH): Buffer {
  const frame = Buffer.alloc(8);
  frame.writeUInt32BE(epoch, 0);
  frame.writeUInt32BE(n, 4);
  return frame;
}

const ready = (id: string, service: string, capacity?: number): Buffer[] =>
  buf([id, "", "MDPW01", "\x01", service, ...(capacity === undefined ? [] : [String(capacity)])]);
const reply = (id: string, n: number | Buffer, ...body: Part[]): Buffer[] =>
  buf([id, "", "MDPW01", "\x03", typeof n === "number" ? token(n) : n, "", ...body]);
const heartbeat = (id: string, leaving = false): Buffer[] => buf([id, "", "MDPW01", "\x04", ...(leaving ? ["leaving"] : [])]);
const disconnect = (id: string): Buffer[] => buf([id, "", "MDPW01", "\x05"]);
const request = (client: string, service: string, ...body: Part[]): Buffer[] => buf([client, "", "MDPC01", service, ...body]);
const legacy = (client: string, ...body: Part[]): Buffer[] => buf([client, "", ...body]);
const headers = (h: Record<string, unknown>): string => JSON.stringify(h);

function showFrames(frames: readonly Uint8Array[], from: number): string[] {
  const out: string[] = [];
  for (let i = from; i < frames.length; i++) {
    const f = frames[i]!;
    const prev = frames[i - 1];
    if (prev !== undefined && text(prev) === "error" && i === frames.length - 1 - (isJsonHeaders(frames[i + 1]) ? 1 : 0)) {
      out.push((jsonCodec.decode(f) as { code: string }).code);
    } else {
      out.push(text(f));
    }
  }
  return out;
}

function isJsonHeaders(f: Uint8Array | undefined): boolean {
  return f !== undefined && text(f).startsWith("{");
}

function show(action: BrokerAction): string {
  switch (action.kind) {
    case "to-worker": {
      const [id, , , command, ...rest] = action.frames;
      const name = COMMANDS[command?.[0] ?? 0] ?? "?";
      if (name === "REQUEST") {
        const n = Buffer.from(rest[0]!).readUInt32BE(4);
        return `W ${text(id!)} REQUEST #${n} ${showFrames(rest, 2).join("|")}`;
      }
      return `W ${text(id!)} ${[name, ...showFrames(rest, 0)].join("|")}`;
    }
    case "to-client":
      return `C ${showFrames(action.frames, 0).join("|")}`;
    case "event": {
      const { type, ...rest } = action.event;
      return `E ${type} ${JSON.stringify(rest)}`;
    }
  }
}

/** A core with a clock the test moves, recording shown actions. */
function harness(config: Partial<MdpBrokerConfig> = {}) {
  const core = new MdpBroker({ ...CONFIG, ...config }, EPOCH);
  let now = 1_000_000;
  const shown = (actions: BrokerAction[]): string[] => actions.map(show);
  return {
    core,
    get now() {
      return now;
    },
    client: (frames: Buffer[]) => shown(core.fromClient(frames, now)),
    worker: (frames: Buffer[]) => shown(core.fromWorker(frames, now)),
    tick: (advanceMs: number) => {
      now += advanceMs;
      return shown(core.tick(now));
    },
    raw: (frames: Buffer[]) => core.fromClient(frames, now),
    advance: (ms: number) => (now += ms),
  };
}

/** Only the lines that are not events. */
const wire = (lines: string[]): string[] => lines.filter((l) => !l.startsWith("E "));

describe("MdpBroker: dispatch and credit", () => {
  test("registers a worker, dispatches with a token, returns the reply in MDP frames", () => {
    const h = harness();
    expect(h.worker(ready("A", "echo", 2))).toEqual([`E worker:ready {"service":"echo","worker":"A","capacity":2}`]);
    expect(h.client(request("c1", "echo", "hello", "world"))).toEqual(["W A REQUEST #1 hello|world"]);
    expect(h.worker(reply("A", 1, "hello", "back"))).toEqual(["C c1||MDPC01|echo|hello|back"]);
    expect(h.core.stats).toMatchObject({ forwarded: 1, returned: 1, queued: 0, workers: 1, inFlight: 0, dropped: 0 });
  });

  test("a REQ client's envelope is kept and a reply to a token no longer in flight is dropped", () => {
    const h = harness();
    h.worker(ready("A", "echo"));
    expect(h.client(buf(["c1", "hop", "", "MDPC01", "echo", "x"]))).toEqual(["W A REQUEST #1 x"]);
    expect(h.worker(reply("A", 1, "y"))).toEqual(["C c1|hop||MDPC01|echo|y"]);
    expect(wire(h.worker(reply("A", 1, "again")))).toEqual([]);
    expect(wire(h.worker(reply("A", token(2, 99), "other epoch")))).toEqual([]);
    expect(h.core.stats).toMatchObject({ returned: 1, dropped: 2 });
  });

  test("each service has its own FIFO: a request only goes to a worker of its service", () => {
    const h = harness();
    h.worker(ready("A", "a.v1", 5));
    h.worker(ready("B", "b.v1", 5));
    expect(h.client(request("c", "b.v1", "1"))).toEqual(["W B REQUEST #1 1"]);
    expect(h.client(request("c", "a.v1", "2"))).toEqual(["W A REQUEST #2 2"]);
    expect(h.client(request("c", "c.v1", "3"))).toEqual([]);
    expect(h.core.services()).toEqual([
      { service: "a.v1", workers: [{ name: "A", capacity: 5, inFlight: 1 }], queued: 0 },
      { service: "b.v1", workers: [{ name: "B", capacity: 5, inFlight: 1 }], queued: 0 },
      { service: "c.v1", workers: [], queued: 1 },
    ]);
  });

  test("credit: a worker gets up to its announced capacity; one at a time without it; the rest queue in order", () => {
    const h = harness();
    h.worker(ready("T", "s", 2));
    h.worker(ready("P", "s"));
    const sent = ["1", "2", "3", "4", "5"].flatMap((n) => h.client(request("c", "s", n)));
    // T (0/2) first as least recently used among equal load 0; then P (0/1); then T again (1/2); then both full.
    expect(sent).toEqual(["W T REQUEST #1 1", "W P REQUEST #2 2", "W T REQUEST #3 3"]);
    expect(h.core.stats).toMatchObject({ queued: 2, inFlight: 3 });
    expect(h.worker(reply("P", 2, "ok"))).toEqual(["C c||MDPC01|s|ok", "W P REQUEST #4 4"]);
    expect(h.worker(reply("T", 1, "ok"))).toEqual(["C c||MDPC01|s|ok", "W T REQUEST #5 5"]);
  });

  test("strict: the capacity extension is ignored, every worker gets one request at a time", () => {
    const h = harness({ strict: true });
    expect(h.worker(ready("A", "s", 10))).toEqual([`E worker:ready {"service":"s","worker":"A","capacity":1}`]);
    expect([...h.client(request("c", "s", "1")), ...h.client(request("c", "s", "2"))]).toEqual(["W A REQUEST #1 1"]);
  });

  test("names a worker by its routing id when printable, else service#n", () => {
    const h = harness();
    h.worker(ready("web-1-ab12", "s"));
    h.core.fromWorker([Buffer.from([0, 1, 2, 3, 4]), ...ready("x", "s").slice(1)], h.now);
    expect(h.core.services()[0]?.workers.map((w) => w.name)).toEqual(["web-1-ab12", "s#1"]);
  });

  test("maxQueued: beyond it, requests are answered UNAVAILABLE with the correlationId echoed", () => {
    const h = harness({ maxQueued: 1 });
    expect(h.client(request("c", "s", "m", "{}", headers({ correlationId: "1" })))).toEqual([]);
    const actions = h.raw(request("c", "s", "m", "{}", headers({ correlationId: "2" })));
    expect(actions.map(show)).toEqual([
      expect.stringMatching(/^E request:rejected .*maxQueued/),
      `C c||MDPC01|s|error|UNAVAILABLE|{"correlationId":"2"}`,
    ]);
  });
});

describe("MdpBroker: heartbeats and eviction", () => {
  test("heartbeats a worker it sent nothing to for heartbeatMs; a dispatch counts as something sent", () => {
    const h = harness();
    h.worker(ready("A", "s", 5));
    h.worker(ready("B", "s", 5));
    expect(h.tick(999)).toEqual([]);
    h.client(request("c", "s", "x")); // to A, at 999
    expect(h.tick(1)).toEqual(["W B HEARTBEAT"]);
    h.worker(heartbeat("A"));
    h.worker(heartbeat("B"));
    expect(h.tick(999)).toEqual(["W A HEARTBEAT"]);
  });

  test("evicts a worker silent for heartbeatMs × liveness: idempotent requests go first to another worker, the rest UNAVAILABLE", () => {
    const h = harness();
    h.worker(ready("A", "s", 5));
    const idem = headers({ correlationId: "i", idempotent: true });
    h.client(request("c", "s", "get", "{}", idem)); // #1
    h.client(request("c", "s", "put", "{}", headers({ correlationId: "p" }))); // #2
    h.client(request("c", "s", "get2", "{}", headers({ correlationId: "j", idempotent: true }))); // #3
    h.advance(2000);
    h.worker(ready("B", "s", 1));
    h.client(request("c", "s", "later")); // #4 to B
    expect(h.tick(999)).toEqual(["W A HEARTBEAT"]); // A silent 2999 ms: not yet
    const evicted = h.tick(1); // A silent 3000 ms
    expect(evicted).toEqual([
      "W A DISCONNECT",
      `E worker:evicted {"service":"s","worker":"A","redispatched":2,"lost":1,"silentMs":3000}`,
      expect.stringMatching(/^E request:rejected .*worker \\"A\\" of service \\"s\\" missed its heartbeats/),
      `C c||MDPC01|s|error|UNAVAILABLE|{"correlationId":"p"}`,
      "W B HEARTBEAT", // B was last sent something 1000 ms ago
    ]);
    expect(h.core.stats).toMatchObject({ evicted: 1, redispatched: 2, queued: 2, workers: 1 });
    // B's credit frees: the re-dispatched requests come before anything queued later, in their order.
    h.client(request("c", "s", "newer"));
    expect(h.worker(reply("B", 4, "done"))).toEqual(["C c||MDPC01|s|done", `W B REQUEST #5 get|{}|${idem}`]);
    // A late reply from the evicted worker: unknown now, told to DISCONNECT, nothing reaches the client.
    expect(h.worker(reply("A", 1, "late"))).toEqual(["W A DISCONNECT"]);
  });

  test("any message from a worker counts as life", () => {
    const h = harness();
    h.worker(ready("A", "s"));
    h.tick(2500);
    h.worker(heartbeat("A"));
    expect(wire(h.tick(2999))).toEqual(["W A HEARTBEAT"]);
    expect(h.tick(1)).toContain("W A DISCONNECT");
  });
});

describe("MdpBroker: deadlines and unserved services", () => {
  test("never dispatches an expired request: one expired on arrival, one that expired while queued", () => {
    const h = harness();
    const late = h.raw(request("c", "s", "m", "{}", headers({ correlationId: "1", deadline: h.now - 10, remainingMs: 50 })));
    expect(late.map(show)).toEqual([
      expect.stringMatching(/^E request:expired .*absolute deadline passed 10 ms/),
      `C c||MDPC01|s|error|DEADLINE_EXCEEDED|{"correlationId":"1"}`,
    ]);
    h.worker(ready("A", "s", 1));
    h.client(request("c", "s", "busy")); // #1 takes A's credit
    h.client(request("c", "s", "m", "{}", headers({ correlationId: "2", remainingMs: 100 })));
    h.advance(150);
    // A answers before any tick: the queued request has expired, so it is answered, not dispatched.
    expect(h.worker(reply("A", 1, "ok"))).toEqual([
      "C c||MDPC01|s|ok",
      expect.stringMatching(/^E request:expired .*remainingMs\) ran out 50 ms/),
      `C c||MDPC01|s|error|DEADLINE_EXCEEDED|{"correlationId":"2"}`,
    ]);
    expect(h.core.stats).toMatchObject({ expired: 2, forwarded: 1 });
  });

  test("expires queued requests at tick", () => {
    const h = harness();
    h.worker(ready("A", "s", 1));
    h.client(request("c", "s", "busy"));
    h.client(request("c", "s", "m", "{}", headers({ remainingMs: 200 })));
    expect(h.tick(199)).toEqual([]);
    expect(wire(h.tick(1))).toEqual(["C c||MDPC01|s|error|DEADLINE_EXCEEDED"]);
    expect(h.core.stats.queued).toBe(0);
  });

  test("an unserved service: waits serviceWaitMs, then SERVICE_UNAVAILABLE with details; never past the deadline", () => {
    const h = harness({ serviceWaitMs: 500 });
    h.client(request("c", "nobody", "m", "{}", headers({ correlationId: "w" })));
    h.client(request("c", "nobody", "m", "{}", headers({ correlationId: "d", remainingMs: 300 })));
    // The deadline is nearer than serviceWaitMs: answered two ticks (2 × 50 ms) before it, so it arrives in time.
    expect(h.tick(199)).toEqual([]);
    expect(wire(h.tick(1))).toEqual([`C c||MDPC01|nobody|error|SERVICE_UNAVAILABLE|{"correlationId":"d"}`]);
    expect(h.tick(299)).toEqual([]);
    const [event, answer] = h.core.tick(h.advance(1));
    expect(event).toMatchObject({ kind: "event", event: { type: "request:rejected", code: "SERVICE_UNAVAILABLE" } });
    const body = jsonCodec.decode((answer as { frames: Uint8Array[] }).frames[5]!);
    expect(body).toEqual({
      code: "SERVICE_UNAVAILABLE",
      message: `Broker: ${REASONS.unserved("nobody", 500)}`,
      details: { service: "nobody" },
    });
    expect(h.core.services()).toEqual([]);
  });

  test("the wait starts again when the last worker of a service is lost, and a new worker takes the queue", () => {
    const h = harness({ serviceWaitMs: 500 });
    h.worker(ready("A", "s", 1));
    h.client(request("c", "s", "held"));
    h.client(request("c", "s", "queued"));
    h.tick(2000);
    h.worker(disconnect("A"));
    expect(h.tick(499)).toEqual([]);
    h.worker(ready("B", "s", 1));
    expect(h.tick(100)).toEqual([]);
    expect(h.core.stats).toMatchObject({ inFlight: 1, queued: 0 });
  });
});

describe("MdpBroker: MMI", () => {
  test("mmi.service 200/404, mmi.services JSON, other mmi.* 501; a READY for mmi.* is refused", () => {
    const h = harness();
    h.worker(ready("A", "echo", 3));
    expect(h.client(request("c", "mmi.service", "echo"))).toEqual(["C c||MDPC01|mmi.service|200"]);
    expect(h.client(request("c", "mmi.service", "nope"))).toEqual(["C c||MDPC01|mmi.service|404"]);
    expect(h.client(request("c", "mmi.version", "x"))).toEqual(["C c||MDPC01|mmi.version|501"]);
    const [services] = h.raw(request("c", "mmi.services", ""));
    const frames = (services as { frames: Uint8Array[] }).frames;
    expect(frames.slice(0, 4).map(text)).toEqual(["c", "", "MDPC01", "mmi.services"]);
    expect(JSON.parse(text(frames[4]!))).toEqual({
      services: [{ service: "echo", workers: [{ name: "A", capacity: 3, inFlight: 0 }], queued: 0 }],
    });
    expect(wire(h.worker(ready("M", "mmi.fake")))).toEqual(["W M DISCONNECT"]);
    expect(h.core.stats.workers).toBe(1);
  });
});

describe("MdpBroker: RFC 7 rules", () => {
  test("unknown workers get DISCONNECT for anything but READY; a second READY is a protocol error", () => {
    const h = harness();
    expect(h.worker(heartbeat("X"))).toEqual(["W X DISCONNECT"]);
    expect(h.worker(reply("X", 1, "r"))).toEqual(["W X DISCONNECT"]);
    expect(h.worker(disconnect("X"))).toEqual([]);
    h.worker(ready("A", "s", 2));
    h.client(request("c", "s", "m", "{}", headers({ correlationId: "1" })));
    expect(h.worker(ready("A", "s", 2))).toEqual([
      "W A DISCONNECT",
      `E worker:gone {"service":"s","worker":"A","redispatched":0,"lost":1,"reason":"sent a second READY"}`,
      expect.stringMatching(/^E request:rejected/),
      `C c||MDPC01|s|error|UNAVAILABLE|{"correlationId":"1"}`,
    ]);
    expect(h.core.stats.workers).toBe(0);
    expect(h.worker(buf(["A", "", "MDPW01", "\x09"]))).toEqual([
      expect.stringMatching(/^E message:dropped .*unknown command 0x09/),
    ]);
  });

  test("a REQUEST from a known worker (valid but unexpected) is answered DISCONNECT and the worker is lost", () => {
    const h = harness();
    h.worker(ready("A", "s", 2));
    h.client(request("c", "s", "m", "{}", headers({ correlationId: "1" })));
    h.client(request("c", "s", "m", "{}", headers({ correlationId: "2", idempotent: true })));
    h.worker(ready("B", "s", 1));
    expect(h.worker(buf(["A", "", "MDPW01", "\x02", "client", "", "m"]))).toEqual([
      "W A DISCONNECT",
      `E worker:gone {"service":"s","worker":"A","redispatched":1,"lost":1,"reason":"sent a REQUEST, which only a broker sends"}`,
      expect.stringMatching(/^E request:rejected/),
      `C c||MDPC01|s|error|UNAVAILABLE|{"correlationId":"1"}`,
      `W B REQUEST #3 m|{}|${headers({ correlationId: "2", idempotent: true })}`,
    ]);
    expect(h.core.stats.workers).toBe(1);
  });

  test("a malformed MDP request is answered MALFORMED; one with no delimiter is dropped", () => {
    const h = harness();
    expect(wire(h.client(buf(["c", "", "MDPC01", "s"])))).toEqual(["C c||MDPC01|s|error|MALFORMED"]);
    expect(h.client(buf(["c", "no delimiter"]))).toEqual([expect.stringMatching(/^E message:dropped/)]);
  });
});

describe("MdpBroker: v1 clients", () => {
  test("a request without MDPC01 goes to the only service and gets v1 reply frames", () => {
    const h = harness();
    h.worker(ready("A", "orders.v1", 4));
    expect(h.client(legacy("c", "getOrder", "{}"))).toEqual(["W A REQUEST #1 getOrder|{}"]);
    expect(h.worker(reply("A", 1, "ok", "{}"))).toEqual(["C c||ok|{}"]);
  });

  test("before any worker it waits, then goes to the first service; with two services it needs defaultService", () => {
    const h = harness();
    expect(h.client(legacy("c", "m", "1"))).toEqual([]);
    expect(h.core.stats.queued).toBe(1);
    expect(wire(h.worker(ready("A", "one", 4)))).toEqual(["W A REQUEST #1 m|1"]);
    h.worker(ready("B", "two", 4));
    expect(wire(h.client(legacy("c", "m", "{}", headers({ correlationId: "x" }))))).toEqual([
      `C c||error|SERVICE_UNAVAILABLE|{"correlationId":"x"}`,
    ]);
    const d = harness({ defaultService: "two" });
    d.worker(ready("A", "one", 4));
    d.worker(ready("B", "two", 4));
    expect(d.client(legacy("c", "m", "{}"))).toEqual(["W B REQUEST #1 m|{}"]);
  });

  test("the default service is the only one with live workers now: a service whose workers all left is forgotten", () => {
    const h = harness();
    h.worker(ready("A", "one", 4));
    h.worker(ready("B", "two", 4));
    h.worker(disconnect("B"));
    expect(h.core.services().map((s) => s.service)).toEqual(["one"]);
    expect(h.client(legacy("c", "m", "1"))).toEqual(["W A REQUEST #1 m|1"]);
    const [listed] = h.raw(request("c", "mmi.services", ""));
    expect(JSON.parse(text((listed as { frames: Uint8Array[] }).frames[4]!))).toEqual({
      services: [{ service: "one", workers: [{ name: "A", capacity: 4, inFlight: 1 }], queued: 0 }],
    });
    // A leaving worker takes no new work: its service does not count, and v1 requests go to the other one.
    h.worker(ready("B", "two", 4));
    h.worker(heartbeat("A", true));
    expect(h.client(legacy("c", "m", "2"))).toEqual(["W B REQUEST #2 m|2"]);
    // No service with a live worker: v1 requests wait, then go to the first service a worker registers for.
    h.worker(disconnect("B"));
    expect(h.client(legacy("c", "m", "3"))).toEqual([]);
    expect(wire(h.worker(ready("C", "three", 4)))).toEqual(["W C REQUEST #3 m|3"]);
    expect(h.core.services().map((s) => s.service)).toEqual(["one", "three"]);
  });

  test("a service is forgotten when its last worker goes with nothing queued, not before its queue is empty", () => {
    const h = harness({ serviceWaitMs: 500 });
    // A hostile peer READYs for names one after another: each second READY loses it, and its service with it.
    for (const name of ["r1", "r2", "r3"]) {
      h.worker(ready("X", name));
      h.worker(ready("X", "again"));
    }
    expect(h.core.services()).toEqual([]);
    h.worker(ready("A", "s", 1));
    h.client(request("c", "s", "held", "{}", headers({ correlationId: "1", idempotent: true })));
    h.client(request("c", "s", "queued"));
    h.tick(3000); // A is evicted; both requests wait for a new worker
    expect(h.core.services()).toEqual([{ service: "s", workers: [], queued: 2 }]);
    h.tick(500); // nobody came: both answered SERVICE_UNAVAILABLE, and the service is gone
    expect(h.core.services()).toEqual([]);
    h.worker(ready("B", "t", 1));
    h.client(request("c", "t", "x"));
    expect(h.core.dispatchFailed(2, true, h.now).map(show)).toEqual([
      `E worker:gone {"service":"t","worker":"B","redispatched":0,"lost":0,"reason":"became unreachable"}`,
    ]);
    // The request whose dispatch failed is queued again in a service still listed (and swept), not in a forgotten one.
    expect(h.core.services()).toEqual([{ service: "t", workers: [], queued: 1 }]);
    expect(wire(h.tick(500))).toEqual(["C c||MDPC01|t|error|SERVICE_UNAVAILABLE"]);
  });

  test("a v1 $cancel is never answered, even when no default service can be chosen", () => {
    const h = harness();
    h.worker(ready("A", "one", 1));
    h.worker(ready("B", "two", 1));
    expect(h.client(legacy("c", "$cancel", "", headers({ correlationId: "x" })))).toEqual([
      expect.stringMatching(/^E message:dropped .*\$cancel notice that matches no request/),
    ]);
    const d = harness({ defaultService: "s" });
    d.worker(ready("T", "s", 1));
    d.client(legacy("c", "m", "{}", headers({ correlationId: "run" })));
    d.client(legacy("c", "m", "{}", headers({ correlationId: "wait" })));
    expect(d.client(legacy("c", "$cancel", "", headers({ correlationId: "wait" })))).toEqual([]);
    expect(d.core.stats).toMatchObject({ queued: 0, cancelled: 1, rejected: 0 });
  });

  test("a v1 request whose method frame is ok or error is answered MALFORMED", () => {
    const h = harness();
    h.worker(ready("A", "s"));
    expect(wire(h.client(legacy("c", "ok", "{}")))).toEqual(["C c||error|MALFORMED"]);
    expect(h.core.stats.inFlight).toBe(0);
  });
});

describe("MdpBroker: cancel, departure, failed sends, close", () => {
  test("$cancel drops a queued request silently and is passed to the typed worker running one, never to a plain one", () => {
    const h = harness();
    h.worker(ready("T", "s", 1));
    const corr = (id: string): string => headers({ correlationId: id });
    h.client(request("c", "s", "m", "{}", corr("run")));
    h.client(request("c", "s", "m", "{}", corr("wait")));
    expect(h.client(request("c", "s", "$cancel", "", corr("wait")))).toEqual([]);
    expect(h.core.stats.queued).toBe(0);
    expect(h.client(request("other", "s", "$cancel", "", corr("run")))).toEqual([
      expect.stringMatching(/^E message:dropped .*\$cancel notice that matches no request/), // not that client's call
    ]);
    expect(h.client(request("c", "s", "$cancel", "", corr("run")))).toEqual([`W T REQUEST #1 $cancel||${corr("run")}`]);
    expect(h.core.stats).toMatchObject({ cancelled: 2, inFlight: 1 });
    const p = harness();
    p.worker(ready("P", "s"));
    p.client(request("c", "s", "m", "{}", corr("run")));
    expect(p.client(request("c", "s", "$cancel", "", corr("run")))).toEqual([]);
  });

  test("departure: HEARTBEAT leaving is acknowledged, the worker gets no new work, its replies still pass", () => {
    const h = harness();
    h.worker(ready("A", "s", 2));
    h.worker(ready("B", "s", 2));
    h.client(request("c", "s", "1")); // #1 to A
    expect(h.worker(heartbeat("A", true))).toEqual([
      "W A HEARTBEAT|leaving",
      `E worker:left {"service":"s","worker":"A","inFlight":1}`,
    ]);
    expect(h.core.stats.workers).toBe(1);
    expect(h.client(request("c", "s", "2"))).toEqual(["W B REQUEST #2 2"]);
    expect(h.client(request("c", "s", "3"))).toEqual(["W B REQUEST #3 3"]);
    expect(h.client(request("c", "s", "4"))).toEqual([]);
    expect(h.worker(reply("A", 1, "r"))).toEqual(["C c||MDPC01|s|r"]);
    expect(h.worker(disconnect("A"))).toEqual([]);
    expect(h.core.services()[0]?.workers.map((w) => w.name)).toEqual(["B"]);
    const strict = harness({ strict: true });
    strict.worker(ready("A", "s"));
    expect(strict.worker(heartbeat("A", true))).toEqual([]);
  });

  test("a failed dispatch goes back to the front: full queue stalls the worker, unreachable forgets it", () => {
    const h = harness();
    h.worker(ready("A", "s", 5));
    h.worker(ready("B", "s", 5));
    h.client(request("c", "s", "1")); // #1 to A
    expect(h.core.dispatchFailed(1, false, h.now).map(show)).toEqual(["W B REQUEST #2 1"]);
    expect(h.client(request("c", "s", "2"))).toEqual(["W B REQUEST #3 2"]); // A is stalled
    expect(h.worker(reply("A", 99, "x")).length).toBe(1); // any answer un-stalls A (this one is dropped)
    expect(h.client(request("c", "s", "3"))).toEqual(["W A REQUEST #4 3"]);
    expect(h.core.dispatchFailed(4, true, h.now).map(show)).toEqual([
      `E worker:gone {"service":"s","worker":"A","redispatched":0,"lost":0,"reason":"became unreachable"}`,
      "W B REQUEST #5 3",
    ]);
    expect(h.core.stats).toMatchObject({ workers: 1, forwarded: 3 });
  });

  test("a stalled worker with nothing in flight gets work again after any command from it, a heartbeat too", () => {
    const h = harness();
    h.worker(ready("A", "s", 5));
    h.client(request("c", "s", "1")); // #1 to A
    expect(h.core.dispatchFailed(1, false, h.now)).toEqual([]); // A stalled, the request waits
    expect(h.core.stats).toMatchObject({ queued: 1, inFlight: 0 });
    expect(h.tick(1)).toEqual([]);
    expect(h.worker(heartbeat("A"))).toEqual(["W A REQUEST #2 1"]);
    expect(h.worker(heartbeat("A"))).toEqual([]);
  });

  test("cancel notices find their request among many queued and in flight, and not one already answered", () => {
    const h = harness();
    h.worker(ready("T", "s", 3));
    const corr = (id: string): string => headers({ correlationId: id });
    for (let i = 0; i < 6; i++) h.client(request(`c${i % 2}`, "s", "m", "{}", corr(String(i))));
    expect(h.worker(reply("T", 2, "ok", "{}", corr("1")))).toEqual([
      'C c1||MDPC01|s|ok|{}|{"correlationId":"1"}',
      `W T REQUEST #4 m|{}|${corr("3")}`,
    ]);
    expect(wire(h.client(request("c1", "s", "$cancel", "", corr("1"))))).toEqual([]); // answered already
    expect(h.client(request("c1", "s", "$cancel", "", corr("5")))).toEqual([]); // queued
    expect(h.client(request("c0", "s", "$cancel", "", corr("2")))).toEqual([`W T REQUEST #3 $cancel||${corr("2")}`]);
    expect(h.core.stats).toMatchObject({ cancelled: 2, queued: 1, dropped: 1 });
    expect(h.worker(reply("T", 1, "ok"))).toEqual(["C c0||MDPC01|s|ok", `W T REQUEST #5 m|{}|${corr("4")}`]);
  });

  test("close answers queued UNAVAILABLE, refuses new requests and workers, drains, abandons, says DISCONNECT", () => {
    const h = harness();
    h.worker(ready("A", "s", 1));
    h.client(request("c", "s", "1"));
    h.client(request("c", "s", "2"));
    expect(wire(h.core.close().map(show))).toEqual(["C c||MDPC01|s|error|UNAVAILABLE"]);
    expect(h.core.drained).toBe(false);
    expect(wire(h.client(request("c", "s", "3")))).toEqual(["C c||MDPC01|s|error|UNAVAILABLE"]);
    expect(h.worker(ready("B", "s"))).toEqual(["W B DISCONNECT"]);
    h.client(request("d", "s", "4")); // refused too
    expect(h.worker(reply("A", 1, "r"))).toEqual(["C c||MDPC01|s|r"]);
    expect(h.core.drained).toBe(true);
    expect(h.core.abandon(10)).toEqual([]);
    expect(h.core.farewell().map(show)).toEqual(["W A DISCONNECT"]);
    expect(h.core.stats.workers).toBe(0);
  });

  test("abandon answers what is still in flight after the drain timeout", () => {
    const h = harness();
    h.worker(ready("A", "s", 1));
    h.client(request("c", "s", "m", "{}", headers({ correlationId: "z" })));
    h.core.close();
    expect(wire(h.core.abandon(100).map(show))).toEqual([`C c||MDPC01|s|error|UNAVAILABLE|{"correlationId":"z"}`]);
    expect(h.core.stats.inFlight).toBe(0);
  });
});
