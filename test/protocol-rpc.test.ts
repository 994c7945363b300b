/**
 * Table-driven tests of the RPC framing of protocol 1.1 (src/protocol/rpc.ts, src/protocol/headers.ts): every v1
 * shape, every 1.1 shape and every malformed shape, with no sockets.
 */
import { describe, expect, test } from "vitest";
import { encodeHeaders, parseHeaders } from "../src/protocol/headers.js";
import { encodeReply, encodeRequest, parsePayload, parseReply, parseRequest } from "../src/protocol/rpc.js";

const b = (text: string): Buffer => Buffer.from(text);
const E = Buffer.alloc(0);
const id = (n: number): Buffer => {
  const frame = Buffer.alloc(4);
  frame.writeUInt32BE(n, 0);
  return frame;
};
const body = b('{"text":"a"}');

describe("parseRequest", () => {
  test.each([
    ["v1 from REQ, behind a ROUTER", [b("peer"), E, b("echo"), body], 2, undefined],
    ["v1 from a DEALER with a correlation frame", [b("peer"), b("corr"), E, b("echo"), body], 3, undefined],
    ["v1 with several hops", [b("p1"), b("p2"), b("p3"), E, b("m"), body], 4, undefined],
    ["1.1 with headers", [b("peer"), E, b("echo"), body, b('{"contract":"x.v1"}')], 2, { contract: "x.v1" }],
    [
      "1.1 with unknown header keys (kept, ignored)",
      [b("peer"), E, b("echo"), body, b('{"future":[1,2]}')],
      2,
      { future: [1, 2] },
    ],
    ["1.1 with frames after the headers (ignored)", [b("peer"), E, b("echo"), body, b("{}"), b("later"), E], 2, {}],
  ] as const)("a request: %s", (_label, frames, envelope, headers) => {
    const parsed = parseRequest([...frames]);
    expect(parsed).toEqual({
      kind: "request",
      envelope: frames.slice(0, envelope),
      method: frames[envelope]!.toString(),
      body,
      headers,
    });
  });

  test.each([
    ["nothing after the delimiter (a ZMQ_PROBE_ROUTER hello)", [b("peer"), E], /nothing follows the empty delimiter/],
    ["no body", [b("peer"), E, b("echo")], /body frame is missing/],
    ["an empty method (doubled delimiter)", [b("peer"), E, E, body], /method frame is empty/],
    ["a method that is not UTF-8", [b("peer"), E, Buffer.from([0xc3, 0x28]), body], /not valid UTF-8/],
    ["headers that are not JSON", [b("peer"), E, b("echo"), body, b("extra")], /not a JSON object/],
    ["headers that are a JSON array", [b("peer"), E, b("echo"), body, b("[]")], /not a JSON object/],
    ["headers that are JSON null", [b("peer"), E, b("echo"), body, b("null")], /not a JSON object/],
    [
      "a reserved header of the wrong type",
      [b("peer"), E, b("echo"), body, b('{"idempotent":"yes"}')],
      /`idempotent` must be a boolean/,
    ],
    ["a deadline that is null", [b("peer"), E, b("echo"), body, b('{"deadline":null}')], /`deadline` must be a number, got null/],
  ] as const)("malformed, answered: %s", (_label, frames, reason) => {
    const parsed = parseRequest([...frames]);
    expect(parsed.kind).toBe("malformed");
    if (parsed.kind !== "malformed") return;
    expect(parsed.envelope).toEqual(frames.slice(0, 2));
    expect(parsed.reason).toMatch(reason);
  });

  test.each([
    ["ok", [b("peer"), E, b("ok"), body]],
    ["error", [b("peer"), E, b("error"), body]],
    ["error with nothing after it", [b("peer"), E, b("error")]],
    ["ok from a v1 reply with headers", [b("peer"), E, b("ok"), body, b("{}")]],
  ] as const)("a stray reply, never answered: method frame %s", (_label, frames) => {
    expect(parseRequest([...frames])).toMatchObject({ kind: "stray-reply" });
  });

  test.each([
    ["one frame", [b("echo")]],
    ["method and body, no delimiter", [b("echo"), body]],
    ["no frames at all", []],
  ] as const)("unanswerable (no delimiter): %s", (_label, frames) => {
    expect(parseRequest([...frames])).toEqual({ kind: "unanswerable", frames: frames.length });
  });
});

describe("cancel notices", () => {
  test('a direct cancel notice is [...envelope, "", "$cancel", ""], with or without headers', () => {
    expect(parseRequest([b("peer"), id(4), E, b("$cancel"), E])).toEqual({
      kind: "cancel",
      envelope: [b("peer"), id(4), E],
      headers: undefined,
    });
    expect(parseRequest([b("peer"), E, b("$cancel"), E, b('{"correlationId":"c-1"}')])).toEqual({
      kind: "cancel",
      envelope: [b("peer"), E],
      headers: { correlationId: "c-1" },
    });
  });
  test("bad headers on a cancel notice leave it without a correlation id (never answered either way)", () => {
    expect(parseRequest([b("peer"), E, b("$cancel"), E, b("[]")])).toMatchObject({ kind: "cancel", headers: undefined });
  });
  test("a method that merely starts with $ is a request (answered UNKNOWN_METHOD by the server)", () => {
    expect(parseRequest([b("peer"), E, b("$cancelled"), body])).toMatchObject({ kind: "request", method: "$cancelled" });
  });
});

describe("parsePayload (an MDP REQUEST body in worker mode)", () => {
  const client = [b("token-8b")];
  test("[method, body, headers?] after no delimiter, answered to the client address frame", () => {
    expect(parsePayload([b("echo"), body], 0, client)).toEqual({
      kind: "request",
      envelope: client,
      method: "echo",
      body,
      headers: undefined,
    });
    expect(parsePayload([b("echo"), body, b('{"correlationId":"7"}')], 0, client)).toMatchObject({
      kind: "request",
      headers: { correlationId: "7" },
    });
  });
  test.each([
    ["an empty body", [], /nothing follows/],
    ["a plain MDP body of one frame", [b("hello")], /body frame is missing/],
    ["an opaque binary frame", [Buffer.from([0xff, 0xfe]), body], /not valid UTF-8/],
  ] as const)("malformed: %s", (_label, frames, reason) => {
    const parsed = parsePayload([...frames], 0, client);
    expect(parsed).toMatchObject({ kind: "malformed", envelope: client });
    if (parsed.kind === "malformed") expect(parsed.reason).toMatch(reason);
  });
  test("a stray reply keeps its envelope, so a worker can still answer it", () => {
    expect(parsePayload([b("ok"), body], 0, client)).toEqual({ kind: "stray-reply", envelope: client, status: "ok" });
  });
});

describe("parseReply", () => {
  test.each([
    ["ok, v1", [id(7), E, b("ok"), body], true, undefined],
    ["error, v1", [id(7), E, b("error"), body], false, undefined],
    ["ok with headers", [id(7), E, b("ok"), body, b('{"correlationId":"c"}')], true, { correlationId: "c" }],
    ["ok with headers and a later frame (ignored)", [id(7), E, b("ok"), body, b("{}"), b("later")], true, {}],
  ] as const)("a reply: %s", (_label, frames, ok, headers) => {
    expect(parseReply([...frames])).toEqual({ kind: "reply", id: 7, ok, body, headers });
  });

  test.each([
    ["a short correlation frame", [b("abc"), E, b("ok"), body], undefined, /not \[correlation id/],
    ["no delimiter", [id(3), b("x"), b("ok"), body], 3, /not \[correlation id/],
    ["no body", [id(3), E, b("ok")], 3, /not \[correlation id/],
    ["an unknown status", [id(3), E, b("maybe"), body], 3, /unknown status "maybe"/],
    ["headers that are not an object", [id(3), E, b("ok"), body, b("1")], 3, /not a JSON object/],
  ] as const)("malformed: %s", (_label, frames, expectedId, reason) => {
    const parsed = parseReply([...frames]);
    expect(parsed).toMatchObject({ kind: "malformed", id: expectedId });
    if (parsed.kind === "malformed") expect(parsed.reason).toMatch(reason);
  });
});

describe("encoders", () => {
  test("a request round-trips through the server's parser", () => {
    const headers = encodeHeaders({ version: "1.1", contract: "x.v1", deadline: 1_700_000_000_000, remainingMs: 500 });
    const frames = encodeRequest(9, b("echo"), body, headers).map((f) => Buffer.from(f));
    expect(frames[0]).toEqual(id(9));
    const parsed = parseRequest([b("peer"), ...frames]);
    expect(parsed).toMatchObject({
      kind: "request",
      method: "echo",
      headers: { version: "1.1", contract: "x.v1", remainingMs: 500 },
    });
    expect(encodeRequest(9, b("echo"), body)).toHaveLength(4);
  });

  test("a reply round-trips through the client's parser, with and without headers", () => {
    const envelope = [id(5), E];
    expect(parseReply(encodeReply(envelope, true, body).map((f) => Buffer.from(f)))).toEqual({
      kind: "reply",
      id: 5,
      ok: true,
      body,
      headers: undefined,
    });
    const withHeaders = encodeReply(envelope, false, body, encodeHeaders({ correlationId: "z" })).map((f) => Buffer.from(f));
    expect(parseReply(withHeaders)).toEqual({ kind: "reply", id: 5, ok: false, body, headers: { correlationId: "z" } });
  });
});

describe("parseHeaders", () => {
  test.each([
    ["{}", {}],
    ['{"version":"1.1","deadline":1,"remainingMs":0,"correlationId":"c","contract":"a.v1","idempotent":true}', null],
    ['{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tracestate":"k=v"}', null],
    ['{"publisherId":"p","epoch":3,"seq":42}', null],
    ['{"unknown":{"nested":true}}', null],
  ])("accepts %s", (text, expected) => {
    expect(parseHeaders(Buffer.from(text))).toEqual({ kind: "headers", headers: expected ?? JSON.parse(text) });
  });

  test.each([
    ["", /not a JSON object/],
    ["[]", /not a JSON object/],
    ['"text"', /not a JSON object/],
    ['{"seq":"1"}', /`seq` must be a number/],
    ['{"epoch":1e999}', /`epoch` must be a finite number/],
    ['{"traceparent":1}', /`traceparent` must be a string/],
  ])("refuses %j", (text, reason) => {
    const parsed = parseHeaders(Buffer.from(text));
    expect(parsed.kind).toBe("malformed");
    if (parsed.kind === "malformed") expect(parsed.reason).toMatch(reason);
  });

  test("refuses invalid UTF-8 and oversized frames", () => {
    expect(parseHeaders(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))).toMatchObject({ kind: "malformed" });
    expect(parseHeaders(Buffer.from(JSON.stringify({ pad: "x".repeat(9_000) })))).toMatchObject({
      kind: "malformed",
      reason: expect.stringMatching(/over the limit/),
    });
  });
});
