/**
 * @packageDocumentation
 * Encoding and decoding message bodies with a codec, with failures turned into typed errors that say where; and the
 * check that an option is a usable codec.
 */
import type { Codec } from "../codec.js";
import { InvalidArgumentError, MalformedMessageError } from "../errors/index.js";
import { toError } from "./zmq-errors.js";

/**
 * Decodes a body, turning any codec failure into a {@link MalformedMessageError} that says where it came from.
 */
export function decodeBody(codec: Codec, bytes: Uint8Array, where: string): unknown {
  try {
    return codec.decode(bytes);
  } catch (err) {
    const cause = toError(err);
    throw new MalformedMessageError(
      `${where}: the body (${bytes.length} bytes) is not valid ${codec.name}: ${cause.message}. ` +
        `Check that both sides use the same codec.`,
      { cause },
    );
  }
}

/**
 * Encodes a body; a codec failure becomes a `TypeError` that names the codec and the place.
 */
export function encodeBody(codec: Codec, value: unknown, where: string): Uint8Array {
  try {
    return codec.encode(value);
  } catch (err) {
    const cause = toError(err);
    throw new InvalidArgumentError(`${where}: the ${codec.name} codec could not encode the value: ${cause.message}.`, { cause });
  }
}

/**
 * Checks that a value is usable as a codec, so a wrong option fails at construction with a clear message.
 */
export function checkCodec(codec: unknown, option: string): Codec {
  const c = codec as Partial<Codec> | null | undefined;
  if (
    typeof c !== "object" ||
    c === null ||
    typeof c.encode !== "function" ||
    typeof c.decode !== "function" ||
    typeof c.name !== "string"
  ) {
    throw new InvalidArgumentError(
      `\`${option}\` must be a codec: an object with \`name\`, \`encode(value)\` and \`decode(bytes)\`, such as jsonCodec or msgpackCodec.`,
    );
  }
  return c as Codec;
}
