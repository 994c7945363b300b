/**
 * @packageDocumentation
 * The PUSH command of a reliable source (`["", "TZPC01", 0x01, queue, ids, bodies]`, docs/protocol.md "Reliable
 * pipeline"), built straight from the source's pending entries: the same frames as `encodePush` (protocol/queue.ts),
 * without the arrays of ids and bodies it takes and the Buffer per id it makes (about 4% of the source's CPU and
 * part of its garbage). The four leading frames are `encodePush`'s own, so only the packing of the last two is here;
 * test/unit/push-frames.test.ts checks the result against `encodePush`.
 * @internal
 */
import { RECORD_HEADER_BYTES } from "../protocol/batch.js";
import { encodePush } from "../protocol/queue.js";

/** One task of a PUSH. @internal */
export interface PushRecord {
  /** The task id (1 to 255 bytes of UTF-8, checked by the owner). */
  readonly id: string;
  /** `Buffer.byteLength(id, "utf8")`, computed once by the owner. */
  readonly idBytes: number;
  readonly body: Uint8Array;
}

/** Builds PUSH commands for one queue. @internal */
export class PushFrames {
  readonly #head: readonly Buffer[];

  constructor(queue: string) {
    // ["", "TZPC01", 0x01, queue]: what encodePush puts before the ids and bodies frames.
    this.#head = encodePush(queue, [], []).slice(0, 4);
  }

  /** The PUSH of `records[from]` up to (not including) `records[to]`. */
  encode(records: readonly PushRecord[], from: number, to: number): Buffer[] {
    let idBytes = 0;
    let bodyBytes = 0;
    for (let i = from; i < to; i++) {
      const record = records[i]!;
      idBytes += record.idBytes;
      bodyBytes += record.body.length;
    }
    const count = to - from;
    const ids = Buffer.allocUnsafe(idBytes + RECORD_HEADER_BYTES * count);
    const bodies = Buffer.allocUnsafe(bodyBytes + RECORD_HEADER_BYTES * count);
    let idAt = 0;
    let bodyAt = 0;
    for (let i = from; i < to; i++) {
      const { id, idBytes: length, body } = records[i]!;
      ids.writeUInt32BE(length, idAt);
      idAt += RECORD_HEADER_BYTES;
      if (length === id.length) {
        // ASCII (as many bytes as UTF-16 units: every automatic id): a plain loop is cheaper than `Buffer.write`,
        // a call into C++ per id (about 1.5% of the source's CPU).
        for (let k = 0; k < length; k++) ids[idAt + k] = id.charCodeAt(k);
      } else {
        ids.write(id, idAt, length, "utf8");
      }
      idAt += length;
      bodies.writeUInt32BE(body.length, bodyAt);
      bodies.set(body, bodyAt + RECORD_HEADER_BYTES);
      bodyAt += RECORD_HEADER_BYTES + body.length;
    }
    return [...this.#head, ids, bodies];
  }
}
