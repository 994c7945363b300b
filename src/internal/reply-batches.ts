/**
 * @packageDocumentation
 * A bound `RpcServer`'s reply batches (protocol 1.4, docs/protocol.md "Call batches"): the replies to the calls of
 * one call batch that finish in the same event-loop turn travel back in one `$batch` message, addressed with that
 * batch's envelope. One `setImmediate` per turn, never a timer per reply; a batch that reaches its limits goes at once,
 * and so does one that holds a reply to every call of its call batch (`expect`): the client can start on those
 * replies while this server reads its next call batch.
 * @internal
 */
import { encodeBatch } from "../protocol/rpc.js";

/** Most replies in one reply batch. */
const MAX_REPLIES = 1_024;
/** Most bytes of records in one reply batch: far under a client's default hard limit on what it receives (8 MiB). */
const MAX_BYTES = 256 * 1_024;

interface Open {
  readonly records: Buffer[];
  bytes: number;
  /** Replies still to come before every call of the call batch has answered; undefined when not known. */
  remaining: number | undefined;
  readonly done: Promise<boolean>;
  resolve: (sent: boolean) => void;
  reject: (err: unknown) => void;
}

function open(): Open {
  let resolve: (sent: boolean) => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const done = new Promise<boolean>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { records: [], bytes: 0, remaining: undefined, done, resolve, reject };
}

/** Reply batches keyed by the call batch's envelope (the array the server read, delimiter included). @internal */
export class ReplyBatches {
  readonly #send: (frames: Uint8Array[]) => Promise<boolean>;
  readonly #open = new Map<readonly Buffer[], Open>();
  #scheduled = false;
  readonly #flushAll = (): void => this.flush();

  constructor(send: (frames: Uint8Array[]) => Promise<boolean>) {
    this.#send = send;
  }

  /** Says how many calls the call batch of `envelope` holds (before they run): its reply batch goes once all answered. */
  expect(envelope: readonly Buffer[], calls: number): void {
    const batch = open();
    batch.remaining = calls;
    this.#open.set(envelope, batch);
    this.#schedule();
  }

  /**
   * Adds one reply record (`encodeBatchReply`) to the batch going back to `envelope`. Resolves as the send of the
   * batch that carries it does.
   */
  add(envelope: readonly Buffer[], record: Buffer): Promise<boolean> {
    let batch = this.#open.get(envelope);
    if (batch === undefined) {
      batch = open();
      this.#open.set(envelope, batch);
    }
    batch.records.push(record);
    batch.bytes += record.length;
    const done = batch.done;
    if (batch.remaining !== undefined) batch.remaining--;
    if (batch.remaining === 0 || batch.records.length >= MAX_REPLIES || batch.bytes >= MAX_BYTES) {
      this.#flushOne(envelope, batch);
    } else this.#schedule();
    return done;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flushAll);
  }

  /** Sends every open batch now (the server calls it before it closes its socket). */
  flush(): void {
    this.#scheduled = false;
    for (const [envelope, batch] of this.#open) this.#flushOne(envelope, batch);
  }

  #flushOne(envelope: readonly Buffer[], batch: Open): void {
    this.#open.delete(envelope);
    // A call batch none of whose calls has answered yet (they run on, or were dropped): later replies open another.
    if (batch.records.length === 0) return;
    // The envelope ends with its delimiter, which encodeBatch adds again.
    this.#send(encodeBatch(envelope.slice(0, -1), batch.records, batch.bytes)).then(batch.resolve, batch.reject);
  }
}
