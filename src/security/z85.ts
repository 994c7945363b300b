/**
 * @packageDocumentation
 * Z85 (ZeroMQ RFC 32), the text form of CURVE keys: 4 bytes become 5 characters of an 85-character alphabet, so a
 * 32-byte key is 40 characters. Only what certificates need: check a key, decode it, encode 32 bytes, and derive a
 * secret key's public key (X25519, through node:crypto) so that a certificate whose two keys do not belong together
 * is refused when it is read rather than failing later in a handshake. Not exported from the package's index.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { OutOfRangeError } from "../errors/index.js";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

const VALUE = new Map<string, number>(ALPHABET.split("").map((c, i) => [c, i]));

/** Length of a Z85 CURVE key (32 bytes). */
export const Z85_KEY_LENGTH = 40;

/** Why `text` is not a 40-character Z85 key, or undefined when it is one. */
export function z85KeyProblem(text: string): string | undefined {
  if (text.length !== Z85_KEY_LENGTH) {
    return `must be a ${Z85_KEY_LENGTH}-character Z85 key, got ${text.length} character${text.length === 1 ? "" : "s"}`;
  }
  for (let i = 0; i < text.length; i++) {
    if (!VALUE.has(text[i]!)) {
      // The position only: the text may be a secret key, and messages end up in logs.
      return `must be a Z85 key, but character ${i + 1} is not in the Z85 alphabet`;
    }
  }
  for (let i = 0; i < text.length; i += 5) {
    if (groupValue(text, i) > 0xffff_ffff) return `is not valid Z85: characters ${i + 1}-${i + 5} exceed 32 bits`;
  }
  return undefined;
}

function groupValue(text: string, at: number): number {
  let value = 0;
  for (let j = 0; j < 5; j++) value = value * 85 + VALUE.get(text[at + j]!)!;
  return value;
}

/** The 32 bytes of a key that {@link z85KeyProblem} accepted. */
export function z85Decode(key: string): Buffer {
  const bytes = Buffer.alloc((key.length / 5) * 4);
  for (let i = 0; i < key.length; i += 5) bytes.writeUInt32BE(groupValue(key, i), (i / 5) * 4);
  return bytes;
}

/** The Z85 text of `bytes` (a multiple of 4 long). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) {
    throw new OutOfRangeError(`z85Encode: ${bytes.length} bytes is not a multiple of 4, which Z85 (32/Z85) requires.`);
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = "";
  for (let i = 0; i < view.length; i += 4) {
    let value = view.readUInt32BE(i);
    const group: string[] = [];
    for (let j = 0; j < 5; j++) {
      group.unshift(ALPHABET[value % 85]!);
      value = Math.floor(value / 85);
    }
    text += group.join("");
  }
  return text;
}

/** The PKCS#8 DER header of a raw X25519 private key (RFC 8410); the 32 key bytes follow it. */
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The Z85 public key that belongs to the Z85 `secretKey` (both valid keys): X25519 of the base point. */
export function curvePublicKeyOf(secretKey: string): string {
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, z85Decode(secretKey)]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new Error("node:crypto returned an X25519 public key without `x`");
  return z85Encode(Buffer.from(jwk.x, "base64url"));
}

/** True when `text` is a 40-character Z85 CURVE key. */
export function isZ85Key(text: string): boolean {
  return z85KeyProblem(text) === undefined;
}
