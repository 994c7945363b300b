/**
 * @packageDocumentation
 * The packed frame of a batch (docs/protocol.md, "Batches"): a run of `[u32 big-endian length][body]` records.
 * Pure functions, no sockets.
 * @internal
 */

/** Bytes of the length prefix of each record. */
export const RECORD_HEADER_BYTES = 4;

/** Packs bodies into one frame; `bytes` is the sum of their lengths. */
export function pack(bodies: readonly Uint8Array[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes + RECORD_HEADER_BYTES * bodies.length);
  let at = 0;
  for (const body of bodies) {
    out.writeUInt32BE(body.length, at);
    out.set(body, at + RECORD_HEADER_BYTES);
    at += RECORD_HEADER_BYTES + body.length;
  }
  return out;
}

/** Splits a packed frame back into bodies (views, not copies); undefined when the lengths do not add up. */
export function unpack(frame: Buffer): Buffer[] | undefined {
  const bodies: Buffer[] = [];
  let at = 0;
  while (at < frame.length) {
    if (at + RECORD_HEADER_BYTES > frame.length) return undefined;
    const length = frame.readUInt32BE(at);
    const end = at + RECORD_HEADER_BYTES + length;
    if (end > frame.length) return undefined;
    bodies.push(frame.subarray(at + RECORD_HEADER_BYTES, end));
    at = end;
  }
  return bodies;
}
