/**
 * @packageDocumentation
 * `PipelineWorker`: pulls typed tasks from a source, runs a handler on each (several at once, up to a limit), and
 * pushes typed results to a sink. Bad tasks and failing handlers are counted, reported, optionally sent on as
 * failure results, and never stop the worker.
 *
 * Depends on zeromq, `contract.ts`, `codec.ts`, `endpoint.ts`, `errors.ts`, `lifecycle.ts` and `internal/`.
 */
import * as zmq from "zeromq";
import { checkCodec, decodeBody, encodeBody, jsonCodec, type Codec } from "./codec.js";
import { validationError, type InferHandlerResult, type InferHandlerTask, type JobContract } from "./contract.js";
import {
  ClosedError,
  ContractValidationError,
  ErrorCode,
  MalformedMessageError,
  RpcError,
  toError,
  type RpcErrorBody,
} from "./errors.js";
import { callHook, isThenable } from "./internal/hooks.js";
import { checkNonNegative, checkPositiveInt } from "./internal/options.js";
import { settleWithin, signalled } from "./internal/timing.js";
import { SendQueue } from "./internal/send-queue.js";
import { STATUS_ERROR_FRAME } from "./internal/wire.js";
import type { BatchOptions } from "./batch.js";
import { Batcher, batchLimits } from "./internal/batcher.js";
import { unpack } from "./protocol/batch.js";
import { PatternBase, checkContract } from "./lifecycle.js";

const EMPTY = Buffer.alloc(0);

/** What a pipeline handler gets besides the task. */
export interface JobContext<TContract extends JobContract> {
  /** The job contract. */
  readonly contract: TContract;
  /** Aborted when the worker stops waiting for this handler: on `close()`, once `drainTimeoutMs` has passed. */
  readonly signal: AbortSignal;
}

/**
 * Runs one task: receives the parsed task (the task schema's output type) and returns the result (the result
 * schema's input type), or a promise of it. Throw an {@link RpcError} to fail with an application code.
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
  /** `MALFORMED`, `INVALID_TASK`, `HANDLER_ERROR`, `INVALID_RESULT`, or an application code from {@link RpcError}. */
  readonly code: string;
  /** What went wrong, in words. */
  readonly message: string;
  /** What the handler threw, or the underlying failure. */
  readonly cause?: unknown;
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
export interface PipelineWorkerOptions {
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
  /** Called for every failed task. Errors it throws are ignored. */
  readonly onError?: (info: PipelineWorkerErrorInfo) => void;
  /**
   * Coalesce results into one ZeroMQ message for the sink (`["", packed]`); the sink unpacks them. Failure results
   * are never batched. `close()` flushes. `true` uses the defaults.
   * @defaultValue off
   */
  readonly batchResults?: BatchOptions | boolean;
}

/**
 * A pipeline worker: PULL tasks, run the handler, PUSH results.
 *
 * Every task is validated against the task schema before the handler runs, and every result against the result
 * schema before it is pushed. The worker keeps serving whatever happens to a single task.
 *
 * @example
 * await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Tasks,
 *   async ({ id }) => ({ id, worker: "w1" }), { concurrency: 4 });
 */
export class PipelineWorker<TContract extends JobContract> extends PatternBase<TContract> {
  readonly #tasks: zmq.Pull;
  readonly #results: zmq.Push | undefined;
  readonly #queue: SendQueue | undefined;
  readonly #batcher: Batcher<""> | undefined;
  /** Tasks unpacked from a batch, waiting for a free slot. */
  #backlog: Buffer[] = [];
  readonly #handler: JobHandler<TContract>;
  readonly #codec: Codec;
  readonly #concurrency: number;
  readonly #sendFailures: boolean;
  readonly #drainTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #onError: ((info: PipelineWorkerErrorInfo) => void) | undefined;
  /** Handlers running now. */
  #running = 0;
  /** Aborted when close() stops waiting for running handlers; every handler gets its signal. */
  readonly #stop = new AbortController();
  #readLoop: Promise<void> = Promise.resolve();
  #slotWaiter: (() => void) | undefined;
  #drainWaiter: (() => void) | undefined;
  #received = 0;
  #completed = 0;
  readonly #failed: Record<string, number> = {};

  private constructor(contract: TContract, handler: JobHandler<TContract>, hasResults: boolean, options: PipelineWorkerOptions) {
    super(checkContract(contract, "jobs", "PipelineWorker.connect"));
    const owner = "PipelineWorker.connect";
    if (typeof handler !== "function") throw new TypeError(`${owner}("${contract.name}"): \`handler\` must be a function (task) => result.`);
    this.#handler = handler;
    this.#codec = options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec");
    this.#concurrency = checkPositiveInt(options.concurrency, 1, "concurrency", owner);
    this.#sendFailures = options.sendFailures !== false;
    this.#drainTimeoutMs = checkNonNegative(options.drainTimeoutMs, 5_000, "drainTimeoutMs", owner);
    this.#lingerMs = checkNonNegative(options.lingerMs, 1_000, "lingerMs", owner);
    this.#onError = options.onError;
    this.#tasks = new zmq.Pull({
      linger: 0,
      receiveHighWaterMark: checkPositiveInt(options.receiveHighWaterMark, 1000, "receiveHighWaterMark", owner),
    });
    if (hasResults) {
      this.#results = new zmq.Push({ linger: this.#lingerMs });
      this.#queue = new SendQueue(this.#results);
      const limits = batchLimits(options.batchResults, owner);
      const queue = this.#queue;
      this.#batcher = limits === undefined ? undefined : new Batcher<"">(limits, (_key, packed) => queue.send([EMPTY, packed]));
    }
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
    const worker = new PipelineWorker(contract, handler, endpoints?.results !== undefined, options);
    const use = { owner: "PipelineWorker.connect", multicast: false };
    try {
      if (worker.#results !== undefined && endpoints.results !== undefined) {
        await worker.attach(worker.#results, endpoints.results, "connect", use);
      }
      await worker.attach(worker.#tasks, endpoints.tasks, "connect", use);
    } catch (err) {
      worker.#tasks.close();
      worker.#results?.close();
      throw err;
    }
    worker.#readLoop = worker.#read();
    return worker;
  }

  /** A snapshot of the counters. */
  get stats(): PipelineWorkerStats {
    return { received: this.#received, completed: this.#completed, failed: { ...this.#failed }, inFlight: this.#running };
  }

  async #read(): Promise<void> {
    for (;;) {
      while (this.#running >= this.#concurrency && !this.#tasks.closed) {
        await new Promise<void>((resolve) => (this.#slotWaiter = resolve));
      }
      const next = this.#backlog.shift();
      if (next !== undefined) {
        this.#received++;
        void this.#run([next]);
        continue;
      }
      let frames: Buffer[];
      try {
        frames = await this.#tasks.receive();
      } catch {
        return; // closed
      }
      if (frames.length === 2 && frames[0]!.length === 0) {
        // A batch of tasks, ["", packed]: run them one by one, in order, as slots free up.
        const bodies = unpack(frames[1]!);
        if (bodies !== undefined) {
          this.#backlog = bodies;
          continue;
        }
      }
      this.#received++;
      void this.#run(frames);
    }
  }

  async #run(frames: Buffer[]): Promise<void> {
    const controller = this.#stop;
    this.#running++;
    const name = this.contract.name;
    let task: unknown;
    try {
      if (frames.length !== 1) {
        throw new MalformedMessageError(`${name}: a task must be 1 frame (the encoded body), got ${frames.length}.`);
      }
      const decoded = decodeBody(this.#codec, frames[0]!, `Task for "${name}"`);
      const checked = this.contract.task.safeParse(decoded);
      if (!checked.success) {
        throw validationError(checked.error, {
          direction: "incoming",
          contract: name,
          method: "task",
          what: "Task for",
          schema: "task",
          hint: "The source sent a task that breaks the contract.",
        });
      }
      task = checked.data;
      let result: unknown;
      try {
        // `task` is the task schema's output (checked just above), which is what the handler is typed to receive.
        const returned: unknown = this.#handler(task as InferHandlerTask<TContract>, { contract: this.contract, signal: controller.signal });
        // A handler that answers synchronously finishes in this turn: no await, so the next task starts at once.
        result = isThenable(returned) ? await returned : returned;
      } catch (thrown) {
        // Whatever the handler throws is the handler's failure, even one of our own error classes.
        if (!controller.signal.aborted) await this.#fail(this.#handlerFailure(thrown), thrown);
        return;
      }
      if (controller.signal.aborted) return;
      const checkedResult = this.contract.result.safeParse(result);
      if (!checkedResult.success) {
        throw validationError(checkedResult.error, {
          direction: "outgoing",
          contract: name,
          method: "result",
          what: "Result of",
          schema: "result",
          hint: "The handler returned data that breaks the contract; fix the handler.",
        });
      }
      let body: Uint8Array;
      try {
        body = encodeBody(this.#codec, result, `Result of "${name}"`);
      } catch (err) {
        await this.#fail({ code: ErrorCode.INVALID_RESULT, message: toError(err).message }, err);
        return;
      }
      if (this.#queue !== undefined) {
        const sending = this.#batcher === undefined ? this.#queue.send([body]) : this.#batcher.add("", body);
        const sent = await Promise.resolve(sending).then(() => true, (err: unknown) => {
          this.#failed[ErrorCode.CLOSED] = (this.#failed[ErrorCode.CLOSED] ?? 0) + 1;
          const message = `${name}: a result could not be pushed: the results socket closed first (${toError(err).message}).`;
          callHook(this.#onError, { code: ErrorCode.CLOSED, message, cause: err });
          return false;
        });
        if (sent !== true) return;
      }
      this.#completed++;
    } catch (thrown) {
      if (!controller.signal.aborted) await this.#fail(this.#failureBody(thrown), thrown);
    } finally {
      this.#running--;
      const wake = this.#slotWaiter;
      this.#slotWaiter = undefined;
      wake?.();
      if (this.#running === 0) this.#drainWaiter?.();
    }
  }

  /** Failure body for a problem found by the worker itself: a malformed or invalid task, or an invalid result. */
  #failureBody(thrown: unknown): RpcErrorBody {
    if (thrown instanceof MalformedMessageError) return { code: ErrorCode.MALFORMED, message: thrown.message };
    if (thrown instanceof ContractValidationError) {
      const code = thrown.direction === "incoming" ? ErrorCode.INVALID_TASK : ErrorCode.INVALID_RESULT;
      return { code, message: thrown.message, details: { issues: thrown.issues } };
    }
    return { code: ErrorCode.HANDLER_ERROR, message: toError(thrown).message };
  }

  /** Failure body for what a handler threw: an {@link RpcError}'s code, or `HANDLER_ERROR`. */
  #handlerFailure(thrown: unknown): RpcErrorBody {
    const name = this.contract.name;
    if (thrown instanceof RpcError) {
      return thrown.details === undefined ? { code: thrown.code, message: thrown.message } : { code: thrown.code, message: thrown.message, details: thrown.details };
    }
    const error = toError(thrown);
    const what = thrown instanceof Error ? "threw" : "threw a non-Error value";
    return { code: ErrorCode.HANDLER_ERROR, message: `the handler of "${name}" ${what}: ${error.message.replace(/^non-Error value thrown: /, "")}` };
  }

  async #fail(body: RpcErrorBody, cause: unknown): Promise<void> {
    this.#failed[body.code] = (this.#failed[body.code] ?? 0) + 1;
    callHook(this.#onError, { code: body.code, message: body.message, cause });
    if (!this.#sendFailures || this.#queue === undefined) return;
    let bytes: Uint8Array;
    try {
      bytes = this.#codec.encode(body);
    } catch {
      bytes = this.#codec.encode({ code: body.code, message: body.message });
    }
    await this.#queue.send([STATUS_ERROR_FRAME, bytes]).catch(() => undefined);
  }

  /**
   * Stops pulling tasks (tasks already queued at this worker but not started are lost, as in plain push-pull), waits
   * up to `drainTimeoutMs` for running handlers and their results, aborts the rest, then closes both sockets.
   * Idempotent.
   */
  protected override async shutdown(): Promise<void> {
    this.#tasks.close();
    const wake = this.#slotWaiter;
    this.#slotWaiter = undefined;
    wake?.();
    await this.#readLoop;
    if (this.#running > 0) {
      const drained = signalled();
      this.#drainWaiter = drained.resolve;
      await settleWithin(drained.promise, this.#drainTimeoutMs);
    }
    if (this.#running > 0) {
      this.#stop.abort(new ClosedError(`PipelineWorker("${this.contract.name}") closed before the handler finished (drainTimeoutMs ${this.#drainTimeoutMs}).`));
    }
    if (this.#queue !== undefined) {
      const queue = this.#queue;
      const batcher = this.#batcher;
      await settleWithin((async () => {
        await batcher?.flush();
        await queue.idle();
      })(), this.#lingerMs);
    }
    this.#results?.close();
  }
}
