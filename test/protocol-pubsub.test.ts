import { describe, expect, test } from "vitest";
import { pack } from "../src/protocol/batch.js";
import { encodeHeaders, parseHeaders } from "../src/protocol/headers.js";
import { encodePubSubBatch, encodePubSubMessage, matchesAtBoundary, parsePubSub } from "../src/protocol/pubsub.js";

const b = (s: string): Buffer => Buffer.from(s, "utf8");
const E = Buffer.alloc(0);
const BODY = b('{"n":1}');
const H = encodeHeaders({ publisherId: "p1", epoch: 5, seq: 7, future: [1] });
const PACKED = pack([b("1"), b("22")], 3);

describe("parsePubSub: every valid shape", () => {
  test.each([
    ["v1 message [topic, body]", [b("price.GOOG"), BODY], { kind: "message", topic: "price.GOOG", body: BODY }],
    ["v1 message with an empty body (the codec refuses it later)", [b("t"), E], { kind: "message", topic: "t", body: E }],
    ["v1 message, empty topic", [E, BODY], { kind: "message", topic: "", body: BODY }],
    ["v1 batch [topic, '', packed]", [b("t"), E, PACKED], { kind: "batch", topic: "t", bodies: [b("1"), b("22")] }],
    ["v1 empty batch", [b("t"), E, E], { kind: "batch", topic: "t", bodies: [] }],
    [
      "1.1 message [topic, body, H]",
      [b("t"), BODY, H],
      { kind: "message", topic: "t", body: BODY, headers: { publisherId: "p1", epoch: 5, seq: 7, future: [1] } },
    ],
    ["1.1 message, empty headers object", [b("t"), BODY, b("{}")], { kind: "message", topic: "t", body: BODY, headers: {} }],
    [
      "1.1 batch [topic, '', packed, H]",
      [b("t"), E, PACKED, H],
      { kind: "batch", topic: "t", bodies: [b("1"), b("22")], headers: { publisherId: "p1", epoch: 5, seq: 7, future: [1] } },
    ],
  ])("%s", (_name, frames, expected) => {
    expect(parsePubSub(frames)).toEqual(expected);
  });
});

describe("parsePubSub: every malformed shape", () => {
  test.each([
    ["no frames", [], /expected 2 frames \[topic, body\], got 0/, undefined],
    ["one frame", [b("t")], /got 1/, undefined],
    ["five frames", [b("t"), E, PACKED, H, H], /got 5/, undefined],
    [
      "four frames without the batch marker",
      [b("t"), BODY, H, H],
      /got 4 frames, but the second is not the empty batch marker/,
      undefined,
    ],
    ["topic not UTF-8", [Buffer.from([0xff, 0xfe]), BODY], /topic frame is not valid UTF-8/, undefined],
    [
      "3 frames, last not JSON",
      [b("t"), BODY, b("extra")],
      /got 3 frames on "t", and the last is not a headers frame: .*not a JSON object in UTF-8/,
      "t",
    ],
    ["3 frames, last a JSON array", [b("t"), BODY, b("[1]")], /not a JSON object/, "t"],
    ["3 frames, last JSON null", [b("t"), BODY, b("null")], /not a JSON object/, "t"],
    ["3 frames, last a JSON string", [b("t"), BODY, b('"x"')], /not a JSON object/, "t"],
    ["3 frames, last not UTF-8", [b("t"), BODY, Buffer.from([0xff])], /not a JSON object in UTF-8/, "t"],
    ["4 frames, headers not JSON", [b("t"), E, PACKED, b("x")], /got 4 frames.*not a headers frame/, "t"],
    ["batch lengths short", [b("t"), E, PACKED.subarray(0, PACKED.length - 1)], /lengths that do not add up/, "t"],
    ["batch length prefix cut", [b("t"), E, Buffer.from([0, 0, 0])], /lengths that do not add up/, "t"],
    ["batch with headers, lengths bad", [b("t"), E, Buffer.from([0, 0, 0, 9, 1]), H], /lengths that do not add up/, "t"],
  ])("%s", (_name, frames, reason, topic) => {
    const parsed = parsePubSub(frames);
    expect(parsed.kind).toBe("malformed");
    if (parsed.kind !== "malformed") return;
    expect(parsed.reason).toMatch(reason);
    expect(parsed.topic).toBe(topic);
  });
});

describe("pub-sub encoders", () => {
  test("v1 shapes without headers, headers last with them, and parse inverts them", () => {
    expect(encodePubSubMessage("t", BODY)).toEqual(["t", BODY]);
    expect(encodePubSubMessage("t", BODY, H)).toEqual(["t", BODY, H]);
    expect(encodePubSubBatch("t", PACKED)).toEqual(["t", E, PACKED]);
    expect(encodePubSubBatch("t", PACKED, H)).toEqual(["t", E, PACKED, H]);
    const frames = encodePubSubBatch("t", PACKED, H).map((f) => Buffer.from(f));
    expect(parsePubSub(frames)).toMatchObject({ kind: "batch", topic: "t", headers: { seq: 7 } });
  });

  test("headers are a JSON object in UTF-8, and unknown keys are kept", () => {
    expect(JSON.parse(H.toString("utf8"))).toEqual({ publisherId: "p1", epoch: 5, seq: 7, future: [1] });
    expect(parseHeaders(H)).toEqual({ kind: "headers", headers: { publisherId: "p1", epoch: 5, seq: 7, future: [1] } });
    expect(parseHeaders(b(""))).toMatchObject({ kind: "malformed" });
  });
});

describe("matchesAtBoundary", () => {
  test.each([
    ["price.GOOG", "price.GOOG", true],
    ["price.GOOG.x", "price.GOOG", true],
    ["price.GOOGL", "price.GOOG", false],
    ["price.GOO", "price.GOOG", false],
    ["price", "price.GOOG", false],
    ["anything", "", true],
    ["", "", true],
    ["price.GOOG", "price.", true],
    ["price.", "price.", true],
    ["prices", "price", false],
    ["price.x", "price", true],
    ["other.price", "price", false],
  ])("%s against subscription %j: %s", (topic, subscription, expected) => {
    expect(matchesAtBoundary(topic, subscription)).toBe(expected);
  });
});
