/**
 * @packageDocumentation
 * The opaque client-address frames a broker puts in the REQUESTs it sends workers (the RPC broker and the pipeline
 * broker alike): 8 bytes, this broker's epoch then a 32-bit counter, so that a REPLY names its dispatch, and a reply
 * meant for a broker that has since restarted (another epoch) is told apart from one of this broker's.
 * @internal
 */

/** Dispatch tokens of one broker. @internal */
export class DispatchTokens {
  readonly #epoch: number;
  #last = 0;

  /** @param epoch - This broker's epoch (any 32-bit number that differs between broker lives). */
  constructor(epoch: number) {
    this.#epoch = epoch >>> 0;
  }

  /** The next token: 1 to 2^32 - 1, wrapping (0 is never used). */
  next(): number {
    this.#last = (this.#last + 1) >>> 0;
    if (this.#last === 0) this.#last = 1;
    return this.#last;
  }

  /** The 8-byte frame of `token`. */
  frame(token: number): Buffer {
    const frame = Buffer.allocUnsafe(8);
    frame.writeUInt32BE(this.#epoch, 0);
    frame.writeUInt32BE(token, 4);
    return frame;
  }

  /** The token a frame names, or undefined when it is not one of this broker's. */
  read(frame: Uint8Array): number | undefined {
    if (frame.length !== 8) return undefined;
    const view = Buffer.from(frame.buffer, frame.byteOffset, 8);
    return view.readUInt32BE(0) === this.#epoch ? view.readUInt32BE(4) : undefined;
  }
}
