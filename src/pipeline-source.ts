/**
 * @packageDocumentation
 * `PipelineSource` (the ventilator): pushes typed tasks to pipeline workers over a PUSH socket, spread round-robin
 * over the connected workers. Wire: one frame, the encoded task (docs/protocol.md).
 */
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import { jsonCodec, type Codec } from "./codec.js";
import type { InferTask, JobContract, ValidationOptions } from "./contract.js";
import { parseEndpoint } from "./endpoint.js";
import { ClosedError, InvalidArgumentError, OutOfRangeError, TimeoutError } from "./errors/index.js";
import { callHook } from "./internal/hooks.js";
import type { EndpointUse } from "./internal/attach.js";
import { encodeBody } from "./internal/codec-io.js";
import { validationError } from "./internal/contract-check.js";
import {
  InOrder,
  detached,
  outgoingValidator,
  readValidateOutgoing,
  type Validation,
  type Validator,
} from "./internal/validator.js";
import { checkTimeout, watchDeadline, type DeadlinePlace } from "./internal/deadline.js";
import { fromZmqError, toError } from "./internal/zmq-errors.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { Outbox, readSendOptions } from "./internal/outbox.js";
import { RELIABLE_PUSH_BATCH_DEFAULTS, batchBody } from "./internal/batcher.js";
import type { CancelToken } from "./internal/send-queue.js";
import { Waiters } from "./internal/waiters.js";
import type { BatchOptions } from "./batch.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { encodeHeaders } from "./protocol/headers.js";
import { encodePipelineBatch, encodePipelineMessage } from "./protocol/pipeline.js";
import { QUEUE_LINK_HEARTBEATS, readReliableMode } from "./internal/queue-client.js";
import { ReliablePushes } from "./internal/reliable-pushes.js";
import { emitValidationFailed } from "./internal/events.js";
import type { LatencyStats } from "./internal/latency.js";
import { watchConnections } from "./internal/socket-events.js";
import type { ConnectionEvent, ResentEvent, SendTimedOutEvent, ValidationFailedEvent } from "./events.js";
import type { WaitOptions } from "./signal.js";

/** Options of {@link PipelineSource.bind} and {@link PipelineSource.connect}. */
export interface PipelineSourceOptions extends ValidationOptions {
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
   * it, once the batch is sent) and takes no `timeoutMs`/`signal`. `true` uses the defaults: 256 tasks or 64 KiB,
   * 1 ms; in reliable mode 1,024 tasks or 1 MiB per PUSH (each PUSH and its ACCEPTED are two messages, which wake
   * every process on their way; the broker's `maxBatch` is 1,024 too), 1 ms.
   * @defaultValue off: one ZeroMQ message per task
   */
  readonly batch?: BatchOptions | boolean;
  /**
   * CURVE encryption: a bound source is the workers' server (`{ certificate, allow }`); a connecting one their client
   * (`{ certificate, serverKey }`).
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
  /**
   * `"plain"`: push-pull straight to the workers (or a `PipelineStreamer`), no acknowledgements. `"reliable"`
   * (protocol 1.3): connect to a `PipelineBroker`'s frontend; every task gets an id and `push()` resolves once the
   * broker has it (with a store: on disk). Reliable mode only connects ({@link PipelineSource.bind} refuses it) and
   * to one broker.
   * @defaultValue "plain"
   */
  readonly mode?: "plain" | "reliable";
  /**
   * Reliable mode: the broker's queue the tasks go to (1 to 255 UTF-8 bytes). Workers and sinks name the same one.
   * @defaultValue the contract's name, such as `"jobs.v1"`
   */
  readonly queue?: string;
  /**
   * Reliable mode: most pushes pending at once (sent and not yet answered by the broker). A push beyond it waits for
   * room, within its `timeoutMs`/`signal`, before anything is sent; memory stays bounded while the broker is away.
   * @defaultValue 10000
   */
  readonly maxPending?: number;
  /**
   * Reliable mode: a pending push unanswered for this long is sent again, with the same id (the broker keeps one
   * copy). Pending pushes are also sent again on every new connection to the broker.
   * @defaultValue 1000
   */
  readonly resendMs?: number;
  /**
   * Reliable mode: how long `close()` waits for the broker to answer the pending pushes before it rejects the rest
   * with {@link ClosedError}. So a program that pushes and exits with `await source.close()` has every push
   * answered first, when the broker is reachable.
   * @defaultValue 5000
   */
  readonly drainTimeoutMs?: number;
  /** Called for every {@link PipelineSourceEvent}: connections and failed validations. Errors it throws are ignored. */
  readonly onEvent?: (event: PipelineSourceEvent) => void;
}

/** Options of {@link PipelineSource.push}. */
export interface PushOptions extends WaitOptions {
  /**
   * Protocol 1.1: send the task with a headers frame (`[body, H]`, H this object as JSON). **A v1 worker fails
   * such a task as `MALFORMED`**: pass headers only when the workers speak 1.1. Cannot be used with `batch`, nor in
   * reliable mode (1.3 carries no per-task headers there).
   * @defaultValue none: the v1 frame `[body]`
   */
  readonly headers?: Readonly<Record<string, unknown>>;
  /**
   * Reliable mode: the task's id, 1 to 255 bytes of UTF-8, unique within the queue. The broker keeps one copy per
   * id, so pushing the same id again (after a timeout, from a restarted source) is harmless. Workers see it as
   * `JobContext.taskId`, sinks as `JobOutcome.taskId`.
   * @defaultValue `<8 random hex digits of this source>-<counter from 1>`
   */
  readonly id?: string;
}

/** Counters of a {@link PipelineSource}. */
export interface PipelineSourceStats {
  /** Tasks handed to libzmq (reliable mode: tasks sent to the broker the first time). */
  readonly pushed: number;
  /**
   * Workers connected now (tcp and ipc only: libzmq reports no connection events for inproc). Reliable mode: 1
   * while connected to the broker, else 0 (the workers are behind it).
   */
  readonly workers: number;
  /** Reliable mode only (absent in plain mode): pushes the broker accepted. */
  readonly accepted?: number;
  /** Reliable mode only: pushes the broker rejected ({@link TaskRejectedError}). */
  readonly rejected?: number;
  /** Reliable mode only: tasks sent again (a new connection, or no answer within `resendMs`). */
  readonly resent?: number;
  /** Reliable mode only: pushes sent or waiting to be sent, not yet answered. */
  readonly pending?: number;
  /**
   * Reliable mode only: from `push()` to the broker's answer (ACCEPTED or REJECTED), for every push it answered:
   * waiting for room, batching and resends included.
   */
  readonly latency?: LatencyStats;
}

/**
 * What {@link PipelineSourceOptions.onEvent} is told: connections (plain mode: of workers or a streamer; reliable
 * mode: of the link to the broker, `endpoint` its frontend), and tasks refused before they were sent because they
 * broke the task schema (`direction: "outgoing"`, `method: "task"`).
 */
export type PipelineSourceEvent = ConnectionEvent | ValidationFailedEvent | SendTimedOutEvent | ResentEvent;

const DONE = Promise.resolve();

/** The plain mode's PUSH socket and its outbox. */
interface PlainLink {
  readonly socket: zmq.Push;
  readonly outbox: Outbox<"">;
}

/** How often a push that is waiting for a worker checks whether it was cancelled. */
const BLOCKED_RETRY_MS = 100;

/**
 * Pushes tasks of a job contract to the workers.
 *
 * Each task is validated against the task schema before it leaves, then sent to the next connected worker in
 * turn. Delivery guarantee (plain mode, the default): plain push-pull. A task is handed to exactly one worker; tasks
 * queued at a worker that dies are lost (no acknowledgements in this mode).
 *
 * **Reliable mode** (`{ mode: "reliable" }`, protocol 1.3): the source connects to a `PipelineBroker`'s frontend and
 * each `push()` resolves only once the broker has the task (with a store: committed to disk), so the source may exit
 * right after, before any worker runs. Tasks have ids; unanswered pushes are sent again with the same ids (on every
 * new connection, and every `resendMs`), which the broker stores once. See {@link PipelineSource.push}.
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
  readonly #plain: PlainLink | undefined;
  readonly #reliable: ReliablePushes | undefined;
  /** What a reliable push's timeout names; made by the first push, once the source is connected. */
  #reliablePlace: DeadlinePlace | undefined;
  readonly #what: string;
  /** The task schema's validator, resolved once. */
  readonly #validate: Validator;
  /** Keeps tasks in push order while an asynchronous check is pending. */
  readonly #outgoing = new InOrder();
  readonly #onPushFailed = (err: unknown): never => {
    throw this.#plain?.socket.closed !== false
      ? new ClosedError(`${this.#what} rejected: the source was closed before the task was sent.`)
      : fromZmqError(err, this.#what, this.endpoint);
  };
  readonly #config: SourceConfig;
  /** The built-in JSON codec: batched tasks are written into the batch as text. */
  readonly #json: boolean;
  #workers = 0;
  readonly #workerWaiters = new Waiters();
  readonly #curve: CurveGuard | undefined;

  private constructor(contract: TContract, config: SourceConfig, owner: string) {
    super(checkContract(contract, "jobs", owner));
    this.#config = config;
    this.#json = config.codec === jsonCodec;
    this.#what = `PipelineSource("${contract.name}").push()`;
    this.#validate = outgoingValidator(contract.task, config.validateOutgoing);
    this.#curve = CurveGuard.open(config.curve);
    if (config.reliable !== undefined) {
      this.#plain = undefined;
      this.#reliable = new ReliablePushes(
        {
          ...config.reliable,
          onEvent: config.onEvent,
          lingerMs: config.lingerMs,
          batch: config.batch,
          client: {
            endpoint: config.reliable.endpoint,
            heartbeatMs: undefined,
            liveness: 1,
            socket: {
              linger: config.lingerMs,
              sendHighWaterMark: config.sendHighWaterMark,
              ...QUEUE_LINK_HEARTBEATS,
              ...curveSocketOptions(config.curve),
            },
            guard: this.#curve,
          },
        },
        this.#what,
      );
      return;
    }
    this.#reliable = undefined;
    const socket = new zmq.Push({
      linger: config.lingerMs,
      sendHighWaterMark: config.sendHighWaterMark,
      // A blocked send gives up after this long and is retried, so a waiting push stays cancellable.
      sendTimeout: BLOCKED_RETRY_MS,
      ...curveSocketOptions(config.curve),
    });
    this.#curve?.watch(socket);
    const outbox = new Outbox<"">(socket, { retryWhileBlocked: true }, config.batch, (_key, packed) =>
      encodePipelineBatch(packed),
    );
    this.#plain = { socket, outbox };
    watchConnections(socket, config.onEvent);
    socket.events.on("handshake", () => this.#setWorkers(this.#workers + 1));
    socket.events.on("disconnect", () => this.#setWorkers(Math.max(0, this.#workers - 1)));
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
   * Connects a source to workers (or a streamer) that bind, or, with `{ mode: "reliable" }`, to the frontend of a
   * `PipelineBroker` (one endpoint). Resolves once connecting has started: a reliable source sends its pushes once
   * the connection is up, and they wait (pending) until then.
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
      create: (owner: string) =>
        new PipelineSource(contract, resolveSourceOptions(owner, options, mode, endpoint, contract), owner),
      attach: (source: PipelineSource<TContract>, use: EndpointUse) =>
        source.#plain !== undefined
          ? source.attach(source.#plain.socket, endpoint, mode, use)
          : (source.#reliable?.client.open((socket) => source.attach(socket, endpoint, mode, use)) ?? Promise.resolve()),
    };
    return openPattern(steps, "PipelineSource", mode);
  }

  /** A snapshot of the counters. */
  get stats(): PipelineSourceStats {
    if (this.#reliable !== undefined) {
      return { ...this.#reliable.counts, workers: this.#reliable.client.live ? 1 : 0 };
    }
    return { pushed: this.#plain?.outbox.sent ?? 0, workers: this.#workers };
  }

  /**
   * Validates a task and hands it to the next worker.
   *
   * Plain mode: waits while no worker is connected or every worker's queue is full (PUSH never drops).
   *
   * Reliable mode: sends the task to the broker under its id and resolves when the broker answers ACCEPTED (the task
   * is queued; with a store, committed). Unanswered, it is sent again with the same id on every new connection and
   * every `resendMs`. With `batch`, several tasks travel in one PUSH (and `timeoutMs`/`signal` are allowed). When
   * `maxPending` pushes are pending it first waits for room. **A push that ends by its `timeoutMs` or `signal`
   * is forgotten by the source, but the broker may still have stored the task** (its answer was on the way, or a
   * send had gone out): push it again with the same id if it must not be lost; the broker keeps one copy.
   *
   * @param task - The task; its type is the task schema's input type.
   * @param options - `timeoutMs` and `signal` bound the wait (by default it waits as long as it takes); in plain
   *   mode a task whose wait ended is not sent. `headers` sends a protocol 1.1 headers frame (plain mode only, see
   *   {@link PushOptions}); `id` names the task in reliable mode.
   * @throws {@link ContractValidationError} (`direction: "outgoing"`) when the task breaks the schema; nothing is sent.
   * @throws {@link TaskRejectedError} (reliable mode) when the broker refused to store it (`reason`: `QUEUE_FULL`,
   *   `STORE_FULL`, `STORE_FAILED`, `MALFORMED`).
   * @throws {@link TimeoutError}, {@link AbortedError}, {@link ClosedError}; `TypeError`/`RangeError` for bad options
   *   (an `id` that is not 1 to 255 UTF-8 bytes, `headers` in reliable mode).
   */
  push(task: InferTask<TContract>, options?: PushOptions): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`${this.#what} rejected: the source is closed.`));
    const checked = this.#validate(task);
    // An asynchronous check (or one still pending before this task) keeps the tasks in push order.
    if (checked instanceof Promise || this.#outgoing.busy) {
      return this.#outgoing.after(detached(checked), (done) =>
        this.closed
          ? Promise.reject(new ClosedError(`${this.#what} rejected: the source was closed while the task was being checked.`))
          : this.#pushChecked(task, done, options),
      );
    }
    return this.#pushChecked(task, checked, options);
  }

  #pushChecked(task: InferTask<TContract>, checked: Validation, options: PushOptions | undefined): Promise<void> {
    if (this.#reliable !== undefined) return this.#pushReliable(this.#reliable, task, checked, options);
    const plain = this.#plain;
    if (plain === undefined) return Promise.reject(new ClosedError(`${this.#what} rejected: the source is closed.`));
    if (options?.id !== undefined) {
      return Promise.reject(
        new InvalidArgumentError(`${this.#what}: \`id\` is for reliable mode ({ mode: "reliable" }); plain tasks have no id.`),
      );
    }
    const waits = options !== undefined && (options.timeoutMs !== undefined || options.signal !== undefined);
    if (plain.outbox.batching && !waits && options?.headers === undefined) return this.#pushBatched(plain, task, checked);
    let frames: Uint8Array[];
    let timeoutMs: number | undefined;
    try {
      timeoutMs = options?.timeoutMs === undefined ? undefined : checkTimeout(options.timeoutMs, 0, "timeoutMs");
      const body = this.#encodeTask(task, checked);
      if (plain.outbox.batching && waits) {
        throw new InvalidArgumentError(
          `${this.#what}: \`timeoutMs\` and \`signal\` cannot be used with \`batch\` (a batch is not cancelled task by task).`,
        );
      }
      frames = encodePipelineMessage(body, options?.headers === undefined ? undefined : this.#headersFrame(options.headers));
    } catch (err) {
      emitValidationFailed(this.#config.onEvent, err);
      return Promise.reject(toError(err));
    }
    const what = this.#what;
    if (!waits && !plain.outbox.batching) return plain.outbox.send(frames).then(plain.outbox.counted, this.#onPushFailed);
    if (plain.outbox.batching) {
      const sending = plain.outbox.add("", frames[0]!);
      return sending === undefined
        ? DONE
        : sending.then(
            () => undefined,
            (err: unknown) => {
              throw plain.socket.closed
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
          plain.outbox.cancel(token);
        });
      }
      plain.outbox.send(frames, token).then(
        (sent) => {
          disarm();
          if (!sent) {
            // Only a cancelled task is not sent, and only the deadline cancels one.
            if (deadlineError instanceof TimeoutError && timeoutMs !== undefined) {
              callHook(this.#config.onEvent, { type: "timed-out", what: "push", target: "task", afterMs: timeoutMs });
            }
            reject(deadlineError ?? new ClosedError(`${what}: the task was not sent.`));
            return;
          }
          plain.outbox.counted();
          resolve();
        },
        (err: unknown) => {
          disarm();
          reject(
            plain.socket.closed
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
    if (this.#reliable !== undefined) {
      return Promise.reject(
        new InvalidArgumentError(
          `${what}: a reliable source talks to a broker, not to workers; its pushes wait at the broker until workers come.`,
        ),
      );
    }
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
    if (this.#plain?.outbox.batching === true)
      throw new InvalidArgumentError(
        `${this.#what}: \`headers\` cannot be used with \`batch\` (a batch has no per-task headers).`,
      );
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      throw new InvalidArgumentError(`${this.#what}: \`headers\` must be an object (sent as a JSON object).`);
    }
    return encodeHeaders(headers);
  }

  /**
   * Sends every task waiting in a batch now; resolves once libzmq has taken every task pushed so far. In reliable
   * mode it resolves once the waiting batch is sent: the `push()` promises say when the broker has the tasks.
   */
  flush(): Promise<void> {
    return this.#reliable?.flush() ?? this.#plain?.outbox.flush() ?? DONE;
  }

  /**
   * Plain mode: waits up to `lingerMs` for queued tasks to reach libzmq, then closes the socket; pushes still waiting
   * reject with {@link ClosedError}.
   *
   * Reliable mode: sends the waiting batch, waits up to `drainTimeoutMs` for the broker to answer every pending push
   * (they resolve or reject as usual), then rejects the rest with {@link ClosedError} (the broker may or may not have
   * stored those) and closes the socket. Pushes still waiting for room reject at once. Idempotent.
   */
  protected override async shutdown(): Promise<void> {
    this.#workerWaiters.rejectAll(
      new ClosedError(`PipelineSource("${this.contract.name}").waitForWorkers() rejected: the source was closed.`),
    );
    if (this.#reliable !== undefined) {
      await this.#reliable.close();
    } else if (this.#plain !== undefined) {
      await this.#plain.outbox.close(this.#config.lingerMs);
      await this.#plain.outbox.idle();
    }
    this.#curve?.release();
  }

  #pushReliable(
    reliable: ReliablePushes,
    task: InferTask<TContract>,
    checked: Validation,
    options: PushOptions | undefined,
  ): Promise<void> {
    let body: Uint8Array;
    try {
      if (options?.headers !== undefined) {
        throw new InvalidArgumentError(
          `${this.#what}: \`headers\` cannot be used in reliable mode (protocol 1.3 carries no per-task headers through the broker); put what the worker needs in the task.`,
        );
      }
      body = this.#encodeTask(task, checked);
    } catch (err) {
      emitValidationFailed(this.#config.onEvent, err);
      return Promise.reject(toError(err));
    }
    // One place for every push (the broker's endpoint does not change once connected), and no `.catch` wrapper:
    // `ReliablePushes.push` rejects only with Errors. Both were an allocation per push.
    this.#reliablePlace ??= {
      what: this.#what,
      endpoint: this.endpoint,
      waitingFor: `the broker at ${this.endpointText} to accept the task`,
      hint: "The broker may still have stored it: push it again with the same `id` (it keeps one copy), and check that the broker is running.",
    };
    return reliable.push(body, options, this.#reliablePlace);
  }

  /**
   * The batched push: the task goes straight into the batch buffer (JSON text written there, with the built-in
   * codec); it returns the shared resolved `DONE`, except for the task that fills a batch, which gets the batch's
   * send (its backpressure).
   */
  #pushBatched(plain: PlainLink, task: InferTask<TContract>, checked: Validation): Promise<void> {
    let sending: Promise<unknown> | undefined;
    try {
      this.#checkTask(checked);
      const body = batchBody(this.#config.codec, this.#json, task, () => `Task for "${this.contract.name}"`);
      sending = plain.outbox.add("", body);
    } catch (err) {
      emitValidationFailed(this.#config.onEvent, err);
      return Promise.reject(toError(err));
    }
    if (sending === undefined) return DONE;
    const what = this.#what;
    return sending.then(
      () => undefined,
      (err: unknown) => {
        throw plain.socket.closed
          ? new ClosedError(`${what} rejected: the source was closed before the batch was sent.`)
          : fromZmqError(err, what, this.endpoint);
      },
    );
  }

  /** Encodes a task checked against the task schema (or throws its validation error). */
  #encodeTask(task: InferTask<TContract>, checked: Validation): Uint8Array {
    this.#checkTask(checked);
    return encodeBody(this.#config.codec, task, `Task for "${this.contract.name}"`);
  }

  /** Throws the validation error of a task that broke the task schema. */
  #checkTask(checked: Validation): void {
    if (!checked.ok) {
      throw validationError(checked, {
        direction: "outgoing",
        contract: this.contract.name,
        method: "task",
        what: "Task for",
        schema: "task",
        hint: "Nothing was pushed; fix the task.",
      });
    }
  }
}

type SourceConfig = ReturnType<typeof resolveSourceOptions>;

/** Every option checked and frozen before the socket exists. */
function resolveSourceOptions(
  owner: string,
  options: PipelineSourceOptions,
  mode: OpenMode,
  endpoint: string | readonly string[],
  contract: JobContract,
) {
  return resolveOptions(owner, options, (read) => ({
    ...readSendOptions(read, options.mode === "reliable" ? RELIABLE_PUSH_BATCH_DEFAULTS : undefined),
    validateOutgoing: readValidateOutgoing(read),
    curve: readCurveOptions(read),
    onEvent: read.hook<(event: PipelineSourceEvent) => void>("onEvent"),
    reliable: readReliableMode(read, mode, endpoint, contract, ["maxPending", "resendMs", "drainTimeoutMs"], (r) => ({
      maxPending: r.positiveInt("maxPending", 10_000),
      resendMs: r.positiveInt("resendMs", 1_000),
      drainTimeoutMs: r.nonNegativeMs("drainTimeoutMs", 5_000),
    })),
  }));
}
