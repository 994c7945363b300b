/**
 * @packageDocumentation
 * Opt-in batching: many small messages coalesced into one ZeroMQ message, and unpacked again on arrival. This file
 * holds only the public options; the packed frame is in `protocol/batch.ts` (docs/protocol.md, "Batches") and the
 * batcher in `internal/batcher.ts`. Crossing from JavaScript into libzmq costs about the same per message whatever
 * its size, so one send of 100 bodies is far cheaper than 100 sends.
 */

/** Limits of a batch; whichever is reached first sends it. */
export interface BatchOptions {
  /**
   * Most messages in one batch.
   * @defaultValue 256
   */
  readonly maxMessages?: number;
  /**
   * Most body bytes in one batch.
   * @defaultValue 65536
   */
  readonly maxBytes?: number;
  /**
   * Longest a message waits for its batch to fill, in milliseconds. `flush()` sends at once; `close()` flushes.
   * @defaultValue 1
   */
  readonly maxDelayMs?: number;
}
