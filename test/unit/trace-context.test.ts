import { describe, expect, test } from "vitest";
import {
  TRACESTATE_MAX_LENGTH,
  checkTracestate,
  formatTraceparent,
  parseTraceparent,
  readTraceContext,
} from "../../src/protocol/trace-context.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;

describe("parseTraceparent", () => {
  test("reads a version 00 value", () => {
    expect(parseTraceparent(VALID)).toEqual({
      kind: "traceparent",
      value: { version: "00", traceId: TRACE_ID, parentId: PARENT_ID, flags: 1 },
    });
    expect(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`)).toMatchObject({ value: { flags: 0 } });
  });

  test("reads a higher version by its first four fields, with or without more after a dash", () => {
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-09`)).toMatchObject({ value: { version: "cc", flags: 9 } });
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-holds`)).toMatchObject({
      value: { version: "cc", traceId: TRACE_ID, parentId: PARENT_ID },
    });
  });

  test.each([
    ["too short", VALID.slice(0, 54), /shorter than the 55/],
    ["version 00 with more after it", `${VALID}-extra`, /exactly 55/],
    ["version ff", `ff-${TRACE_ID}-${PARENT_ID}-01`, /"ff"/],
    ["an uppercase version", `0A-${TRACE_ID}-${PARENT_ID}-01`, /version/],
    ["a higher version followed by something other than a dash", `cc-${TRACE_ID}-${PARENT_ID}-01x`, /dash/],
    ["an uppercase trace-id", `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`, /trace-id is not 32/],
    ["a non-hex trace-id", `00-${"g".repeat(32)}-${PARENT_ID}-01`, /trace-id is not 32/],
    ["an all-zero trace-id", `00-${"0".repeat(32)}-${PARENT_ID}-01`, /trace-id is all zeros/],
    ["an uppercase parent-id", `00-${TRACE_ID}-${PARENT_ID.toUpperCase()}-01`, /parent-id is not 16/],
    ["an all-zero parent-id", `00-${TRACE_ID}-${"0".repeat(16)}-01`, /parent-id is all zeros/],
    ["non-hex flags", `00-${TRACE_ID}-${PARENT_ID}-0x`, /trace-flags/],
    ["uppercase flags", `00-${TRACE_ID}-${PARENT_ID}-0A`, /trace-flags/],
    ["wrong separators", `00_${TRACE_ID}_${PARENT_ID}_01`, /dashes/],
    ["a shifted field", `00-${TRACE_ID}0-${PARENT_ID.slice(1)}-01`, /dashes/],
  ])("refuses %s", (_what, value, reason) => {
    const parsed = parseTraceparent(value);
    expect(parsed.kind).toBe("invalid");
    if (parsed.kind === "invalid") expect(parsed.reason).toMatch(reason);
  });
});

describe("formatTraceparent", () => {
  test("writes version 00 with two hex digits of flags, and round-trips", () => {
    expect(formatTraceparent(TRACE_ID, PARENT_ID, 1)).toBe(VALID);
    expect(formatTraceparent(TRACE_ID, PARENT_ID, 0)).toBe(`00-${TRACE_ID}-${PARENT_ID}-00`);
    expect(formatTraceparent(TRACE_ID, PARENT_ID, 0x1ff)).toBe(`00-${TRACE_ID}-${PARENT_ID}-ff`);
    const parsed = parseTraceparent(formatTraceparent(TRACE_ID, PARENT_ID, 3));
    expect(parsed).toMatchObject({ kind: "traceparent", value: { traceId: TRACE_ID, parentId: PARENT_ID, flags: 3 } });
  });
});

describe("checkTracestate", () => {
  test.each([
    ["one member", "rojo=00f067aa0ba902b7", ["rojo"]],
    ["two members with spaces and tabs", "rojo=1 ,\t congo=t61rcWkgMzE", ["rojo", "congo"]],
    ["a multi-tenant key", "fw529a3039@dt=abc, 1tenant@sys=x", ["fw529a3039@dt", "1tenant@sys"]],
    ["keys with the allowed punctuation", "a_b-c*d/e=v", ["a_b-c*d/e"]],
    ["a value with spaces inside and punctuation", "k=a b!~", ["k"]],
    ["empty members", "a=1,,  ,b=2", ["a", "b"]],
    ["an empty value list", "", []],
  ])("accepts %s", (_what, value, keys) => {
    expect(checkTracestate(value)).toEqual({ kind: "tracestate", keys });
  });

  test("accepts 32 members and refuses 33", () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v`).join(",");
    expect(checkTracestate(members(32)).kind).toBe("tracestate");
    expect(checkTracestate(members(33))).toMatchObject({ kind: "invalid", reason: /more than 32/ });
  });

  test(`refuses a value over ${TRACESTATE_MAX_LENGTH} characters`, () => {
    expect(checkTracestate(`k=${"v".repeat(TRACESTATE_MAX_LENGTH)}`)).toMatchObject({
      kind: "invalid",
      reason: /over the limit/,
    });
  });

  test.each([
    ["a member without =", "rojo", /no "="/],
    ["an uppercase key", "Rojo=1", /key "Rojo"/],
    ["a key starting with a digit (not multi-tenant)", "1abc=1", /key "1abc"/],
    ["a system-id over 14 characters", `t@${"s".repeat(15)}=1`, /key/],
    ["a key over 256 characters", `${"k".repeat(257)}=1`, /key/],
    ["an empty value", "k=", /value of key "k"/],
    ["a value with =", "k=a=b", /value of key "k"/],
    ["a value with a non-ASCII character", "k=é", /value of key "k"/],
    ["a duplicate key", "a=1,b=2,a=3", /appears twice/],
  ])("refuses %s", (_what, value, reason) => {
    const checked = checkTracestate(value);
    expect(checked.kind).toBe("invalid");
    if (checked.kind === "invalid") expect(checked.reason).toMatch(reason);
  });
});

describe("readTraceContext", () => {
  test("keeps a valid pair, drops an invalid tracestate, and gives nothing for a bad traceparent", () => {
    expect(readTraceContext(VALID, "a=1")).toEqual({ traceparent: VALID, tracestate: "a=1" });
    expect(readTraceContext(VALID, "A=1")).toEqual({ traceparent: VALID });
    expect(readTraceContext(VALID, undefined)).toEqual({ traceparent: VALID });
    expect(readTraceContext(VALID, "")).toEqual({ traceparent: VALID });
    expect(readTraceContext("00-bad", "a=1")).toBeUndefined();
    expect(readTraceContext(undefined, "a=1")).toBeUndefined();
    expect(readTraceContext(42, undefined)).toBeUndefined();
  });
});
