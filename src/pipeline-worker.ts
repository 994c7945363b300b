/**
 * @packageDocumentation
 * `PipelineWorker`: pulls typed tasks from a source, runs a handler on each (several at once, up to a limit), and
 * pushes typed results to a sink. Bad tasks and failing handlers are counted, reported, optionally sent on as
 * failure results, and never stop the worker.
 */
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions, type CurveConfig } from "./internal/curve.js";
import type { Codec } from "./codec.js";
import type { InferHandlerResult, InferHandlerTask, JobContract } from "./contract.js";
import { ClosedError, ErrorCode, InvalidArgumentError } from "./errors/index.js";
import { readLimits, tooManyFrames, type LimitOptions, type Limits } from "./internal/limits.js";
import { toError } from "./internal/zmq-errors.js";
import {
  decodeInput,
  encodeError,
  runHandler,
  type DispatchPolicy,
  readDispatchPolicy,
  type DispatchStep,
  type Failure,
} from "./internal/dispatch.js";
import { HandlerPool } from "./internal/handler-pool.js";
import { callHook, callHookOrLog, isThenable } from "./internal/hooks.js";
import { openPattern } from "./internal/open.js";
import { readLoop } from "./internal/read-loop.js";
import { resolveOptions } from "./internal/options.js";
import { settleWithin } from "./internal/timing.js";
import { SendQueue } from "./internal/send-queue.js";
import type { BatchOptions } from "./batch.js";
import { Batcher, readBatch, type Limits as BatchLimits } from "./internal/batcher.js";
import { encodePipelineBatch, encodePipelineFailure, encodePipelineMessage, parsePipeline } from "./protocol/pipeline.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";

/** Options resolved and checked before any socket exists. */
interface WorkerConfig {
  readonly policy: DispatchPolicy;
  readonly concurrency: number;
  readonly sendFailures: boolean;
  readonly drainTimeoutMs: number;
  readonly lingerMs: number;
  readonly receiveHighWaterMark: number;
  readonly limits: Limits;
  readonly batchResults: BatchLimits | undefined;
  readonly onError: ((info: PipelineWorkerErrorInfo) => void) | undefined;
  readonly curve: CurveConfig | undefined;
  readonly resultsCurve: CurveConfig | undefined;
}

function resolveWorkerOptions(owner: string, options: PipelineWorkerOptions): WorkerConfig {
  return resolveOptions(owner, options, (read) => {
    return {
      policy: readDispatchPolicy(read, Infinity),
      concurrency: read.positiveInt("concurrency", 1),
      sendFailures: read.flag("sendFailures", true),
      drainTimeoutMs: read.nonNegativeMs("drainTimeoutMs", 5_000),
      lingerMs: read.nonNegativeMs("lingerMs", 1_000),
      receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
      limits: readLimits(read),
      batchResults: readBatch(read, "batchResults"),
      onError: read.hook<(info: PipelineWorkerErrorInfo) => void>("onError"),
      curve: readCurveOptions(read),
      resultsCurve: read.raw("resultsCurve") === undefined ? readCurveOptions(read) : readCurveOptions(read, "resultsCurve"),
    };
  });
}

/** The dispatch step of a job contract: task in, result out. */
function jobStep(contract: JobContract): DispatchStep {
  return {
    input: contract.task,
    output: contract.result,
    label: contract.name,
    inputPlace: {
      direction: "incoming",
      contract: contract.name,
      method: "task",
      what: "Task for",
      schema: "task",
      hint: "The source sent a task that breaks the contract.",
    },
    outputPlace: {
      direction: "outgoing",
      contract: contract.name,
      method: "result",
      what: "Result of",
      schema: "result",
      hint: "The handler returned data that breaks the contract; fix the handler.",
    },
    inputWhere: `Task for "${contract.name}"`,
    outputWhere: `Result of "${contract.name}"`,
    invalidInput: ErrorCode.INVALID_TASK,
    invalidOutput: ErrorCode.INVALID_RESULT,
  };
}

/** What a pipeline handler gets besides the task. */
export interface JobContext<TContract extends JobContract> {
  /** The job contract. */
  readonly contract: TContract;
  /** Aborted when the worker stops waiting for this handler: on `close()`, once `drainTimeoutMs` has passed. */
  readonly signal: AbortSignal;
}

/**
 * Runs one task: receives the parsed task (the task schema's output type) and returns the result (the result
 * schema's input type), or a promise of it. Throw an {@link ApplicationError} to fail with an application code.
 */
export type JobHandler<TContract extends JobContract> = (
  task: InferHandlerTask<TContract>,
  context: JobContext<TContract>,
) => InferHandlerResult<TContract> | PromiseLike<InferHandlerResult<TContract>>;

/** Where a worker pulls tasks from and pushes results to. */
export interface PipelineWorkerEndpoints {
  /** The source (or streamer) to pull tasks from: one endpoint or several (fair-queued). */
  readonly tasks: string | readonly string[];
  /** The sink to push results to. Leave out for a worker whose results go nowhere (the handler's value is still checked). */
  readonly results?: string | readonly string[];
}

/** A task that failed at this worker, as reported to `onError`. */
export interface PipelineWorkerErrorInfo {
  /** `MALFORMED`, `INVALID_TASK`, `HANDLER_ERROR`, `INVALID_RESULT`, or an application code from {@link ApplicationError}. */
  readonly code: string;
  /** What went wrong, in words. */
  readonly message: string;
  /** What the handler threw, or the underlying failure. */
  readonly cause?: unknown;
  /** For an unexpected handler error: the id sent to the sink in the failure result. */
  readonly errorId?: string;
}

/** Counters of a {@link PipelineWorker}. */
export interface PipelineWorkerStats {
  /** Tasks received. */
  readonly received: number;
  /** Tasks whose result was handed on (or checked, without a results endpoint). */
  readonly completed: number;
  /** Tasks that failed, by code. */
  readonly failed: Readonly<Record<string, number>>;
  /** Handlers running now. */
  readonly inFlight: number;
}

/** Options of {@link PipelineWorker.connect}. */
export interface PipelineWorkerOptions extends LimitOptions {
  /**
   * Body codec; the source and sink must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Tasks run at once. When reached, the worker stops pulling; the rest wait in ZeroMQ's queues.
   * @defaultValue 1
   */
  readonly concurrency?: number;
  /**
   * Send a failure result (`["error", { code, message, details }]`) to the sink for every task that fails, so that
   * a sink counting outcomes is not left waiting. Without it, failures are only counted and reported.
   * @defaultValue true
   */
  readonly sendFailures?: boolean;
  /**
   * How long `close()` waits for running handlers before aborting their signals (their results are then not sent).
   * @defaultValue 5000
   */
  readonly drainTimeoutMs?: number;
  /**
   * `ZMQ_LINGER` of the results socket: how long results already queued may still be delivered after `close()`.
   * @defaultValue 1000
   */
  readonly lingerMs?: number;
  /**
   * `ZMQ_RCVHWM` of the tasks socket: tasks this worker may hold queued. Tasks queued at a worker are lost if it dies.
   * @defaultValue 1000
   */
  readonly receiveHighWaterMark?: number;
  /**
   * Called for every failed task. Errors it throws are ignored. Without it, unexpected handler failures
   * (`HANDLER_ERROR`) are written to stderr, once each, so that none goes unnoticed.
   */
  readonly onError?: (info: PipelineWorkerErrorInfo) => void;
  /**
   * Put the message of a handler's unexpected error (anything thrown that is not an {@link ApplicationError}) in the
   * failure result sent to the sink. Off by default, as for `RpcServer`: the sink gets a generic message and an
   * error id (`details.errorId`), and the real message goes, with the same id, to `onError` (or stderr).
   * @defaultValue false
   */
  readonly exposeErrors?: boolean;
  /** Include the handler's stack in failure results (`details.stack`); implies `exposeErrors`. @defaultValue false */
  readonly exposeStack?: boolean;
  /**
   * Coalesce results into one ZeroMQ message for the sink (`["", packed]`); the sink unpacks them. Failure results
   * are never batched. `close()` flushes. `true` uses the defaults.
   * @defaultValue off
   */
  readonly batchResults?: BatchOptions | boolean;
  /**
   * CURVE encryption of both sockets: usually this worker is the client of its source and sink
   * (`{ certificate, serverKey }`). When the sink has another key than the source, give it in `resultsCurve`.
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
  /**
   * CURVE settings of the results socket, when they differ from `curve` (another server key for the sink).
   * @defaultValue `curve`
   */
  readonly resultsCurve?: CurveOptions;
}

/**
 * A pipeline worker: PULL tasks, run the handler, PUSH results.
 *
 * Every task is validated against the task schema before the handler runs, and every result against the result
 * schema before it is pushed. The worker keeps serving whatever happens to a single task.
 *
 * @example
 * ```ts
 * await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Tasks,
 *   async ({ id }) => ({ id, worker: "w1" }), { concurrency: 4 });
 * ```
 */
export class PipelineWorker<TContract extends JobContract> extends PatternBase<TContract> {
  readonly #tasks: zmq.Pull;
  readonly #results: zmq.Push | undefined;
  readonly #queue: SendQueue | undefined;
  readonly #batcher: Batcher<""> | undefined;
  /** Tasks unpacked from a batch, waiting for a free slot. */
  #backlog: Buffer[] = [];
  readonly #handler: JobHandler<TContract>;
  readonly #sendFailures: boolean;
  readonly #drainTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #onError: ((info: PipelineWorkerErrorInfo) => void) | undefined;
  readonly #limits: Limits;
  readonly #curve: readonly (CurveGuard | undefined)[];
  readonly #pool: HandlerPool;
  readonly #step: DispatchStep;
  readonly #policy: DispatchPolicy;
  #readLoop: Promise<void> = Promise.resolve();
  #received = 0;
  #completed = 0;
  readonly #failed: Record<string, number> = {};

  private constructor(
    contract: TContract,
    handler: JobHandler<TContract>,
    hasResults: boolean,
    config: WorkerConfig,
    owner: string,
  ) {
    super(checkContract(contract, "jobs", owner));
    if (typeof handler !== "function")
      throw new InvalidArgumentError(`${owner}("${contract.name}"): \`handler\` must be a function (task) => result.`);
    this.#handler = handler;
    this.#policy = config.policy;
    this.#step = jobStep(contract);
    this.#pool = new HandlerPool(config.concurrency);
    this.#sendFailures = config.sendFailures;
    this.#drainTimeoutMs = config.drainTimeoutMs;
    this.#lingerMs = config.lingerMs;
    this.#onError = config.onError;
    this.#limits = config.limits;
    this.#tasks = new zmq.Pull({
      linger: 0,
      receiveHighWaterMark: config.receiveHighWaterMark,
      ...config.limits.socket,
      ...curveSocketOptions(config.curve),
    });
    const guards = [CurveGuard.open(config.curve)];
    guards[0]?.watch(this.#tasks);
    if (hasResults) {
      this.#results = new zmq.Push({ linger: this.#lingerMs, ...curveSocketOptions(config.resultsCurve) });
      guards.push(CurveGuard.open(config.resultsCurve));
      guards[1]?.watch(this.#results);
      const queue = new SendQueue(this.#results);
      this.#queue = queue;
      const limits = config.batchResults;
      this.#batcher =
        limits === undefined ? undefined : new Batcher<"">(limits, (_key, packed) => queue.send(encodePipelineBatch(packed)));
    }
    this.#curve = guards;
  }

  /**
   * Connects a worker to its source and sink and starts pulling tasks.
   * Resolves at once: libzmq connects in the background.
   *
   * @param endpoints - `tasks`: where to pull from; `results`: where to push results (optional).
   * @param contract - The job contract shared with the source and the sink.
   * @param handler - Runs one task and returns its result.
   * @throws {@link InvalidEndpointError}; `TypeError`/`RangeError` for bad options.
   */
  static async connect<TContract extends JobContract>(
    endpoints: PipelineWorkerEndpoints,
    contract: TContract,
    handler: JobHandler<TContract>,
    options: PipelineWorkerOptions = {},
  ): Promise<PipelineWorker<TContract>> {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
    const hasResults = endpoints?.results !== undefined;
    return openPattern(
      {
        create: (owner) => new PipelineWorker(contract, handler, hasResults, resolveWorkerOptions(owner, options), owner),
        attach: async (worker, use) => {
          if (worker.#results !== undefined && endpoints.results !== undefined) {
            await worker.attach(worker.#results, endpoints.results, "connect", use);
          }
          await worker.attach(worker.#tasks, endpoints.tasks, "connect", use);
        },
        start: (worker) => {
          worker.#readLoop = readLoop(worker.#tasks, (frames) => worker.#task(frames), { room: () => worker.#room() });
        },
      },
      "PipelineWorker",
      "connect",
    );
  }

  /** A snapshot of the counters. */
  get stats(): PipelineWorkerStats {
    return { received: this.#received, completed: this.#completed, failed: { ...this.#failed }, inFlight: this.#pool.running };
  }

  /**
   * Room for the next read: none while the pool is full; tasks unpacked from a batch start first, in order, as slots
   * free up, and only then is the next message read.
   */
  #room(): Promise<void> | undefined {
    for (;;) {
      const wait = this.#pool.slot();
      if (wait !== undefined) return wait;
      const next = this.#backlog.shift();
      if (next === undefined) return undefined;
      void this.#run(next);
    }
  }

  #task(frames: Buffer[]): void {
    this.#received++;
    const over = tooManyFrames(this.#limits, frames, `PipelineWorker("${this.contract.name}")`);
    if (over !== undefined) {
      void this.#fail({ body: { code: ErrorCode.MESSAGE_TOO_LARGE, message: over }, message: over });
      return;
    }
    const task = parsePipeline(frames);
    switch (task.kind) {
      case "batch":
        // A batch of tasks, ["", packed] (+ headers): run them one by one, in order, as slots free up.
        this.#received += task.bodies.length - 1;
        this.#backlog = [...task.bodies];
        return;
      case "message":
        void this.#run(task.body);
        return;
      case "failure":
      case "malformed": {
        const why = task.kind === "failure" ? 'a failure result (["error", body]) is not a task' : task.reason;
        const message = `${this.contract.name}: a task must be [body] (or a batch, each optionally with headers): ${why}.`;
        void this.#fail({ body: { code: ErrorCode.MALFORMED, message }, message });
        return;
      }
    }
  }

  async #run(body: Buffer): Promise<void> {
    this.#pool.begin();
    try {
      const input = decodeInput(this.#step, this.#policy, body);
      if (!input.ok) {
        await this.#fail(input.failure);
        return;
      }
      const signal = this.#pool.signal;
      const running = runHandler(this.#step, this.#policy, () =>
        // `input.value` is the task schema's output, which is what the handler is typed to receive.
        this.#handler(input.value as InferHandlerTask<TContract>, { contract: this.contract, signal }),
      );
      // A handler that answers synchronously finishes in this turn: no await, so the next task starts at once.
      const outcome = isThenable(running) ? await running : running;
      if (signal.aborted) return;
      if (!outcome.ok) {
        await this.#fail(outcome.failure);
        return;
      }
      if (this.#queue !== undefined) {
        const sending =
          this.#batcher === undefined
            ? this.#queue.send(encodePipelineMessage(outcome.body))
            : this.#batcher.add("", outcome.body);
        const sent = await Promise.resolve(sending).then(
          () => true,
          (err: unknown) => {
            this.#failed[ErrorCode.CLOSED] = (this.#failed[ErrorCode.CLOSED] ?? 0) + 1;
            const message = `${this.contract.name}: a result could not be pushed: the results socket closed first (${toError(err).message}).`;
            callHook(this.#onError, { code: ErrorCode.CLOSED, message, cause: err });
            return false;
          },
        );
        if (!sent) return;
      }
      this.#completed++;
    } finally {
      this.#pool.end();
    }
  }

  async #fail(failure: Failure): Promise<void> {
    const { body } = failure;
    this.#failed[body.code] = (this.#failed[body.code] ?? 0) + 1;
    const info: PipelineWorkerErrorInfo = {
      code: body.code,
      message: failure.message,
      ...(failure.cause !== undefined && { cause: failure.cause }),
      ...(failure.errorId !== undefined && { errorId: failure.errorId }),
    };
    if (failure.local === true) callHookOrLog(this.#onError, info, `PipelineWorker("${this.contract.name}"): ${info.message}`);
    else callHook(this.#onError, info);
    if (!this.#sendFailures || this.#queue === undefined) return;
    await this.#queue.send(encodePipelineFailure(encodeError(this.#policy.codec, body))).catch(() => undefined);
  }

  /**
   * Stops pulling tasks (tasks already queued at this worker but not started are lost, as in plain push-pull), waits
   * up to `drainTimeoutMs` for running handlers and their results, aborts the rest, then closes both sockets.
   * Idempotent.
   */
  protected override async shutdown(): Promise<void> {
    this.#tasks.close();
    this.#pool.release();
    await this.#readLoop;
    await this.#pool.drain(
      this.#drainTimeoutMs,
      () =>
        new ClosedError(
          `PipelineWorker("${this.contract.name}") closed before the handler finished (drainTimeoutMs ${this.#drainTimeoutMs}).`,
        ),
    );
    if (this.#queue !== undefined) {
      const queue = this.#queue;
      const batcher = this.#batcher;
      await settleWithin(
        (async () => {
          await batcher?.flush();
          await queue.idle();
        })(),
        this.#lingerMs,
      );
    }
    this.#results?.close();
    for (const guard of this.#curve) guard?.release();
  }
}
