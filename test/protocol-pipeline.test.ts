import { describe, expect, test } from "vitest";
import { jsonCodec, msgpackCodec } from "../src/index.js";
import { pack } from "../src/protocol/batch.js";
import { encodeHeaders } from "../src/protocol/headers.js";
import { encodePipelineBatch, encodePipelineFailure, encodePipelineMessage, parsePipeline } from "../src/protocol/pipeline.js";

const b = (s: string): Buffer => Buffer.from(s, "utf8");
const E = Buffer.alloc(0);
const BODY = b('{"id":1}');
const FAIL = b('{"code":"HANDLER_ERROR","message":"boom"}');
const H = encodeHeaders({ traceparent: "00-abc-def-01", future: true });
const HEADERS = { traceparent: "00-abc-def-01", future: true };
const PACKED = pack([b("1"), b("22")], 3);

describe("parsePipeline: every valid shape", () => {
  test.each([
    ["v1 task/result [body]", [BODY], { kind: "message", body: BODY }],
    ["v1 [body] that is empty (the codec refuses it later)", [E], { kind: "message", body: E }],
    ["v1 [body] that reads 'error' alone", [b("error")], { kind: "message", body: b("error") }],
    ["v1 failure ['error', body]", [b("error"), FAIL], { kind: "failure", body: FAIL }],
    ["v1 batch ['', packed]", [E, PACKED], { kind: "batch", bodies: [b("1"), b("22")] }],
    ["v1 empty batch", [E, E], { kind: "batch", bodies: [] }],
    ["1.1 [body, H]", [BODY, H], { kind: "message", body: BODY, headers: HEADERS }],
    ["1.1 ['error', body, H]", [b("error"), FAIL, H], { kind: "failure", body: FAIL, headers: HEADERS }],
    ["1.1 ['', packed, H]", [E, PACKED, H], { kind: "batch", bodies: [b("1"), b("22")], headers: HEADERS }],
  ])("%s", (_name, frames, expected) => {
    expect(parsePipeline(frames)).toEqual(expected);
  });
});

describe("parsePipeline: every malformed shape", () => {
  test.each([
    ["no frames", [], /got 0 frames/],
    ["four frames", [E, PACKED, H, H], /got 4 frames/],
    [
      "two frames, the second not headers",
      [b("two"), b("frames")],
      /got 2 frames whose last is not a headers frame \(the headers frame is not a JSON object in UTF-8\)/,
    ],
    ["two frames, headers a JSON array", [BODY, b("[]")], /not a JSON object/],
    ["'ERROR' is not the failure marker", [b("ERROR"), b("x")], /got 2 frames whose last is not a headers frame/],
    ["three frames, first not a marker", [b("a"), b("b"), b("c")], /got 3 frames whose first is neither "" nor "error"/],
    ["three frames, first not a marker, valid headers", [BODY, BODY, H], /got 3 frames whose first is neither/],
    ["failure with headers not JSON", [b("error"), FAIL, b("x")], /got 3 frames whose last is not a headers frame/],
    ["batch with headers not JSON", [E, PACKED, b("{")], /got 3 frames whose last is not a headers frame/],
    ["batch lengths bad", [E, Buffer.from([0, 0, 0, 5, 1])], /lengths that do not add up/],
    ["batch with headers, lengths bad", [E, Buffer.from([0, 0]), H], /lengths that do not add up/],
  ])("%s", (_name, frames, reason) => {
    const parsed = parsePipeline(frames);
    expect(parsed).toMatchObject({ kind: "malformed" });
    if (parsed.kind === "malformed") expect(parsed.reason).toMatch(reason);
  });
});

describe("pipeline encoders", () => {
  test("v1 shapes without headers, headers last with them, and parse inverts them", () => {
    expect(encodePipelineMessage(BODY)).toEqual([BODY]);
    expect(encodePipelineMessage(BODY, H)).toEqual([BODY, H]);
    expect(encodePipelineFailure(FAIL).map(String)).toEqual(["error", String(FAIL)]);
    expect(encodePipelineFailure(FAIL, H).map(String)).toEqual(["error", String(FAIL), String(H)]);
    expect(encodePipelineBatch(PACKED)).toEqual([E, PACKED]);
    expect(encodePipelineBatch(PACKED, H)).toEqual([E, PACKED, H]);
    for (const frames of [encodePipelineMessage(BODY, H), encodePipelineFailure(FAIL, H), encodePipelineBatch(PACKED, H)]) {
      expect(parsePipeline(frames.map((f) => Buffer.from(f)))).toMatchObject({ headers: HEADERS });
    }
  });

  test.each([jsonCodec, msgpackCodec])("the $name codec never makes a body that reads as a marker", (codec) => {
    for (const value of ["error", "", 0, null, false, {}, [], "e"]) {
      const body = Buffer.from(codec.encode(value));
      expect(body.length).toBeGreaterThan(0);
      expect(body.equals(b("error"))).toBe(false);
    }
    expect(() => codec.decode(b("error"))).toThrow();
  });
});
