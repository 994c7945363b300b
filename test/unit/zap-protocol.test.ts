// Table-driven tests of the pure ZAP 1.0 framing (protocol/zap.ts, rfc.zeromq.org 27/ZAP) and of Z85
// (security/z85.ts, 32/Z85).
import * as zmq from "zeromq";
import { describe, expect, test } from "vitest";
import { encodeZapReply, parseZapRequest, ZapStatus } from "../../src/protocol/zap.js";
import { isZ85Key, z85Decode, z85Encode, z85KeyProblem } from "../../src/security/z85.js";

const f = (...parts: Array<string | Uint8Array>): Buffer[] =>
  parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p)));
const text = (frames: readonly Uint8Array[]): string[] => frames.map((x) => Buffer.from(x).toString("latin1"));

const KEY = new Uint8Array(32).map((_, i) => i * 7);
/** A request as the handler's ROUTER receives it: routing id, delimiter, then the RFC's frames. */
const request = (...tail: Array<string | Uint8Array>): Buffer[] => f("rid", "", "1.0", "0001", "dom", "127.0.0.1", "", ...tail);

describe("Z85", () => {
  test("encodes the 32/Z85 test vector", () => {
    const bytes = Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe("HelloWorld");
    expect(Uint8Array.from(z85Decode("HelloWorld"))).toEqual(bytes);
  });
  test("round-trips libzmq's keys", () => {
    const { publicKey, secretKey } = zmq.curveKeyPair();
    for (const key of [publicKey, secretKey]) {
      const bytes = z85Decode(key);
      expect(bytes.length).toBe(32);
      expect(z85Encode(bytes)).toBe(key);
      expect(isZ85Key(key)).toBe(true);
    }
  });
  test.each([
    ["a length other than 40", "0".repeat(41)],
    ["a character outside the alphabet", '"' + "0".repeat(39)],
    ["a group above 2^32 - 1", "#####" + "0".repeat(35)],
  ])("refuses a key with %s", (_, input) => {
    expect(z85KeyProblem(input)).toBeDefined();
    expect(isZ85Key(input)).toBe(false);
  });
  test("refuses to encode a length that is not a multiple of 4, and isZ85Key wants 40 characters", () => {
    expect(() => z85Encode(new Uint8Array(3))).toThrow(RangeError);
    expect(isZ85Key("HelloWorld")).toBe(false);
    expect(isZ85Key("#".repeat(40))).toBe(false);
  });
});

describe("parseZapRequest", () => {
  test.each([
    ["NULL", request("NULL"), { mechanism: "NULL" }],
    ["PLAIN", request("PLAIN", "admin", "secret"), { mechanism: "PLAIN", username: "admin", password: "secret" }],
    ["CURVE", request("CURVE", KEY), { mechanism: "CURVE", publicKey: Buffer.from(KEY) }],
  ])("reads a %s request", (_, frames, credentials) => {
    expect(parseZapRequest(frames)).toEqual({
      kind: "request",
      envelope: f("rid"),
      requestId: Buffer.from("0001"),
      domain: "dom",
      address: "127.0.0.1",
      identity: Buffer.alloc(0),
      credentials,
    });
  });

  test("keeps a multi-hop envelope, the identity and an empty domain (libzmq sends one without zapDomain)", () => {
    const parsed = parseZapRequest(f("a", "b", "", "1.0", "", "", "::1", "BOB", "NULL"));
    expect(parsed).toMatchObject({ kind: "request", domain: "", address: "::1", requestId: Buffer.alloc(0) });
    if (parsed.kind !== "request") throw new Error("expected a request");
    expect(text(parsed.envelope)).toEqual(["a", "b"]);
    expect(text([parsed.identity])).toEqual(["BOB"]);
  });

  test("reports another mechanism as unsupported, still answerable", () => {
    expect(parseZapRequest(request("GSSAPI", "token"))).toMatchObject({
      kind: "unsupported",
      mechanism: "GSSAPI",
      domain: "dom",
    });
  });

  test.each([
    ["no delimiter", f("rid", "1.0", "0001"), "no routing id and empty delimiter before the request", false],
    ["no routing id", f("", "1.0", "0001"), "no routing id and empty delimiter before the request", false],
    ["no request id", f("rid", "", "1.0"), "the version or request id frame is missing", false],
    ["another version", f("rid", "", "2.0", "0001", "dom", "127.0.0.1", "", "NULL"), 'the version is not "1.0"', true],
    ["too few frames", f("rid", "", "1.0", "0001", "dom"), "the request has 3 frames after the delimiter; at least 6", true],
    ["an empty mechanism", request(""), "the mechanism is empty", true],
    ["NULL with credentials", request("NULL", "x"), "NULL takes 0 credential frames, got 1", true],
    ["PLAIN without a password", request("PLAIN", "admin"), "PLAIN takes 2 credential frames, got 1", true],
    ["CURVE with two frames", request("CURVE", KEY, KEY), "CURVE takes 1 credential frame, got 2", true],
    ["a short CURVE key", request("CURVE", new Uint8Array(31)), "the CURVE public key is 31 bytes; it must be 32", true],
    ["a non-ASCII domain", f("rid", "", "1.0", "1", "dôm", "127.0.0.1", "", "NULL"), "the domain is not printable ASCII", true],
    ["a long address", f("rid", "", "1.0", "1", "d", "1".repeat(256), "", "NULL"), "the address is 256 bytes; at most 255", true],
    [
      "a long identity",
      f("rid", "", "1.0", "1", "d", "::1", "i".repeat(256), "NULL"),
      "the identity is 256 bytes; at most 255",
      true,
    ],
    ["bad UTF-8 in a username", request("PLAIN", Uint8Array.from([0xff]), "pw"), "the PLAIN username is not valid UTF-8", true],
  ])("malformed: %s", (_, frames, reason, answerable) => {
    const parsed = parseZapRequest(frames);
    expect(parsed).toMatchObject({ kind: "malformed", reason });
    expect(parsed.kind === "malformed" && parsed.replyTo !== undefined).toBe(answerable);
  });

  test("never throws on random frames", () => {
    for (let i = 0; i < 500; i++) {
      const frames = Array.from({ length: i % 12 }, (_, j) =>
        Buffer.from(Array.from({ length: (i * 31 + j * 7) % 40 }, (_, k) => (i * 13 + j * 5 + k * 3) % 256)),
      );
      expect(() => parseZapRequest(frames)).not.toThrow();
    }
  });
});

describe("encodeZapReply", () => {
  const to = { envelope: f("a", "b"), requestId: Buffer.from("0001") };
  test.each([
    [{ status: ZapStatus.OK, statusText: "OK", userId: "joe" }, ["a", "b", "", "1.0", "0001", "200", "OK", "joe", ""]],
    // the RFC: the user id SHALL be empty for any status but 200
    [
      { status: ZapStatus.DENIED, statusText: "unknown-key", userId: "joe" },
      ["a", "b", "", "1.0", "0001", "400", "unknown-key", "", ""],
    ],
    [{ status: ZapStatus.INTERNAL }, ["a", "b", "", "1.0", "0001", "500", "", "", ""]],
    [
      { status: ZapStatus.TEMPORARY, statusText: "é\n".padEnd(300, "x") },
      ["a", "b", "", "1.0", "0001", "300", "??".padEnd(255, "x"), "", ""],
    ],
  ])("%j", (reply, expected) => {
    expect(text(encodeZapReply(to, reply))).toEqual(expected);
  });

  test("answers the request it parsed", () => {
    const parsed = parseZapRequest(request("NULL"));
    if (parsed.kind !== "request") throw new Error("expected a request");
    expect(text(encodeZapReply(parsed, { status: ZapStatus.OK, statusText: "OK" }))).toEqual([
      "rid",
      "",
      "1.0",
      "0001",
      "200",
      "OK",
      "",
      "",
    ]);
  });
});
