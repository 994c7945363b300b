/**
 * @packageDocumentation
 * Codecs turn values into message bodies and back; validation is a separate step (see `contract.ts`).
 *
 * Depends on `errors/` and `@msgpack/msgpack`. JSON (UTF-8) is the default; {@link msgpackCodec} carries binary
 * fields (`Uint8Array`) intact. Any object with `encode` and `decode` is a codec.
 */
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";
import { InvalidArgumentError } from "./errors/index.js";

/**
 * Turns values into message bodies and back. Both ends of a connection must use the same codec.
 *
 * `encode` may throw for a value it cannot represent; `decode` may throw for bytes it cannot read. typed-zmq wraps
 * such failures in a {@link MalformedMessageError} (decode) or a clear error naming the codec (encode).
 */
export interface Codec {
  /** Short name used in error messages, for example `json`. */
  readonly name: string;
  /** Serializes one value into one frame. */
  encode(value: unknown): Uint8Array;
  /** Parses one frame back into a value. */
  decode(bytes: Uint8Array): unknown;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * JSON in UTF-8, the default codec. `undefined` object fields are left out, as `JSON.stringify` does.
 * Decoding rejects bytes that are not valid UTF-8 or not valid JSON.
 */
export const jsonCodec: Codec = {
  name: "json",
  encode(value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify returns undefined for undefined, functions and symbols, whatever its lib type says
    if (text === undefined) {
      throw new InvalidArgumentError(
        `the json codec cannot encode ${typeof value} values; send an object, array, string, number, boolean or null`,
      );
    }
    return Buffer.from(text, "utf8");
  },
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  },
};

/**
 * MessagePack (`@msgpack/msgpack`). Carries `Uint8Array` fields as binary, so a schema such as
 * `z.instanceof(Uint8Array)` round-trips. `undefined` object fields are left out, as with JSON.
 */
export const msgpackCodec: Codec = {
  name: "msgpack",
  encode(value: unknown): Uint8Array {
    return msgpackEncode(value, { ignoreUndefined: true });
  },
  decode(bytes: Uint8Array): unknown {
    return msgpackDecode(bytes);
  },
};
