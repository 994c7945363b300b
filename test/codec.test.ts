import { describe, expect, test } from "vitest";
import { z } from "zod";
import { ErrorCode, MalformedMessageError, isMalformedMessageError, jsonCodec, msgpackCodec } from "../src/index.js";
import type { Codec } from "../src/index.js";
import { checkCodec, decodeBody, encodeBody } from "../src/internal/codec-io.js";

const codecs = [jsonCodec, msgpackCodec] as const;

/** Values both codecs carry unchanged. */
const roundTripValues: readonly (readonly [string, unknown])[] = [
  ["an object", { id: "order-1", total: 12.5, paid: false, note: null, tags: ["a", "b"] }],
  ["a nested structure", { a: { b: { c: [1, [2, [3, { d: "deep" }]]] } } }],
  ["an array", [1, "two", true, null, { three: 3 }]],
  ["a unicode string", "héllo wörld ✓ 你好 🎉"],
  ["an empty string", ""],
  ["a negative float", -1234.5678],
  ["zero", 0],
  ["a large safe integer", Number.MAX_SAFE_INTEGER],
  ["true", true],
  ["null", null],
  ["an empty object", {}],
  ["an empty array", []],
];

function roundTrip(codec: Codec, value: unknown): unknown {
  const bytes = codec.encode(value);
  expect(bytes).toBeInstanceOf(Uint8Array);
  return codec.decode(bytes);
}

describe.each(codecs)("$name codec", (codec) => {
  test.each(roundTripValues)("round-trips %s", (_label, value) => {
    expect(roundTrip(codec, value)).toStrictEqual(value);
  });

  test("leaves out undefined object fields", () => {
    const decoded = roundTrip(codec, { a: undefined, b: 1, nested: { c: undefined, d: "x" } });
    expect(decoded).toStrictEqual({ b: 1, nested: { d: "x" } });
    expect(Object.keys(decoded as object)).toEqual(["b", "nested"]);
  });

  test("an optional field left undefined still parses with its zod schema after a round trip", () => {
    const Schema = z.object({ a: z.string().optional(), b: z.number() });
    const sent: z.infer<typeof Schema> = { a: undefined, b: 2 };
    const result = Schema.safeParse(roundTrip(codec, sent));
    expect(result.success).toBe(true);
    expect(result.data).toStrictEqual({ b: 2 });
  });

  test("has a non-empty name", () => {
    expect(codec.name.length).toBeGreaterThan(0);
  });
});

describe("jsonCodec", () => {
  test("encodes UTF-8 JSON text", () => {
    const bytes = jsonCodec.encode({ greeting: "héllo" });
    expect(Buffer.from(bytes).toString("utf8")).toBe('{"greeting":"héllo"}');
  });

  test("decodes JSON written by another program", () => {
    expect(jsonCodec.decode(Buffer.from('{ "id" : 7, "items": [ ] }', "utf8"))).toStrictEqual({ id: 7, items: [] });
  });

  test("refuses to encode undefined with a TypeError", () => {
    expect(() => jsonCodec.encode(undefined)).toThrow(TypeError);
    expect(() => jsonCodec.encode(undefined)).toThrow("the json codec cannot encode undefined values");
  });

  test("refuses to encode a function or a symbol with a TypeError", () => {
    expect(() => jsonCodec.encode(() => 1)).toThrow(/cannot encode function values/);
    expect(() => jsonCodec.encode(Symbol("s"))).toThrow(/cannot encode symbol values/);
  });

  test("does not carry Uint8Array fields as binary (use msgpackCodec for that)", () => {
    const Schema = z.object({ data: z.instanceof(Uint8Array) });
    const decoded = roundTrip(jsonCodec, { data: new Uint8Array([1, 2, 3]) });
    expect(Schema.safeParse(decoded).success).toBe(false);
  });
});

describe("msgpackCodec", () => {
  const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

  test("carries a Uint8Array field byte for byte", () => {
    const decoded = roundTrip(msgpackCodec, { data: allBytes }) as { data: unknown };
    expect(decoded.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(decoded.data as Uint8Array)).toEqual(Array.from(allBytes));
  });

  test("carries an empty Uint8Array and a top-level Uint8Array", () => {
    const empty = roundTrip(msgpackCodec, { data: new Uint8Array(0) }) as { data: unknown };
    expect(empty.data).toBeInstanceOf(Uint8Array);
    expect((empty.data as Uint8Array).length).toBe(0);
    const top = roundTrip(msgpackCodec, allBytes);
    expect(top).toBeInstanceOf(Uint8Array);
    expect(Array.from(top as Uint8Array)).toEqual(Array.from(allBytes));
  });

  test("carries a Buffer as a Uint8Array with the same bytes", () => {
    const decoded = roundTrip(msgpackCodec, { data: Buffer.from("binary\u0000data", "latin1") }) as { data: unknown };
    expect(decoded.data).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(decoded.data as Uint8Array).toString("latin1")).toBe("binary\u0000data");
  });

  test("carries Uint8Array fields inside nested objects and arrays, validated by z.instanceof(Uint8Array)", () => {
    const Bytes = z.instanceof(Uint8Array);
    const Upload = z.object({
      id: z.string(),
      body: Bytes,
      parts: z.array(z.object({ index: z.number(), chunk: Bytes })),
      meta: z.object({ thumbnail: z.object({ png: Bytes }), hashes: z.array(Bytes) }),
    });
    const sent: z.infer<typeof Upload> = {
      id: "upload-1",
      body: allBytes,
      parts: [
        { index: 0, chunk: new Uint8Array([0xff, 0x00, 0x7f]) },
        { index: 1, chunk: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) },
      ],
      meta: {
        thumbnail: { png: new Uint8Array([0x89, 0x50, 0x4e, 0x47]) },
        hashes: [new Uint8Array(32).fill(0xab), new Uint8Array([1])],
      },
    };
    const received = Upload.parse(roundTrip(msgpackCodec, sent));
    expect(received).toStrictEqual(sent);
    expect(received.body).toBeInstanceOf(Uint8Array);
    expect(Array.from(received.body)).toEqual(Array.from(allBytes));
    expect(Array.from(received.parts[1]?.chunk ?? [])).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(Array.from(received.meta.thumbnail.png)).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(received.meta.hashes.map((h) => h.length)).toEqual([32, 1]);
    expect(received.meta.hashes.every((h) => h instanceof Uint8Array)).toBe(true);
  });

  test("carries undefined array items as null, like JSON", () => {
    expect(roundTrip(msgpackCodec, [1, undefined, 3])).toStrictEqual([1, null, 3]);
    expect(roundTrip(jsonCodec, [1, undefined, 3])).toStrictEqual([1, null, 3]);
  });
});

describe("decodeBody", () => {
  function malformed(codec: Codec, bytes: Uint8Array, where: string): MalformedMessageError {
    try {
      decodeBody(codec, bytes, where);
    } catch (err) {
      if (err instanceof MalformedMessageError) return err;
      throw err;
    }
    throw new Error(`decodeBody(${codec.name}) accepted ${Buffer.from(bytes).toString("hex")}`);
  }

  test("returns the decoded value for a valid body", () => {
    expect(decodeBody(jsonCodec, jsonCodec.encode({ ok: true }), "RpcServer")).toStrictEqual({ ok: true });
    expect(decodeBody(msgpackCodec, msgpackCodec.encode({ ok: true }), "RpcServer")).toStrictEqual({ ok: true });
  });

  test("turns invalid JSON into MalformedMessageError naming the codec", () => {
    const bytes = Buffer.from("{not json", "utf8");
    const err = malformed(jsonCodec, bytes, 'Request to "orders.v1/getOrder"');
    expect(err.code).toBe(ErrorCode.MALFORMED);
    expect(err.code).toBe("MALFORMED");
    expect(isMalformedMessageError(err)).toBe(true);
    expect(err.message).toContain('Request to "orders.v1/getOrder": the body (9 bytes) is not valid json: ');
    expect(err.message).toContain("Check that both sides use the same codec.");
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  test("turns invalid UTF-8 into MalformedMessageError naming the codec", () => {
    const err = malformed(jsonCodec, Buffer.from([0xff, 0xfe]), "RpcClient reply");
    expect(err.code).toBe("MALFORMED");
    expect(err.message).toContain("RpcClient reply: the body (2 bytes) is not valid json");
    expect(err.cause).toBeInstanceOf(Error);
  });

  test("rejects an invalid UTF-8 byte inside a JSON string instead of replacing it", () => {
    // `"<0x80>"`: a lossy decoder would yield "\uFFFD", which JSON.parse accepts; the codec must refuse it.
    const bytes = Buffer.from([0x22, 0x80, 0x22]);
    expect(JSON.parse(Buffer.from(bytes).toString("utf8"))).toBe("\uFFFD");
    const err = malformed(jsonCodec, bytes, "Subscriber");
    expect(err.message).toContain("Subscriber: the body (3 bytes) is not valid json");
  });

  test.each([
    ["a reserved type byte", [0xc1]],
    ["a truncated array", [0x92, 0x01]],
    ["trailing bytes", [0x01, 0x02]],
    ["an empty body", []],
  ])("turns invalid msgpack (%s) into MalformedMessageError naming the codec", (_label, bytes) => {
    const body = Uint8Array.from(bytes);
    const err = malformed(msgpackCodec, body, "Subscriber");
    expect(err.code).toBe("MALFORMED");
    expect(err.message).toContain(`Subscriber: the body (${body.length} bytes) is not valid msgpack: `);
    expect(err.cause).toBeInstanceOf(Error);
  });

  test("turns an empty body into MalformedMessageError for json too", () => {
    const err = malformed(jsonCodec, new Uint8Array(0), "PipelineWorker");
    expect(err.message).toContain("the body (0 bytes) is not valid json");
  });
});

describe("encodeBody", () => {
  test("returns the codec's bytes for a valid value", () => {
    const bytes = encodeBody(jsonCodec, { id: 1 }, "RpcClient.call");
    expect(Buffer.from(bytes).toString("utf8")).toBe('{"id":1}');
  });

  test("wraps a JSON failure (BigInt) in a TypeError naming the codec and the place", () => {
    let caught: unknown;
    try {
      encodeBody(jsonCodec, { amount: 10n }, 'Request to "orders.v1/pay"');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TypeError);
    if (!(caught instanceof TypeError)) return;
    expect(caught.message).toContain('Request to "orders.v1/pay": the json codec could not encode the value: ');
    expect(caught.message).toContain("BigInt");
    expect(caught.cause).toBeInstanceOf(TypeError);
  });

  test("wraps the json codec's refusal of undefined", () => {
    expect(() => encodeBody(jsonCodec, undefined, "Publisher.publish")).toThrow(
      "Publisher.publish: the json codec could not encode the value: the json codec cannot encode undefined values",
    );
  });

  test("wraps a msgpack failure in a TypeError naming the msgpack codec", () => {
    expect(() => encodeBody(msgpackCodec, { amount: 10n }, "Publisher.publish")).toThrow(TypeError);
    expect(() => encodeBody(msgpackCodec, { amount: 10n }, "Publisher.publish")).toThrow(
      /^Publisher\.publish: the msgpack codec could not encode the value: /,
    );
  });
});

describe("checkCodec", () => {
  const notCodecs: readonly (readonly [string, unknown])[] = [
    ["undefined", undefined],
    ["null", null],
    ["a string", "json"],
    ["an empty object", {}],
    ["an object without decode", { name: "half", encode: (): Uint8Array => new Uint8Array() }],
    ["an object without encode", { name: "half", decode: (): unknown => null }],
    ["an object without a name", { encode: (): Uint8Array => new Uint8Array(), decode: (): unknown => null }],
    ["an object with a non-string name", { name: 1, encode: (): Uint8Array => new Uint8Array(), decode: (): unknown => null }],
    ["a function", (): Uint8Array => new Uint8Array()],
  ];

  test.each(notCodecs)("rejects %s with a TypeError naming the option", (_label, value) => {
    expect(() => checkCodec(value, "codec")).toThrow(TypeError);
    expect(() => checkCodec(value, "codec")).toThrow(/^`codec` must be a codec: /);
  });

  test("names whichever option it was given", () => {
    expect(() => checkCodec({}, "options.codec")).toThrow("`options.codec` must be a codec");
  });

  test("returns the built-in codecs unchanged", () => {
    expect(checkCodec(jsonCodec, "codec")).toBe(jsonCodec);
    expect(checkCodec(msgpackCodec, "codec")).toBe(msgpackCodec);
  });
});

describe("a custom codec", () => {
  /** Strings only, upper-cased on the wire: enough to tell it apart from JSON. */
  const shout: Codec = {
    name: "shout",
    encode(value: unknown): Uint8Array {
      if (typeof value !== "string") throw new TypeError(`shout encodes strings only, got ${typeof value}`);
      return Buffer.from(value.toUpperCase(), "utf8");
    },
    decode(bytes: Uint8Array): unknown {
      if (bytes.length === 0) throw new RangeError("empty shout");
      return Buffer.from(bytes).toString("utf8");
    },
  };

  /** Throws values that are not Errors, which typed-zmq must still turn into Errors. */
  const unruly: Codec = {
    name: "unruly",
    encode(): Uint8Array {
      throw "cannot encode";
    },
    decode(): unknown {
      throw { reason: "cannot decode" };
    },
  };

  test("passes checkCodec", () => {
    expect(checkCodec(shout, "codec")).toBe(shout);
  });

  test("works with encodeBody and decodeBody", () => {
    const bytes = encodeBody(shout, "hello", "Pusher.send");
    expect(Buffer.from(bytes).toString("utf8")).toBe("HELLO");
    expect(decodeBody(shout, bytes, "PipelineWorker")).toBe("HELLO");
  });

  test("its encode failure becomes a TypeError naming it", () => {
    expect(() => encodeBody(shout, 42, "Pusher.send")).toThrow(
      "Pusher.send: the shout codec could not encode the value: shout encodes strings only, got number.",
    );
  });

  test("its decode failure becomes a MalformedMessageError naming it, with the original as cause", () => {
    let caught: unknown;
    try {
      decodeBody(shout, new Uint8Array(0), "PipelineWorker");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MalformedMessageError);
    if (!(caught instanceof MalformedMessageError)) return;
    expect(caught.message).toBe(
      "PipelineWorker: the body (0 bytes) is not valid shout: empty shout. Check that both sides use the same codec.",
    );
    expect(caught.cause).toBeInstanceOf(RangeError);
  });

  test("non-Error values thrown by a codec are wrapped into Errors", () => {
    let decodeFailure: unknown;
    try {
      decodeBody(unruly, new Uint8Array([1]), "Subscriber");
    } catch (err) {
      decodeFailure = err;
    }
    expect(decodeFailure).toBeInstanceOf(MalformedMessageError);
    if (!(decodeFailure instanceof MalformedMessageError)) return;
    expect(decodeFailure.message).toContain('is not valid unruly: non-Error value thrown: {"reason":"cannot decode"}.');
    expect(decodeFailure.cause).toBeInstanceOf(Error);

    let encodeFailure: unknown;
    try {
      encodeBody(unruly, "x", "Publisher.publish");
    } catch (err) {
      encodeFailure = err;
    }
    expect(encodeFailure).toBeInstanceOf(TypeError);
    if (!(encodeFailure instanceof TypeError)) return;
    expect(encodeFailure.message).toBe(
      "Publisher.publish: the unruly codec could not encode the value: non-Error value thrown: cannot encode.",
    );
    expect(encodeFailure.cause).toBeInstanceOf(Error);
  });
});
