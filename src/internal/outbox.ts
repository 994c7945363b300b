/**
 * @packageDocumentation
 * The sending side of a pattern, written once for `Publisher` and `PipelineSource`: the socket's send queue, the
 * optional batcher in front of it, the count of messages handed to libzmq, `flush()`, and closing within `lingerMs`.
 * @internal
 */
import type * as zmq from "zeromq";
import { Batcher, readBatch, type BatchBody, type BatchDefaults, type Limits } from "./batcher.js";
import type { OptionReader } from "./options.js";
import { SendQueue, type CancelToken, type SendQueueOptions } from "./send-queue.js";
import { settleWithin } from "./timing.js";

/** @internal */
export class Outbox<TKey> {
  readonly #socket: zmq.Writable & zmq.Socket;
  readonly #queue: SendQueue;
  readonly #batcher: Batcher<TKey> | undefined;
  #sent = 0;
  /** Counts one message sent; pass it to `.then` of {@link Outbox.send}. */
  readonly counted = (): void => {
    this.#sent++;
  };

  /**
   * @param batch - Batch limits, or undefined when batching is off.
   * @param batchFrames - The frames of one batch (with its key and how many messages it holds).
   */
  constructor(
    socket: zmq.Writable & zmq.Socket,
    queue: SendQueueOptions,
    batch: Limits | undefined,
    batchFrames: (key: TKey, packed: Buffer, count: number) => zmq.MessageLike[],
  ) {
    this.#socket = socket;
    this.#queue = new SendQueue(socket, queue);
    this.#batcher =
      batch === undefined
        ? undefined
        : new Batcher<TKey>(batch, (key, packed, count) =>
            this.#queue.send(batchFrames(key, packed, count)).then(() => {
              this.#sent += count;
            }),
          );
  }

  /** Messages handed to libzmq (each message of a batch counts). */
  get sent(): number {
    return this.#sent;
  }

  /** Whether a batcher is in front of the queue. */
  get batching(): boolean {
    return this.#batcher !== undefined;
  }

  /** Queues one ZeroMQ message; resolves true once libzmq took it, false if `token` cancelled it first. Not counted: chain {@link Outbox.counted}. */
  send(frames: zmq.MessageLike[], token?: CancelToken): Promise<boolean> {
    return this.#queue.send(frames, token);
  }

  /** Cancels a queued message that libzmq has not taken yet. */
  cancel(token: CancelToken): void {
    this.#queue.cancel(token);
  }

  /**
   * Adds a body to its key's batch (batching must be on). Returns the batch's send when this body filled it, or
   * undefined when it waits for more.
   */
  add(key: TKey, body: BatchBody): Promise<unknown> | undefined {
    return this.#batcher?.add(key, body);
  }

  /** Sends every waiting batch now, and resolves once libzmq has taken everything queued so far. */
  async flush(): Promise<void> {
    await this.#batcher?.flush();
    await this.#queue.idle();
  }

  /** Flushes for at most `lingerMs`, then closes the socket. */
  async close(lingerMs: number): Promise<void> {
    await settleWithin(this.flush(), lingerMs);
    this.#socket.close();
  }

  /** Resolves once the queue is empty (after close: once every pending send has settled). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }
}

/**
 * The options every sender shares (`codec`, `lingerMs`, `sendHighWaterMark`, `batch`), read inside
 * `resolveOptions`: spread the result into the config.
 * @internal
 */
export function readSendOptions(read: OptionReader, batchDefaults?: BatchDefaults) {
  return {
    codec: read.codec(),
    lingerMs: read.nonNegativeMs("lingerMs", 1_000),
    sendHighWaterMark: read.positiveInt("sendHighWaterMark", 1000),
    batch: readBatch(read, "batch", batchDefaults),
  };
}
