// Table-driven tests of the pure MDP 0.1 / MMI framing (protocol/mdp.ts) and the travelling-deadline rule
// (protocol/deadline.ts).
import { describe, expect, test } from "vitest";
import {
  CLOCK_SKEW_TOLERANCE_MS,
  deadlineHeaders,
  expiredReason,
  requestDeadline,
  timeLeft,
} from "../../src/protocol/deadline.js";
import {
  encodeClientReply,
  encodeClientRequest,
  encodeDisconnect,
  encodeHeartbeat,
  encodeReady,
  encodeWorkerReply,
  encodeWorkerRequest,
  parseClientMessage,
  parseClientReply,
  parseWorkerCommand,
  readServiceName,
} from "../../src/protocol/mdp.js";

const f = (...parts: Array<string | number[]>): Buffer[] =>
  parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p)));
const text = (frames: readonly Uint8Array[]): string[] => frames.map((x) => Buffer.from(x).toString("latin1"));

describe("readServiceName", () => {
  test.each([
    ["echo.v1", "echo.v1"],
    ["hé ☃", "hé ☃"],
    ["", { error: "the service name is 0 bytes; it must be 1 to 255" }],
    ["x".repeat(256), { error: "the service name is 256 bytes; it must be 1 to 255" }],
    ["a\nb", { error: "the service name contains control characters" }],
  ])("%j → %j", (input, expected) => {
    expect(readServiceName(Buffer.from(input))).toEqual(expected);
  });
  test("refuses invalid UTF-8 and a missing frame", () => {
    expect(readServiceName(Buffer.from([0xff, 0xfe]))).toEqual({ error: "the service name is not valid UTF-8" });
    expect(readServiceName(undefined)).toEqual({ error: "the service name frame is missing" });
  });
});

describe("parseClientMessage (frontend, after the routing id)", () => {
  test.each([
    ["an MDP request", f("", "MDPC01", "echo", "a", "b"), { kind: "request", service: "echo", body: ["a", "b"], envelope: [] }],
    [
      "an MDP request behind a proxy hop",
      f("hop", "", "MDPC01", "s", "x"),
      { kind: "request", service: "s", body: ["x"], envelope: ["hop"] },
    ],
    ["a v1 request", f("", "getOrder", "{}"), { kind: "legacy", body: ["getOrder", "{}"], envelope: [] }],
    ["no body", f("", "MDPC01", "s"), { kind: "malformed", service: "s", envelope: [] }],
    ["an empty service", f("", "MDPC01", "", "x"), { kind: "malformed", service: undefined, envelope: [] }],
    ["no delimiter", f("MDPC01", "s", "x"), { kind: "unanswerable", frames: 3 }],
  ])("%s", (_, frames, expected) => {
    const parsed = parseClientMessage(frames);
    const shown: Record<string, unknown> = { ...parsed };
    if ("body" in parsed) shown["body"] = text(parsed.body);
    if ("envelope" in parsed) shown["envelope"] = text(parsed.envelope);
    expect(shown).toMatchObject(expected);
  });
});

describe("parseWorkerCommand", () => {
  const W = (...rest: Array<string | number[]>): Buffer[] => f("", "MDPW01", ...rest);
  test.each([
    ["READY", W([1], "echo"), false, { kind: "ready", service: "echo", capacity: undefined }],
    ["READY with capacity", W([1], "echo", "100"), false, { kind: "ready", service: "echo", capacity: 100 }],
    ["READY with capacity, strict", W([1], "echo", "100"), true, { kind: "ready", service: "echo", capacity: undefined }],
    ["READY with the batch feature", W([1], "q", "8", "batch"), false, { kind: "ready", capacity: 8, batch: true }],
    ["READY with an unknown feature", W([1], "q", "8", "zip"), false, { kind: "ready", capacity: 8, batch: false }],
    ["READY with the batch feature, strict", W([1], "q", "8", "batch"), true, { kind: "ready", batch: false }],
    ["READY with a bad capacity", W([1], "echo", "0"), false, { kind: "invalid" }],
    ["READY without service", W([1]), false, { kind: "invalid" }],
    ["REPLY", W([3], "tok", "", "ok", "{}"), false, { kind: "reply" }],
    ["REPLY without the empty frame", W([3], "tok", "ok"), false, { kind: "invalid" }],
    ["HEARTBEAT", W([4]), false, { kind: "heartbeat", leaving: false }],
    ["HEARTBEAT leaving", W([4], "leaving"), false, { kind: "heartbeat", leaving: true }],
    ["HEARTBEAT leaving, strict", W([4], "leaving"), true, { kind: "heartbeat", leaving: false }],
    ["DISCONNECT", W([5]), false, { kind: "disconnect" }],
    ["unknown command", W([9]), false, { kind: "invalid", reason: "unknown command 0x09" }],
    ["two-byte command", W([1, 1]), false, { kind: "invalid" }],
    ["not MDPW01", f("", "MDPW02", [1], "s"), false, { kind: "invalid" }],
  ])("%s", (_, frames, strict, expected) => {
    expect(parseWorkerCommand(frames, strict)).toMatchObject(expected);
  });

  test("REQUEST and REPLY keep the client frame and the body", () => {
    const parsed = parseWorkerCommand(W([2], "tok", "", "m", "b"));
    expect(parsed.kind).toBe("request");
    if (parsed.kind !== "request") return;
    expect([parsed.client.toString(), ...text(parsed.body)]).toEqual(["tok", "m", "b"]);
  });
});

describe("encoders round-trip through the parsers", () => {
  test("client side", () => {
    expect(text(encodeClientRequest(Buffer.from("s"), [Buffer.from("x")]))).toEqual(["", "MDPC01", "s", "x"]);
    expect(text(encodeClientReply([Buffer.from("hop")], "s", [Buffer.from("r")]))).toEqual(["hop", "", "MDPC01", "s", "r"]);
    const reply = parseClientReply(encodeClientReply([], "s", [Buffer.from("r")]).map((x) => Buffer.from(x)));
    expect(reply.kind === "reply" && [reply.service, ...text(reply.body)]).toEqual(["s", "r"]);
    expect(parseClientReply(f("MDPC01", "s"))).toMatchObject({ kind: "malformed" });
  });

  test("worker side", () => {
    const round = (frames: readonly Uint8Array[]): unknown => parseWorkerCommand(frames.map((x) => Buffer.from(x)));
    expect(text(encodeReady("s"))).toEqual(["", "MDPW01", "\x01", "s"]);
    expect(round(encodeReady("s", 7))).toEqual({ kind: "ready", service: "s", capacity: 7, batch: false });
    expect(round(encodeReady("s", 7, true))).toEqual({ kind: "ready", service: "s", capacity: 7, batch: true });
    expect(text(encodeReady("s", undefined, true))).toEqual(["", "MDPW01", "\x01", "s"]);
    expect(round(encodeHeartbeat())).toEqual({ kind: "heartbeat", leaving: false });
    expect(round(encodeHeartbeat(true))).toEqual({ kind: "heartbeat", leaving: true });
    expect(round(encodeDisconnect())).toEqual({ kind: "disconnect" });
    expect(text(encodeWorkerRequest(Buffer.from("t"), [Buffer.from("b")]))).toEqual(["", "MDPW01", "\x02", "t", "", "b"]);
    expect(text(encodeWorkerReply(Buffer.from("t"), [Buffer.from("b")]))).toEqual(["", "MDPW01", "\x03", "t", "", "b"]);
  });
});

describe("requestDeadline", () => {
  const now = 1_700_000_000_000;
  test.each([
    ["no headers", undefined, true, undefined],
    ["no deadline keys", {}, true, undefined],
    ["remainingMs only", { remainingMs: 500 }, true, { expiresAt: now + 500, by: "remainingMs" }],
    ["deadline only", { deadline: now + 200 }, true, { expiresAt: now + 200, by: "deadline" }],
    [
      "deadline earlier (time spent in queues)",
      { deadline: now - 5, remainingMs: 500 },
      true,
      { expiresAt: now - 5, by: "deadline" },
    ],
    [
      "deadline a little later (within tolerance)",
      { deadline: now + 600, remainingMs: 500 },
      true,
      { expiresAt: now + 500, by: "remainingMs" },
    ],
    [
      "sender's clock ahead",
      { deadline: now + 500 + CLOCK_SKEW_TOLERANCE_MS + 1, remainingMs: 500 },
      true,
      { expiresAt: now + 500, by: "remainingMs", senderAheadMs: CLOCK_SKEW_TOLERANCE_MS + 1 },
    ],
    ["absolute deadlines off", { deadline: now - 5, remainingMs: 500 }, false, { expiresAt: now + 500, by: "remainingMs" }],
    ["absolute deadlines off, deadline only", { deadline: now - 5 }, false, undefined],
  ])("%s", (_, headers, useAbsolute, expected) => {
    expect(requestDeadline(headers, now, useAbsolute)).toEqual(expected);
  });

  test("timeLeft, expiredReason and deadlineHeaders", () => {
    expect(timeLeft(undefined, now)).toBe(Infinity);
    expect(timeLeft({ expiresAt: now + 10, by: "deadline" }, now)).toBe(10);
    expect(expiredReason({ expiresAt: now - 12, by: "deadline" }, now)).toMatch(/^its absolute deadline passed 12 ms/);
    expect(expiredReason({ expiresAt: now - 3, by: "remainingMs" }, now)).toMatch(/remainingMs\) ran out 3 ms/);
    expect(deadlineHeaders(now, 250)).toEqual({ deadline: now + 250, remainingMs: 250 });
  });
});
