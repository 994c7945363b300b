/**
 * @packageDocumentation
 * `PipelineSource` (the ventilator): pushes typed tasks to pipeline workers over a PUSH socket, spread round-robin
 * over the connected workers. Wire: one frame, the encoded task (docs/protocol.md).
 *
 * Depends on zeromq, `contract.ts`, `codec.ts`, `endpoint.ts`, `errors.ts`, `lifecycle.ts`, `signal.ts` and `internal/`.
 */
import * as zmq from "zeromq";
import { checkCodec, encodeBody, jsonCodec, type Codec } from "./codec.js";
import { validationError, type InferTask, type JobContract } from "./contract.js";
import { parseEndpoint } from "./endpoint.js";
import { ClosedError, fromZmqError } from "./errors.js";
import { InvalidArgumentError, OutOfRangeError } from "./errors/index.js";
import { checkNonNegative, checkPositiveInt } from "./internal/options.js";
import { settleWithin } from "./internal/timing.js";
import { SendQueue, type CancelToken } from "./internal/send-queue.js";
import { Waiters } from "./internal/waiters.js";
import { Batcher, batchLimits, type BatchOptions } from "./batch.js";
import { PatternBase, checkContract } from "./lifecycle.js";
import { checkTimeout, watchDeadline, type WaitOptions } from "./signal.js";

/** Options of {@link PipelineSource.bind} and {@link PipelineSource.connect}. */
export interface PipelineSourceOptions {
  /**
   * Body codec. Workers must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * `ZMQ_SNDHWM`: tasks queued per worker. When every worker's queue is full, or no worker is connected,
   * {@link PipelineSource.push} **waits** (PUSH semantics; nothing is dropped).
   * @defaultValue 1000
   */
  readonly sendHighWaterMark?: number;
  /**
   * `ZMQ_LINGER`: how long tasks already queued may still be delivered after `close()`.
   * @defaultValue 1000
   */
  readonly lingerMs?: number;
  /**
   * Coalesce tasks into one ZeroMQ message (`["", packed]`), sent when `maxMessages` or `maxBytes` is reached or
   * `maxDelayMs` has passed; `flush()` sends at once and `close()` flushes. A batch goes to one worker, which unpacks
   * it and runs its tasks in order. `push()` then resolves once the task is in a batch (or, for the task that fills
   * it, once the batch is sent) and takes no `timeoutMs`/`signal`. `true` uses the defaults.
   * @defaultValue off: one ZeroMQ message per task
   */
  readonly batch?: BatchOptions | boolean;
}

/** Counters of a {@link PipelineSource}. */
export interface PipelineSourceStats {
  /** Tasks handed to libzmq. */
  readonly pushed: number;
  /** Workers connected now (tcp and ipc only: libzmq reports no connection events for inproc). */
  readonly workers: number;
}

const EMPTY = Buffer.alloc(0);
const DONE = Promise.resolve();

/** How often a push that is waiting for a worker checks whether it was cancelled. */
const BLOCKED_RETRY_MS = 100;

/**
 * Pushes tasks of a job contract to the workers.
 *
 * Each task is validated against the task schema before it leaves, then sent to the next connected worker in
 * turn. Delivery guarantee: plain push-pull. A task is handed to exactly one worker; tasks queued at a worker that
 * dies are lost (no acknowledgements in this mode).
 *
 * Workers that connect late miss nothing, but the first worker to connect may receive a large share of the tasks
 * pushed before the others arrive: call {@link PipelineSource.waitForWorkers} first.
 *
 * @example
 * await using source = await PipelineSource.bind("tcp://127.0.0.1:0", Tasks);
 * await source.waitForWorkers(3, { timeoutMs: 5_000 });
 * for (let id = 0; id < 100; id++) await source.push({ id, workMs: 10 });
 */
export class PipelineSource<TContract extends JobContract> extends PatternBase<TContract> {
  readonly #socket: zmq.Push;
  readonly #queue: SendQueue;
  readonly #batcher: Batcher<""> | undefined;
  readonly #what: string;
  readonly #onPushed = (): void => {
    this.#pushed++;
  };
  readonly #onPushFailed = (err: unknown): never => {
    throw this.#socket.closed ? new ClosedError(`${this.#what} rejected: the source was closed before the task was sent.`) : fromZmqError(err, this.#what, this.endpoint);
  };
  readonly #codec: Codec;
  readonly #lingerMs: number;
  #workers = 0;
  readonly #workerWaiters = new Waiters();
  #pushed = 0;

  private constructor(contract: TContract, options: PipelineSourceOptions, owner: string) {
    super(checkContract(contract, "jobs", owner));
    this.#codec = options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec");
    this.#lingerMs = checkNonNegative(options.lingerMs, 1_000, "lingerMs", owner);
    this.#socket = new zmq.Push({
      linger: this.#lingerMs,
      sendHighWaterMark: checkPositiveInt(options.sendHighWaterMark, 1000, "sendHighWaterMark", owner),
      // A blocked send gives up after this long and is retried, so a waiting push stays cancellable.
      sendTimeout: BLOCKED_RETRY_MS,
    });
    this.#queue = new SendQueue(this.#socket, { retryWhileBlocked: true });
    this.#what = `PipelineSource("${contract.name}").push()`;
    const limits = batchLimits(options.batch, owner);
    this.#batcher =
      limits === undefined
        ? undefined
        : new Batcher<"">(limits, (_key, packed, count) =>
            this.#queue.send([EMPTY, packed]).then(() => {
              this.#pushed += count;
            }),
          );
    this.#socket.events.on("handshake", () => this.#setWorkers(this.#workers + 1));
    this.#socket.events.on("disconnect", () => this.#setWorkers(Math.max(0, this.#workers - 1)));
  }

  /**
   * Binds a source (the usual case: workers connect to it). Resolves once bound.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; `TypeError`/`RangeError` for bad options.
   */
  static override async bind<TContract extends JobContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PipelineSourceOptions = {},
  ): Promise<PipelineSource<TContract>> {
    return PipelineSource.#open(new PipelineSource(contract, options, "PipelineSource.bind"), endpoint, "bind");
  }

  /**
   * Connects a source to workers (or a streamer) that bind.
   * @throws {@link InvalidEndpointError}; `TypeError`/`RangeError` for bad options.
   */
  static async connect<TContract extends JobContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PipelineSourceOptions = {},
  ): Promise<PipelineSource<TContract>> {
    return PipelineSource.#open(new PipelineSource(contract, options, "PipelineSource.connect"), endpoint, "connect");
  }

  static async #open<TContract extends JobContract>(
    source: PipelineSource<TContract>,
    endpoint: string | readonly string[],
    mode: "bind" | "connect",
  ): Promise<PipelineSource<TContract>> {
    const owner = mode === "bind" ? "PipelineSource.bind" : "PipelineSource.connect";
    await source.attach(source.#socket, endpoint, mode, { owner, multicast: false });
    return source;
  }

  /** A snapshot of the counters. */
  get stats(): PipelineSourceStats {
    return { pushed: this.#pushed, workers: this.#workers };
  }

  /**
   * Validates a task and hands it to the next worker.
   *
   * Waits while no worker is connected or every worker's queue is full (PUSH never drops).
   *
   * @param task - The task; its type is the task schema's input type.
   * @param options - `timeoutMs` and `signal` bound the wait (by default it waits as long as it takes); a task
   *   whose wait ended is not sent.
   * @throws {@link ContractValidationError} (`direction: "outgoing"`) when the task breaks the schema; nothing is sent.
   * @throws {@link TimeoutError}, {@link AbortedError}, {@link ClosedError}.
   */
  push(task: InferTask<TContract>, options?: WaitOptions): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`${this.#what} rejected: the source is closed.`));
    const waits = options !== undefined && (options.timeoutMs !== undefined || options.signal !== undefined);
    let body: Uint8Array;
    let timeoutMs: number | undefined;
    try {
      timeoutMs = options?.timeoutMs === undefined ? undefined : checkTimeout(options.timeoutMs, 0, "timeoutMs");
      const checked = this.contract.task.safeParse(task);
      if (!checked.success) {
        throw validationError(checked.error, {
          direction: "outgoing",
          contract: this.contract.name,
          method: "task",
          what: "Task for",
          schema: "task",
          hint: "Nothing was pushed; fix the task.",
        });
      }
      body = encodeBody(this.#codec, task, `Task for "${this.contract.name}"`);
      if (this.#batcher !== undefined && waits) {
        throw new InvalidArgumentError(`${this.#what}: \`timeoutMs\` and \`signal\` cannot be used with \`batch\` (a batch is not cancelled task by task).`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const what = this.#what;
    if (!waits && this.#batcher === undefined) return this.#queue.send([body]).then(this.#onPushed, this.#onPushFailed);
    if (this.#batcher !== undefined) {
      const sending = this.#batcher.add("", body);
      return sending === undefined
        ? DONE
        : sending.then(
            () => undefined,
            (err: unknown) => {
              throw this.#socket.closed ? new ClosedError(`${what} rejected: the source was closed before the batch was sent.`) : fromZmqError(err, what, this.endpoint);
            },
          );
    }
    const token: CancelToken = { cancelled: false };
    return new Promise<void>((resolve, reject) => {
      let deadlineError: Error | undefined;
      let disarm = (): void => undefined;
      if (options !== undefined && waits) {
        // On the deadline, cancel the task and settle once the queue confirms it was not sent: a task that libzmq
        // accepted in the meantime counts as pushed, so a caller never re-sends a task that went out.
        const place = {
          what,
          endpoint: this.endpoint,
          waitingFor: `a worker to take the task on ${this.endpointText}`,
          hint: "Check that workers are connected and keeping up; the task was not sent.",
        };
        disarm = watchDeadline(timeoutMs ?? 2_147_483_647, options.signal, place, (error) => {
          deadlineError = error;
          this.#queue.cancel(token);
        });
      }
      this.#queue.send([body], token).then(
        (sent) => {
          disarm();
          if (!sent) {
            reject(deadlineError);
            return;
          }
          this.#pushed++;
          resolve();
        },
        (err: unknown) => {
          disarm();
          reject(this.#socket.closed ? new ClosedError(`${what} rejected: the source was closed before the task was sent.`) : fromZmqError(err, what, this.endpoint));
        },
      );
    });
  }

  /**
   * Waits until at least `count` workers are connected, so that tasks are spread over all of them from the first.
   *
   * Counts connections on tcp and ipc endpoints. libzmq reports no connection events for inproc: there, a worker's
   * connection exists as soon as its `connect()` has returned, and this method refuses with a `TypeError`.
   *
   * @throws {@link TimeoutError} after `timeoutMs` (default 10 000 ms); {@link AbortedError}; {@link ClosedError}.
   */
  waitForWorkers(count: number, options: WaitOptions = {}): Promise<void> {
    const what = `PipelineSource("${this.contract.name}").waitForWorkers(${count})`;
    if (!Number.isInteger(count) || count < 0) {
      return Promise.reject(new OutOfRangeError(`${what}: \`count\` must be an integer >= 0.`));
    }
    if (this.endpoints.every((e) => parseEndpoint(e).transport === "inproc")) {
      return Promise.reject(
        new InvalidArgumentError(`${what}: inproc connections cannot be observed (libzmq reports no events for them); connect the workers before pushing instead.`),
      );
    }
    if (this.closed) return Promise.reject(new ClosedError(`${what} rejected: the source is closed.`));
    const place = {
      what,
      endpoint: this.endpoint,
      waitingFor: `workers to connect to ${this.endpointText}`,
      hint: "Check that the workers connect to this endpoint, or raise { timeoutMs }.",
    };
    return this.#workerWaiters.until(() => this.#workers >= count, options, place, 10_000, () => ` (${this.#workers} connected)`);
  }


  #setWorkers(n: number): void {
    this.#workers = n;
    this.#workerWaiters.check();
  }


  /**
   * Waits up to `lingerMs` for queued tasks to reach libzmq, then closes the socket; pushes still waiting reject
   * with {@link ClosedError}. Idempotent.
   */
  /** Sends every task waiting in a batch now; resolves once libzmq has taken every task pushed so far. */
  async flush(): Promise<void> {
    await this.#batcher?.flush();
    await this.#queue.idle();
  }

  protected override async shutdown(): Promise<void> {
    await settleWithin(this.flush(), this.#lingerMs);
    this.#socket.close();
    this.#workerWaiters.rejectAll(new ClosedError(`PipelineSource("${this.contract.name}").waitForWorkers() rejected: the source was closed.`));
    await this.#queue.idle();
  }
}
