/**
 * @packageDocumentation
 * `PipelineSource` (the ventilator): pushes typed tasks to pipeline workers over a PUSH socket, spread round-robin
 * over the connected workers. Wire: one frame, the encoded task (docs/protocol.md).
 */
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import type { Codec } from "./codec.js";
import type { InferTask, JobContract } from "./contract.js";
import { parseEndpoint } from "./endpoint.js";
import { ClosedError, InvalidArgumentError, OutOfRangeError } from "./errors/index.js";
import type { EndpointUse } from "./internal/attach.js";
import { encodeBody } from "./internal/codec-io.js";
import { validationError } from "./internal/contract-check.js";
import { checkTimeout, watchDeadline } from "./internal/deadline.js";
import { fromZmqError, toError } from "./internal/zmq-errors.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { Outbox, readSendOptions } from "./internal/outbox.js";
import type { CancelToken } from "./internal/send-queue.js";
import { Waiters } from "./internal/waiters.js";
import type { BatchOptions } from "./batch.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { encodeHeaders } from "./protocol/headers.js";
import { encodePipelineBatch, encodePipelineMessage } from "./protocol/pipeline.js";
import type { WaitOptions } from "./signal.js";

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
  /**
   * CURVE encryption: a bound source is the workers' server (`{ certificate, allow }`); a connecting one their client
   * (`{ certificate, serverKey }`).
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
}

/** Options of {@link PipelineSource.push}. */
export interface PushOptions extends WaitOptions {
  /**
   * Protocol 1.1: send the task with a headers frame (`[body, H]`, H this object as JSON). **A v1 worker fails
   * such a task as `MALFORMED`**: pass headers only when the workers speak 1.1. Cannot be used with `batch`.
   * @defaultValue none: the v1 frame `[body]`
   */
  readonly headers?: Readonly<Record<string, unknown>>;
}

/** Counters of a {@link PipelineSource}. */
export interface PipelineSourceStats {
  /** Tasks handed to libzmq. */
  readonly pushed: number;
  /** Workers connected now (tcp and ipc only: libzmq reports no connection events for inproc). */
  readonly workers: number;
}

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
 * ```ts
 * await using source = await PipelineSource.bind("tcp://127.0.0.1:0", Tasks);
 * await source.waitForWorkers(3, { timeoutMs: 5_000 });
 * for (let id = 0; id < 100; id++) await source.push({ id, workMs: 10 });
 * ```
 */
export class PipelineSource<TContract extends JobContract> extends PatternBase<TContract> {
  readonly #socket: zmq.Push;
  readonly #outbox: Outbox<"">;
  readonly #what: string;
  readonly #onPushFailed = (err: unknown): never => {
    throw this.#socket.closed
      ? new ClosedError(`${this.#what} rejected: the source was closed before the task was sent.`)
      : fromZmqError(err, this.#what, this.endpoint);
  };
  readonly #config: SourceConfig;
  #workers = 0;
  readonly #workerWaiters = new Waiters();
  readonly #curve: CurveGuard | undefined;

  private constructor(contract: TContract, config: SourceConfig, owner: string) {
    super(checkContract(contract, "jobs", owner));
    this.#config = config;
    this.#socket = new zmq.Push({
      linger: config.lingerMs,
      sendHighWaterMark: config.sendHighWaterMark,
      // A blocked send gives up after this long and is retried, so a waiting push stays cancellable.
      sendTimeout: BLOCKED_RETRY_MS,
      ...curveSocketOptions(config.curve),
    });
    this.#curve = CurveGuard.open(config.curve);
    this.#curve?.watch(this.#socket);
    this.#outbox = new Outbox<"">(this.#socket, { retryWhileBlocked: true }, config.batch, (_key, packed) =>
      encodePipelineBatch(packed),
    );
    this.#what = `PipelineSource("${contract.name}").push()`;
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
    return PipelineSource.#open(endpoint, contract, options, "bind");
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
    return PipelineSource.#open(endpoint, contract, options, "connect");
  }

  static #open<TContract extends JobContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PipelineSourceOptions,
    mode: OpenMode,
  ): Promise<PipelineSource<TContract>> {
    const steps = {
      create: (owner: string) => new PipelineSource(contract, resolveSourceOptions(owner, options), owner),
      attach: (source: PipelineSource<TContract>, use: EndpointUse) => source.attach(source.#socket, endpoint, mode, use),
    };
    return openPattern(steps, "PipelineSource", mode);
  }

  /** A snapshot of the counters. */
  get stats(): PipelineSourceStats {
    return { pushed: this.#outbox.sent, workers: this.#workers };
  }

  /**
   * Validates a task and hands it to the next worker.
   *
   * Waits while no worker is connected or every worker's queue is full (PUSH never drops).
   *
   * @param task - The task; its type is the task schema's input type.
   * @param options - `timeoutMs` and `signal` bound the wait (by default it waits as long as it takes); a task
   *   whose wait ended is not sent. `headers` sends a protocol 1.1 headers frame (see {@link PushOptions}).
   * @throws {@link ContractValidationError} (`direction: "outgoing"`) when the task breaks the schema; nothing is sent.
   * @throws {@link TimeoutError}, {@link AbortedError}, {@link ClosedError}.
   */
  push(task: InferTask<TContract>, options?: PushOptions): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`${this.#what} rejected: the source is closed.`));
    const waits = options !== undefined && (options.timeoutMs !== undefined || options.signal !== undefined);
    let frames: Uint8Array[];
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
      const body = encodeBody(this.#config.codec, task, `Task for "${this.contract.name}"`);
      if (this.#outbox.batching && waits) {
        throw new InvalidArgumentError(
          `${this.#what}: \`timeoutMs\` and \`signal\` cannot be used with \`batch\` (a batch is not cancelled task by task).`,
        );
      }
      frames = encodePipelineMessage(body, options?.headers === undefined ? undefined : this.#headersFrame(options.headers));
    } catch (err) {
      return Promise.reject(toError(err));
    }
    const what = this.#what;
    if (!waits && !this.#outbox.batching) return this.#outbox.send(frames).then(this.#outbox.counted, this.#onPushFailed);
    if (this.#outbox.batching) {
      const sending = this.#outbox.add("", frames[0]!);
      return sending === undefined
        ? DONE
        : sending.then(
            () => undefined,
            (err: unknown) => {
              throw this.#socket.closed
                ? new ClosedError(`${what} rejected: the source was closed before the batch was sent.`)
                : fromZmqError(err, what, this.endpoint);
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
          this.#outbox.cancel(token);
        });
      }
      this.#outbox.send(frames, token).then(
        (sent) => {
          disarm();
          if (!sent) {
            // Only a cancelled task is not sent, and only the deadline cancels one.
            reject(deadlineError ?? new ClosedError(`${what}: the task was not sent.`));
            return;
          }
          this.#outbox.counted();
          resolve();
        },
        (err: unknown) => {
          disarm();
          reject(
            this.#socket.closed
              ? new ClosedError(`${what} rejected: the source was closed before the task was sent.`)
              : fromZmqError(err, what, this.endpoint),
          );
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
        new InvalidArgumentError(
          `${what}: inproc connections cannot be observed (libzmq reports no events for them); connect the workers before pushing instead.`,
        ),
      );
    }
    if (this.closed) return Promise.reject(new ClosedError(`${what} rejected: the source is closed.`));
    const place = {
      what,
      endpoint: this.endpoint,
      waitingFor: `workers to connect to ${this.endpointText}`,
      hint: "Check that the workers connect to this endpoint, or raise { timeoutMs }.",
    };
    return this.#workerWaiters.until(
      () => this.#workers >= count,
      options,
      place,
      10_000,
      () => ` (${this.#workers} connected)`,
    );
  }

  #setWorkers(n: number): void {
    this.#workers = n;
    this.#workerWaiters.check();
  }

  /** The headers frame of one push; refused with batching (a batch carries no per-task headers). */
  #headersFrame(headers: Readonly<Record<string, unknown>>): Buffer {
    if (this.#outbox.batching)
      throw new InvalidArgumentError(
        `${this.#what}: \`headers\` cannot be used with \`batch\` (a batch has no per-task headers).`,
      );
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      throw new InvalidArgumentError(`${this.#what}: \`headers\` must be an object (sent as a JSON object).`);
    }
    return encodeHeaders(headers);
  }

  /** Sends every task waiting in a batch now; resolves once libzmq has taken every task pushed so far. */
  flush(): Promise<void> {
    return this.#outbox.flush();
  }

  /**
   * Waits up to `lingerMs` for queued tasks to reach libzmq, then closes the socket; pushes still waiting reject
   * with {@link ClosedError}. Idempotent.
   */
  protected override async shutdown(): Promise<void> {
    await this.#outbox.close(this.#config.lingerMs);
    this.#workerWaiters.rejectAll(
      new ClosedError(`PipelineSource("${this.contract.name}").waitForWorkers() rejected: the source was closed.`),
    );
    await this.#outbox.idle();
    this.#curve?.release();
  }
}

type SourceConfig = ReturnType<typeof resolveSourceOptions>;

/** Every option checked and frozen before the socket exists. */
function resolveSourceOptions(owner: string, options: PipelineSourceOptions) {
  return resolveOptions(owner, options, (read) => ({
    ...readSendOptions(read),
    curve: readCurveOptions(read),
  }));
}
