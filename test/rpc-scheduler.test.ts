// The RPC broker's scheduler, table by table: no sockets, no timers. Each step feeds one input and lists the actions
// the broker must take, in order, written as text: frames are joined with "|", routing ids are readable letters.
import { describe, expect, test } from "vitest";
import { jsonCodec } from "../src/codec.js";
import { REASONS, RpcScheduler, type SchedulerAction, type Ticket } from "../src/internal/rpc-scheduler.js";
import type { RpcBrokerStats } from "../src/rpc-broker.js";

type Step =
  | { readonly client: readonly string[] }
  | { readonly server: readonly string[] }
  /** The last dispatch of request `request` (its frames after the server id, joined with "|") failed. */
  | { readonly failed: string; readonly unreachable: boolean }
  | { readonly replyFailed: true }
  | { readonly close: true }
  | { readonly abandon: number };

interface Scenario {
  readonly name: string;
  readonly maxQueued?: number;
  readonly steps: ReadonlyArray<readonly [Step, readonly string[]]>;
  readonly stats?: Partial<RpcBrokerStats>;
  readonly drained?: boolean;
}

const frames = (parts: readonly string[]): Buffer[] => parts.map((p) => Buffer.from(p));
const joined = (parts: readonly Uint8Array[]): string => parts.map((p) => Buffer.from(p).toString("utf8")).join("|");
/** A server's name in events: the hex of its routing id. */
const hex = (id: string): string => Buffer.from(id).toString("hex");
/** The broker's own error reply to a request with this envelope. */
const refusal = (envelope: string, why: string): string =>
  `to-client ${envelope}||error|${JSON.stringify({ code: "UNAVAILABLE", message: `Broker: ${why}` })}`;
const STRAY = (status: string): string =>
  `the method frame is "${status}", a reply status; a server never answers a reply. Send [method, body] after the delimiter.`;
const rejected = (why: string): string => `event request:rejected ${JSON.stringify({ reason: why })}`;

function show(action: SchedulerAction): string {
  switch (action.kind) {
    case "dispatch":
      return `dispatch ${joined(action.frames.slice(0, 1))} ${joined(action.frames.slice(1))}`;
    case "to-server":
      return `to-server ${joined(action.frames)}`;
    case "to-client":
      return `to-client ${joined(action.frames)}`;
    case "event": {
      const { type, ...rest } = action.event;
      return `event ${type} ${JSON.stringify(rest)}`;
    }
  }
}

const scenarios: readonly Scenario[] = [
  {
    name: "answers a greeting, registers a ready server, dispatches a request and returns its reply",
    steps: [
      [{ server: ["A", ""] }, ["to-server A|"]],
      [{ server: ["A", "", "ready", "2"] }, [`event server:ready {"server":"${hex("A")}","capacity":2}`]],
      [{ client: ["c1", "", "echo", "{}"] }, ["dispatch A c1||echo|{}"]],
      [{ server: ["A", "c1", "", "ok", "{}"] }, ["to-client c1||ok|{}"]],
    ],
    stats: { forwarded: 1, returned: 1, queued: 0, servers: 1, inFlight: 0, rejected: 0, dropped: 0 },
  },
  {
    name: "passes a headers frame and frames after it through, both ways (protocol 1.1 must-ignore)",
    steps: [
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [
        { client: ["c1", "corr", "", "echo", "{}", '{"traceparent":"00-x"}', "junk"] },
        ['dispatch A c1|corr||echo|{}|{"traceparent":"00-x"}|junk'],
      ],
      [
        { server: ["A", "c1", "corr", "", "ok", "{}", '{"traceparent":"00-x"}', "more", "junk"] },
        ['to-client c1|corr||ok|{}|{"traceparent":"00-x"}|more|junk'],
      ],
    ],
    stats: { returned: 1, inFlight: 0, dropped: 0 },
  },
  {
    name: "treats a client's [''] and a method named 'ready' as requests, never as control",
    steps: [
      [{ server: ["A", "", "ready", "5"] }, [`event server:ready {"server":"${hex("A")}","capacity":5}`]],
      [{ client: ["c1", ""] }, ["dispatch A c1|"]],
      [{ client: ["c2", "", "ready", "3"] }, ["dispatch A c2||ready|3"]],
      [{ server: ["A", "c2", "", "error", "{}"] }, ["to-client c2||error|{}"]],
    ],
    stats: { servers: 1, forwarded: 2, inFlight: 1 },
  },
  {
    name: "answers a client's request whose method frame is ok or error MALFORMED itself: a server would never answer it",
    steps: [
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [
        { client: ["c3", "", "ok", "{}"] },
        [
          rejected(STRAY("ok")),
          `to-client c3||error|${JSON.stringify({ code: "MALFORMED", message: `Broker: ${STRAY("ok")}` })}`,
        ],
      ],
      [{ client: ["c4", "", "m", "1"] }, ["dispatch A c4||m|1"]],
    ],
    stats: { servers: 1, forwarded: 1, inFlight: 1, rejected: 1 },
  },
  {
    name: "picks the least busy server with a free slot, then the least recently used; queues when all are full",
    steps: [
      [{ server: ["A", "", "ready", "2"] }, [`event server:ready {"server":"${hex("A")}","capacity":2}`]],
      [{ server: ["B", "", "ready", "1"] }, [`event server:ready {"server":"${hex("B")}","capacity":1}`]],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]], // both idle, neither used: the first one
      [{ client: ["c2", "", "m", "2"] }, ["dispatch B c2||m|2"]], // A is half busy, B idle
      [{ client: ["c3", "", "m", "3"] }, ["dispatch A c3||m|3"]], // B is full
      [{ client: ["c4", "", "m", "4"] }, []], // both full: it waits
      [{ server: ["B", "c2", "", "ok", "2"] }, ["to-client c2||ok|2", "dispatch B c4||m|4"]],
    ],
    stats: { queued: 0, inFlight: 3, forwarded: 4, returned: 1 },
  },
  {
    name: "least recently used among equally busy servers",
    steps: [
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [{ server: ["B", "", "ready", "1"] }, [`event server:ready {"server":"${hex("B")}","capacity":1}`]],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [{ server: ["A", "c1", "", "ok", "1"] }, ["to-client c1||ok|1"]],
      [{ client: ["c1", "", "m", "2"] }, ["dispatch B c1||m|2"]],
      [{ server: ["B", "c1", "", "ok", "2"] }, ["to-client c1||ok|2"]],
      [{ client: ["c1", "", "m", "3"] }, ["dispatch A c1||m|3"]],
    ],
  },
  {
    name: "answers UNAVAILABLE itself once maxQueued requests wait",
    maxQueued: 1,
    steps: [
      [{ client: ["c1", "", "m", "1"] }, []],
      [{ client: ["c2", "x", "", "m", "2"] }, [rejected(REASONS.queueFull(1)), refusal("c2|x", REASONS.queueFull(1))]],
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`, "dispatch A c1||m|1"]],
    ],
    stats: { rejected: 1, queued: 0, inFlight: 1 },
  },
  {
    name: "drops a request with no envelope delimiter",
    steps: [
      [{ client: ["c1", "echo", "{}"] }, ['event message:dropped {"reason":"a 3-frame request with no envelope delimiter"}']],
    ],
    stats: { dropped: 1, queued: 0 },
  },
  {
    name: "drops backend messages that are neither control nor a reply to a request in flight",
    steps: [
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [{ server: ["A"] }, ['event message:dropped {"reason":"a backend message with no frame after the routing id"}']],
      [
        { server: ["A", "", "ok", "{}"] },
        ['event message:dropped {"reason":"a backend message with an empty envelope that is not a ready announcement"}'],
      ],
      [
        { server: ["A", "c9", "", "ok", "{}"] },
        [
          'event message:dropped {"reason":"a reply that matches no request in flight (already answered, or not from a registered server)"}',
        ],
      ],
      [
        { server: ["Z", "c1", "", "ok", "{}"] },
        [
          'event message:dropped {"reason":"a reply that matches no request in flight (already answered, or not from a registered server)"}',
        ],
      ],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [
        { server: ["A", "c1", "ok", "{}"] },
        [
          'event message:dropped {"reason":"a reply that matches no request in flight (already answered, or not from a registered server)"}',
        ],
      ],
    ],
    stats: { dropped: 5, inFlight: 1, returned: 0 },
  },
  {
    name: "reads a missing or unreadable capacity as 1, and a repeated announcement updates it silently",
    steps: [
      [{ server: ["A", "", "ready"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [{ server: ["B", "", "ready", "lots"] }, [`event server:ready {"server":"${hex("B")}","capacity":1}`]],
      [{ server: ["A", "", "ready", "3"] }, []],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [{ client: ["c2", "", "m", "2"] }, ["dispatch B c2||m|2"]],
      [{ client: ["c3", "", "m", "3"] }, ["dispatch A c3||m|3"]],
      [{ client: ["c4", "", "m", "4"] }, ["dispatch A c4||m|4"]],
      [{ client: ["c5", "", "m", "5"] }, []],
    ],
    stats: { servers: 2, inFlight: 4, queued: 1 },
  },
  {
    name: "a leaving server is acknowledged, gets no new work, and its UNAVAILABLE refusal goes to another server",
    steps: [
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [{ server: ["B", "", "ready", "1"] }, [`event server:ready {"server":"${hex("B")}","capacity":1}`]],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [{ server: ["A", "", "ready", "0"] }, ["to-server A||ready|0"]],
      [{ client: ["c2", "", "m", "2"] }, ["dispatch B c2||m|2"]],
      [{ client: ["c3", "", "m", "3"] }, []], // A is leaving, B is full
      // A refuses c1 (with a headers frame): it is sent on, not passed back; A has nothing left and is forgotten.
      [
        { server: ["A", "c1", "", "error", '{"code":"UNAVAILABLE","message":"closing"}', "{}"] },
        [`event server:gone {"server":"${hex("A")}","lost":0}`],
      ],
      [{ server: ["B", "c2", "", "ok", "2"] }, ["to-client c2||ok|2", "dispatch B c1||m|1"]],
      [{ server: ["B", "c1", "", "ok", "1"] }, ["to-client c1||ok|1", "dispatch B c3||m|3"]],
    ],
    stats: { servers: 1, forwarded: 3, returned: 2, inFlight: 1, rejected: 0, queued: 0 },
  },
  {
    name: "a leaving server with nothing in flight is forgotten at once; a departure from an unknown server is only acknowledged",
    steps: [
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [{ server: ["A", "", "ready", "0"] }, ["to-server A||ready|0", `event server:gone {"server":"${hex("A")}","lost":0}`]],
      [{ server: ["Z", "", "ready", "0"] }, ["to-server Z||ready|0"]],
    ],
    stats: { servers: 0 },
  },
  {
    name: "a server that is unreachable is forgotten: its other requests are answered, the undelivered one goes elsewhere",
    steps: [
      [{ server: ["A", "", "ready", "2"] }, [`event server:ready {"server":"${hex("A")}","capacity":2}`]],
      [{ server: ["B", "", "ready", "2"] }, [`event server:ready {"server":"${hex("B")}","capacity":2}`]],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [{ client: ["c2", "", "m", "2"] }, ["dispatch B c2||m|2"]],
      [{ client: ["c3", "", "m", "3"] }, ["dispatch A c3||m|3"]],
      [
        { failed: "c3||m|3", unreachable: true },
        [
          `event server:gone {"server":"${hex("A")}","lost":1}`,
          rejected(REASONS.serverGone),
          refusal("c1", REASONS.serverGone),
          "dispatch B c3||m|3",
        ],
      ],
      // A second failure for the forgotten server changes nothing: that request was already answered.
      [{ failed: "c1||m|1", unreachable: true }, []],
      [{ replyFailed: true }, ['event message:dropped {"reason":"a reply for a client that is gone"}']],
    ],
    stats: { servers: 1, inFlight: 2, forwarded: 3, rejected: 1, dropped: 1 },
  },
  {
    name: "a server whose queue is full gets no new work until it answers",
    steps: [
      [{ server: ["A", "", "ready", "5"] }, [`event server:ready {"server":"${hex("A")}","capacity":5}`]],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [{ client: ["c2", "", "m", "2"] }, ["dispatch A c2||m|2"]],
      [{ failed: "c2||m|2", unreachable: false }, []],
      [{ client: ["c3", "", "m", "3"] }, []],
      [{ server: ["A", "c1", "", "ok", "1"] }, ["to-client c1||ok|1", "dispatch A c2||m|2", "dispatch A c3||m|3"]],
    ],
    stats: { inFlight: 2, queued: 0, forwarded: 3 },
  },
  {
    name: "two requests with the same envelope (a plain DEALER) are both tracked, answered in order",
    steps: [
      [{ server: ["A", "", "ready", "2"] }, [`event server:ready {"server":"${hex("A")}","capacity":2}`]],
      [{ client: ["d", "", "m", "1"] }, ["dispatch A d||m|1"]],
      [{ client: ["d", "", "m", "2"] }, ["dispatch A d||m|2"]],
      [{ client: ["d", "", "m", "3"] }, []], // capacity 2: both slots taken
      [{ server: ["A", "d", "", "ok", "1"] }, ["to-client d||ok|1", "dispatch A d||m|3"]],
      [{ server: ["A", "d", "", "ok", "2"] }, ["to-client d||ok|2"]],
      [{ server: ["A", "d", "", "ok", "3"] }, ["to-client d||ok|3"]],
      [
        { server: ["A", "d", "", "ok", "4"] },
        [
          'event message:dropped {"reason":"a reply that matches no request in flight (already answered, or not from a registered server)"}',
        ],
      ],
    ],
    stats: { inFlight: 0, returned: 3, dropped: 1 },
  },
  {
    name: "close answers the queued requests, refuses new ones, lets replies through and is drained when the last one arrives",
    steps: [
      [{ server: ["A", "", "ready", "1"] }, [`event server:ready {"server":"${hex("A")}","capacity":1}`]],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [{ client: ["c2", "", "m", "2"] }, []],
      [{ close: true }, [rejected(REASONS.closedQueued), refusal("c2", REASONS.closedQueued)]],
      [{ client: ["c3", "", "m", "3"] }, [rejected(REASONS.closing), refusal("c3", REASONS.closing)]],
      // While closing, a refusal is passed on as it is: there is nowhere else to send the request.
      [
        { server: ["A", "c1", "", "error", '{"code":"UNAVAILABLE","message":"x"}'] },
        ['to-client c1||error|{"code":"UNAVAILABLE","message":"x"}'],
      ],
    ],
    stats: { rejected: 2, inFlight: 0, queued: 0 },
    drained: true,
  },
  {
    name: "after the drain timeout, every request still in flight is answered UNAVAILABLE; a failed dispatch while closing is answered too",
    steps: [
      [{ server: ["A", "", "ready", "3"] }, [`event server:ready {"server":"${hex("A")}","capacity":3}`]],
      [{ client: ["c1", "", "m", "1"] }, ["dispatch A c1||m|1"]],
      [{ client: ["c2", "", "m", "2"] }, ["dispatch A c2||m|2"]],
      [{ client: ["c3", "", "m", "3"] }, ["dispatch A c3||m|3"]],
      [{ close: true }, []],
      [{ failed: "c3||m|3", unreachable: false }, [rejected(REASONS.closedQueued), refusal("c3", REASONS.closedQueued)]],
      [
        { abandon: 250 },
        [
          rejected(REASONS.drainTimeout(250)),
          refusal("c1", REASONS.drainTimeout(250)),
          rejected(REASONS.drainTimeout(250)),
          refusal("c2", REASONS.drainTimeout(250)),
        ],
      ],
      [
        { server: ["A", "c1", "", "ok", "late"] },
        [
          'event message:dropped {"reason":"a reply that matches no request in flight (already answered, or not from a registered server)"}',
        ],
      ],
    ],
    stats: { rejected: 3, inFlight: 0, returned: 0 },
    drained: true,
  },
];

describe("RpcScheduler", () => {
  test.each(scenarios)("$name", (scenario) => {
    const scheduler = new RpcScheduler({ codec: jsonCodec, maxQueued: scenario.maxQueued ?? 100 });
    const tickets = new Map<string, Ticket>();
    const run = (step: Step): SchedulerAction[] => {
      if ("client" in step) return scheduler.fromClient(frames(step.client));
      if ("server" in step) return scheduler.fromServer(frames(step.server));
      if ("failed" in step) {
        const ticket = tickets.get(step.failed);
        if (ticket === undefined) throw new Error(`no dispatch of ${step.failed} so far`);
        return scheduler.dispatchFailed(ticket, step.unreachable);
      }
      if ("replyFailed" in step) return scheduler.replyFailed();
      if ("close" in step) return scheduler.close();
      return scheduler.abandon(step.abandon);
    };
    scenario.steps.forEach(([step, expected], i) => {
      const actions = run(step);
      for (const action of actions) if (action.kind === "dispatch") tickets.set(joined(action.frames.slice(1)), action.ticket);
      expect(actions.map(show), `step ${i + 1}: ${JSON.stringify(step)}`).toEqual(expected);
    });
    if (scenario.stats !== undefined) expect(scheduler.stats).toMatchObject(scenario.stats);
    expect(scheduler.drained).toBe(scenario.drained ?? false);
  });

  test("the broker's own refusal has the RPC reply shape and decodes with the codec", () => {
    const scheduler = new RpcScheduler({ codec: jsonCodec, maxQueued: 1 });
    scheduler.close();
    const [event, reply] = scheduler.fromClient(frames(["c1", "corr", "", "m", "{}", "{}"]));
    expect(event).toMatchObject({ kind: "event", event: { type: "request:rejected" } });
    if (reply?.kind !== "to-client") throw new Error(`expected a reply, got ${JSON.stringify(reply)}`);
    expect(reply.frames).toHaveLength(5);
    expect(joined(reply.frames.slice(0, 4))).toBe("c1|corr||error");
    expect(jsonCodec.decode(reply.frames[4]!)).toEqual({ code: "UNAVAILABLE", message: `Broker: ${REASONS.closing}` });
  });
});
