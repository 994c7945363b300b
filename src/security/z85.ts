/**
 * @packageDocumentation
 * Z85 (rfc.zeromq.org 32/Z85): the printable encoding of binary keys that libzmq, pyzmq and CZMQ use for CURVE
 * keys (32 bytes ⇄ 40 characters). Every 4 bytes, read as a big-endian unsigned integer, become 5 characters of
 * an 85-character alphabet, most significant digit first. Pure functions, no sockets.
 * @internal
 */

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const DIGITS: ReadonlyMap<string, number> = new Map(
  Array.from({ length: ALPHABET.length }, (_, index) => [ALPHABET.charAt(index), index]),
);

/**
 * Encodes bytes as Z85. The length must be a multiple of 4 (32/Z85 frames only such data; a CURVE key is 32 bytes).
 * @throws RangeError when the length is not a multiple of 4.
 * @internal
 */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) {
    throw new RangeError(`z85Encode: ${bytes.length} bytes is not a multiple of 4, which Z85 (32/Z85) requires.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = "";
  for (let offset = 0; offset < bytes.length; offset += 4) {
    let value = view.getUint32(offset, false);
    let chunk = "";
    for (let i = 0; i < 5; i++) {
      chunk = ALPHABET.charAt(value % 85) + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/**
 * Decodes Z85 text; returns undefined when the text is not Z85 (a length that is not a multiple of 5, a character
 * outside the alphabet, or a group above 2^32 − 1). Never throws.
 * @internal
 */
export function z85Decode(text: string): Uint8Array | undefined {
  if (text.length % 5 !== 0) return undefined;
  const out = new Uint8Array((text.length / 5) * 4);
  const view = new DataView(out.buffer);
  for (let group = 0; group < text.length / 5; group++) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const digit = DIGITS.get(text.charAt(group * 5 + i));
      if (digit === undefined) return undefined;
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) return undefined;
    view.setUint32(group * 4, value, false);
  }
  return out;
}

/** True when `text` is a Z85 CURVE key: 40 characters that decode to 32 bytes. @internal */
export function isZ85Key(text: string): boolean {
  return text.length === 40 && z85Decode(text) !== undefined;
}
