/**
 * @packageDocumentation
 * `PipelineWorker`: pulls typed tasks from a source, runs a handler on each (several at once, up to a limit), and
 * pushes typed results to a sink. Bad tasks and failing handlers are counted, reported, optionally sent on as
 * failure results, and never stop the worker. In reliable mode it is an MDP 0.1 worker of a `PipelineBroker`
 * instead (internal/reliable-worker.ts): tasks on credit, each acknowledged by its outcome.
 */
import { hostname } from "node:os";
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions, type CurveConfig } from "./internal/curve.js";
import type { Codec } from "./codec.js";
import type { InferHandlerResult, InferHandlerTask, JobContract, ValidationOptions } from "./contract.js";
import { ClosedError, ErrorCode, InvalidArgumentError } from "./errors/index.js";
import { readLimits, tooManyFrames, type LimitOptions, type Limits } from "./internal/limits.js";
import { toError } from "./internal/zmq-errors.js";
import {
  decodeInput,
  encodeError,
  callHandler,
  type DispatchPolicy,
  readDispatchPolicy,
  type DispatchStep,
  type Failure,
  type Input,
  type Outcome as DispatchOutcome,
} from "./internal/dispatch.js";
import { HandlerPool } from "./internal/handler-pool.js";
import { callHook, callHookOrLog, isThenable } from "./internal/hooks.js";
import { openPattern } from "./internal/open.js";
import { readLoop } from "./internal/read-loop.js";
import { InOrder, outgoingValidator, readValidateOutgoing, validatorOf } from "./internal/validator.js";
import { resolveOptions } from "./internal/options.js";
import { settleWithin } from "./internal/timing.js";
import { SendQueue } from "./internal/send-queue.js";
import type { BatchOptions } from "./batch.js";
import { Batcher, readBatch, type Limits as BatchLimits } from "./internal/batcher.js";
import { encodePipelineBatch, encodePipelineFailure, encodePipelineMessage, parsePipeline } from "./protocol/pipeline.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { endpointList } from "./internal/attach.js";
import { readConnectionOptions } from "./internal/connection-options.js";
import { fromZmqError } from "./internal/zmq-errors.js";
import { emitValidationFailed } from "./internal/events.js";
import { LatencyHistogram, type LatencyStats } from "./internal/latency.js";
import { watchConnections } from "./internal/socket-events.js";
import type { ConnectionEvent, ValidationFailedEvent } from "./events.js";
import { ReliableWorker, readReliableLinkSettings, type ReliableLinkSettings, type TaskJob } from "./internal/reliable-worker.js";
import { OutcomeStatus, type DispatchedTask } from "./protocol/queue.js";
import type { RpcServerEvent } from "./rpc-server.js";

/** The settings of reliable mode. */
interface ReliableConfig {
  readonly settings: ReliableLinkSettings;
  readonly connection: ReturnType<typeof readConnectionOptions>;
}

/** Options of reliable mode only, refused in plain mode (and plain-mode options refused in reliable mode). */
const RELIABLE_ONLY = ["queue", "name", "heartbeatMs", "liveness", "strictMdp"] as const;
const PLAIN_ONLY = ["batchResults", "resultsCurve"] as const;

/** Options resolved and checked before any socket exists. */
interface WorkerConfig {
  readonly reliable: ReliableConfig | undefined;
  readonly policy: DispatchPolicy;
  readonly validateOutgoing: boolean;
  readonly concurrency: number;
  readonly sendFailures: boolean;
  readonly drainTimeoutMs: number;
  readonly lingerMs: number;
  readonly receiveHighWaterMark: number;
  readonly limits: Limits;
  readonly batchResults: BatchLimits | undefined;
  readonly onError: ((info: PipelineWorkerErrorInfo) => void) | undefined;
  readonly onEvent: ((event: PipelineWorkerEvent) => void) | undefined;
  readonly curve: CurveConfig | undefined;
  readonly resultsCurve: CurveConfig | undefined;
}

function resolveWorkerOptions(owner: string, options: PipelineWorkerOptions, contract: JobContract): WorkerConfig {
  return resolveOptions(owner, options, (read) => {
    const reliable = read.oneOf("mode", ["plain", "reliable"], "plain") === "reliable";
    for (const key of reliable ? PLAIN_ONLY : RELIABLE_ONLY) {
      if (read.raw(key) === undefined) continue;
      throw new InvalidArgumentError(
        reliable
          ? `${owner}: \`${key}\` has no use in reliable mode (results go back to the broker, one reply per request); leave it out.`
          : `${owner}: \`${key}\` is an option of reliable mode; add mode: "reliable" (and connect \`tasks\` to a PipelineBroker's backend) or leave it out.`,
      );
    }
    if (reliable && read.raw("sendFailures") === false) {
      throw new InvalidArgumentError(
        `${owner}: \`sendFailures: false\` has no use in reliable mode: a failure is the task's outcome, and the broker needs it to stop delivering the task. Leave it out.`,
      );
    }
    return {
      reliable: reliable
        ? {
            settings: readReliableLinkSettings(read, contract.name, `${hostname()}-${process.pid}`),
            connection: readConnectionOptions(read),
          }
        : undefined,
      policy: readDispatchPolicy(read, Infinity),
      validateOutgoing: readValidateOutgoing(read),
      concurrency: read.positiveInt("concurrency", 1),
      sendFailures: read.flag("sendFailures", true),
      drainTimeoutMs: read.nonNegativeMs("drainTimeoutMs", 5_000),
      lingerMs: read.nonNegativeMs("lingerMs", 1_000),
      receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
      limits: readLimits(read),
      batchResults: readBatch(read, "batchResults"),
      onError: read.hook<(info: PipelineWorkerErrorInfo) => void>("onError"),
      onEvent: read.hook<(event: PipelineWorkerEvent) => void>("onEvent"),
      curve: readCurveOptions(read),
      resultsCurve: read.raw("resultsCurve") === undefined ? readCurveOptions(read) : readCurveOptions(read, "resultsCurve"),
    };
  });
}

/** The dispatch step of a job contract: task in, result out. */
function jobStep(contract: JobContract, validateOutgoing: boolean): DispatchStep {
  return {
    input: validatorOf(contract.task),
    output: outgoingValidator(contract.result, validateOutgoing),
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
  /**
   * Aborted when the worker stops waiting for this handler: on `close()`, once `drainTimeoutMs` has passed; in
   * reliable mode also when the link the task came on is lost (its outcome can no longer be sent: the broker
   * delivers the task again).
   */
  readonly signal: AbortSignal;
  /** Reliable mode: the task's id, chosen by the source (unique within the queue). Undefined in plain mode. */
  readonly taskId?: string;
  /**
   * Reliable mode: which delivery of the task this is, from 1 (more after a worker died, a lease passed, or a
   * `HANDLER_ERROR`; capped at 255 in batches). A handler with side effects can use it, with `taskId`, to make a
   * repeated run harmless. Undefined in plain mode.
   */
  readonly delivery?: number;
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
  /**
   * The source (or streamer) to pull tasks from: one endpoint or several (fair-queued). Reliable mode: the backend
   * of each `PipelineBroker` to serve (one MDP link per broker).
   */
  readonly tasks: string | readonly string[];
  /**
   * The sink to push results to. Leave out for a worker whose results go nowhere (the handler's value is still
   * checked). Reliable mode: must be left out (results go back to the broker, which holds them for the sinks).
   */
  readonly results?: string | readonly string[];
}

/**
 * What {@link PipelineWorkerOptions.onEvent} is told:
 * - reliable mode: what happened to a link to a broker (the `broker:*` events of {@link RpcServerEvent} in worker
 *   mode; `endpoint` names the broker);
 * - plain mode: connections of the tasks and results sockets (`connected`, `disconnected`, `handshake-failed`);
 * - both: a task (`direction: "incoming"`, `method: "task"`) or a handler's result (`"outgoing"`,
 *   `method: "result"`) that broke its schema (`validation-failed`; the task fails, as `onError` reports too).
 */
export type PipelineWorkerEvent =
  Extract<RpcServerEvent, { readonly type: `broker:${string}` }> | ConnectionEvent | ValidationFailedEvent;

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
  /**
   * Reliable mode: failures sent back as "deliver again" (an unexpected handler error, `HANDLER_ERROR`; also counted
   * in `failed`). The broker delivers the task again, up to its `maxDeliveries`. Always 0 in plain mode.
   */
  readonly retried: number;
  /**
   * Task time: from the handler's start to the end of its result's validation and encoding, for every task whose
   * handler ran (succeeded or failed). Sending the result is not included.
   */
  readonly latency: LatencyStats;
  /**
   * Reliable mode: tasks whose outcome was not sent because the link they came on was replaced (the broker fell
   * silent or sent DISCONNECT) or closed before they finished, or that arrived after `close()` had left the broker.
   * The broker delivers them again. Always 0 in plain mode.
   */
  readonly dropped: number;
}

/**
 * Options of {@link PipelineWorker.connect}. The options marked "reliable mode" are refused without
 * `mode: "reliable"`; `batchResults`, `resultsCurve` and `sendFailures: false` are refused with it.
 */
export interface PipelineWorkerOptions extends LimitOptions, ValidationOptions {
  /**
   * `"plain"`: PULL tasks from a source or streamer and PUSH results to a sink (no acknowledgements: a task queued at
   * a worker that dies is lost). `"reliable"`: be an MDP 0.1 worker of one or more `PipelineBroker`s (`tasks` is
   * their backend; no `results`): the broker sends at most `concurrency` tasks at once, and each task's outcome,
   * sent back to the broker, acknowledges it. A task whose worker dies, falls silent or holds it past the broker's
   * lease is delivered again; so is one whose handler threw unexpectedly (`HANDLER_ERROR`), up to the broker's
   * `maxDeliveries`. Final failures (`INVALID_TASK`, `INVALID_RESULT`, `MALFORMED`, {@link ApplicationError} codes)
   * are outcomes that go on to the sink. A handler may thus run more than once for one task: see
   * {@link JobContext.taskId} and {@link JobContext.delivery}. docs/protocol.md, "Reliable pipeline", has the wire.
   * @defaultValue "plain"
   */
  readonly mode?: "plain" | "reliable";
  /**
   * Reliable mode: the queue to take tasks from (the MDP service this worker registers for).
   * @defaultValue the contract's name
   */
  readonly queue?: string;
  /**
   * Reliable mode: the readable name brokers show for this worker; each socket's routing id is
   * `${name}-${4 random hex digits}`, new on every reconnection.
   * @defaultValue `${hostname}-${pid}`
   */
  readonly name?: string;
  /**
   * Reliable mode: MDP heartbeat interval. A HEARTBEAT goes to a broker in every interval in which nothing else was
   * sent to it; a broker silent for `heartbeatMs × liveness` is taken for dead: the socket is closed (the outcomes
   * of its tasks are dropped: the broker delivers them again) and a new one connects and sends READY again. Use the
   * broker's value.
   * @defaultValue 1000 (the `PipelineBroker`'s default)
   */
  readonly heartbeatMs?: number;
  /**
   * Reliable mode: how many heartbeat intervals a broker may stay silent.
   * @defaultValue 3
   */
  readonly liveness?: number;
  /**
   * Reliable mode: speak plain MDP 0.1, without typed-zmq's extensions: no capacity or `"batch"` frame in READY (the
   * broker sends one task at a time) and no acknowledged departure on `close()`.
   * @defaultValue false
   */
  readonly strictMdp?: boolean;
  /**
   * Called for every {@link PipelineWorkerEvent}: broker links (reliable mode), connections (plain mode) and failed
   * validations. Errors it throws are ignored.
   */
  readonly onEvent?: (event: PipelineWorkerEvent) => void;
  /**
   * Body codec; the source and sink must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Tasks run at once. When reached, the worker stops pulling; the rest wait in ZeroMQ's queues. Reliable mode: the
   * capacity announced to each broker, which never has more tasks than that at this worker (per broker link).
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
   * How long `close()` waits for running handlers before aborting their signals (their results are then not sent;
   * in reliable mode the broker delivers those tasks again).
   * @defaultValue 5000
   */
  readonly drainTimeoutMs?: number;
  /**
   * `ZMQ_LINGER` of the results socket (reliable mode: of each broker link): how long results already queued may still
   * be delivered after `close()`.
   * @defaultValue 1000
   */
  readonly lingerMs?: number;
  /**
   * `ZMQ_RCVHWM` of the tasks socket: tasks this worker may hold queued. Tasks queued at a worker are lost if it dies
   * (plain mode; in reliable mode the broker's credit bounds them and delivers them again).
   * @defaultValue 1000
   */
  readonly receiveHighWaterMark?: number;
  /**
   * Called for every failed task. Errors it throws are ignored. Without it, unexpected handler failures
   * (`HANDLER_ERROR`) are written to stderr, once each, so that none goes unnoticed. Reliable mode: also for
   * outcomes dropped (code `UNAVAILABLE`, see {@link PipelineWorkerStats.dropped}) and trouble on a broker link.
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
   * Reliable mode: the client side of each broker link (`{ certificate, serverKey: brokerPublicKey }`).
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
 * A pipeline worker: PULL tasks, run the handler, PUSH results; or, with `mode: "reliable"`, take tasks from a
 * `PipelineBroker` and acknowledge each with its outcome.
 *
 * Every task is validated against the task schema before the handler runs, and every result against the result
 * schema before it is pushed. The worker keeps serving whatever happens to a single task.
 *
 * **Reliable mode** (protocol 1.3): the worker is an MDP 0.1 worker of each broker in `tasks`, for the queue named
 * by `queue` (default: the contract's name). Its READY announces `concurrency` as its capacity and the `"batch"`
 * feature (unless `strictMdp`), so the broker never has more than `concurrency` tasks here and may send several in
 * one REQUEST; their outcomes go back in one REPLY once all of them are done. An outcome is the task's
 * acknowledgement: a result, a final failure (`INVALID_TASK`, `INVALID_RESULT`, `MALFORMED`, an
 * {@link ApplicationError}'s code) that the broker passes on to the sink, or, for an unexpected handler error
 * (`HANDLER_ERROR`), a failure marked "deliver again". Outcomes of tasks whose broker link was lost meanwhile are
 * dropped and counted (`stats.dropped`): the broker delivers those tasks again. So a task's handler runs **at least
 * once**, and may run again on this or another worker: `context.taskId` and `context.delivery` say which.
 *
 * @example
 * ```ts
 * await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Tasks,
 *   async ({ id }) => ({ id, worker: "w1" }), { concurrency: 4 });
 * // Reliable: through a PipelineBroker's backend.
 * await using reliable = await PipelineWorker.connect({ tasks: broker.backend }, Tasks,
 *   async ({ id }, { taskId, delivery }) => ({ id, worker: `w1 ${taskId} #${delivery}` }), { mode: "reliable", concurrency: 4 });
 * ```
 */
export class PipelineWorker<TContract extends JobContract> extends PatternBase<TContract> {
  /** Plain mode: the PULL socket. */
  readonly #tasks: zmq.Pull | undefined;
  /** Reliable mode: the broker links and their requests. */
  readonly #reliable: ReliableWorker | undefined;
  readonly #results: zmq.Push | undefined;
  readonly #queue: SendQueue | undefined;
  readonly #batcher: Batcher<""> | undefined;
  /** Tasks unpacked from a batch, waiting for a free slot. */
  #backlog: readonly Buffer[] = [];
  /** Where the next task of the backlog is (an index, not `shift()` per task). */
  #backlogAt = 0;
  readonly #handler: JobHandler<TContract>;
  readonly #sendFailures: boolean;
  readonly #drainTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #onError: ((info: PipelineWorkerErrorInfo) => void) | undefined;
  readonly #onEvent: ((event: PipelineWorkerEvent) => void) | undefined;
  readonly #latency = new LatencyHistogram();
  readonly #limits: Limits;
  readonly #curve: readonly (CurveGuard | undefined)[];
  readonly #pool: HandlerPool;
  readonly #step: DispatchStep;
  readonly #policy: DispatchPolicy;
  /** Keeps tasks in order while an asynchronous task check is pending. */
  readonly #inputs = new InOrder();
  #readLoop: Promise<void> = Promise.resolve();
  #received = 0;
  #completed = 0;
  #retried = 0;
  readonly #failed: Record<string, number> = {};
  /** `PipelineWorker("name")`, for messages: built once, not per task. */
  readonly #label: string;
  /**
   * Plain mode: the context every handler gets. It is the same for every task (the contract and the pool's stop
   * signal), so it is built once, frozen, instead of once per task.
   */
  readonly #context: JobContext<TContract>;

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
    this.#step = jobStep(contract, config.validateOutgoing);
    this.#pool = new HandlerPool(config.concurrency);
    this.#label = `PipelineWorker("${contract.name}")`;
    this.#context = Object.freeze({ contract, signal: this.#pool.signal });
    this.#sendFailures = config.sendFailures;
    this.#drainTimeoutMs = config.drainTimeoutMs;
    this.#lingerMs = config.lingerMs;
    this.#onError = config.onError;
    this.#onEvent = config.onEvent;
    this.#limits = config.limits;
    if (config.reliable !== undefined && hasResults) {
      throw new InvalidArgumentError(
        `${owner}("${contract.name}"): \`results\` has no use in reliable mode: results go back to the broker, which holds them for the sinks. Leave it out.`,
      );
    }
    const guards = [CurveGuard.open(config.curve)];
    this.#curve = guards;
    if (config.reliable !== undefined) {
      this.#reliable = this.#newReliable(config, config.reliable, guards[0]);
      return;
    }
    this.#tasks = new zmq.Pull({
      linger: 0,
      receiveHighWaterMark: config.receiveHighWaterMark,
      ...config.limits.socket,
      ...curveSocketOptions(config.curve),
    });
    guards[0]?.watch(this.#tasks);
    watchConnections(this.#tasks, config.onEvent);
    if (hasResults) {
      this.#results = new zmq.Push({ linger: this.#lingerMs, ...curveSocketOptions(config.resultsCurve) });
      guards.push(CurveGuard.open(config.resultsCurve));
      guards[1]?.watch(this.#results);
      watchConnections(this.#results, config.onEvent);
      const queue = new SendQueue(this.#results);
      this.#queue = queue;
      const limits = config.batchResults;
      this.#batcher =
        limits === undefined ? undefined : new Batcher<"">(limits, (_key, packed) => queue.send(encodePipelineBatch(packed)));
    }
  }

  #newReliable(config: WorkerConfig, reliable: ReliableConfig, guard: CurveGuard | undefined): ReliableWorker {
    const label = `PipelineWorker("${this.contract.name}")`;
    const report = (code: string, message: string, cause?: unknown): void =>
      callHook(this.#onError, { code, message, ...(cause !== undefined && { cause }) });
    return new ReliableWorker(
      {
        label,
        settings: reliable.settings,
        capacity: config.concurrency,
        limits: config.limits,
        link: {
          lingerMs: config.lingerMs,
          sendHighWaterMark: 1000,
          receiveHighWaterMark: config.receiveHighWaterMark,
          connection: { ...reliable.connection, ...config.limits.socket },
          curve: curveSocketOptions(config.curve),
          guard,
        },
      },
      this.#pool,
      {
        run: (task, job, index) => this.#runTask(task, job, index),
        refuse: (code, message) => this.#failureBody({ body: { code, message }, message }),
        dropped: (_count, message, cause) => report(ErrorCode.UNAVAILABLE, message, cause),
        event: (event) => callHook(config.onEvent, event),
        invalid: (reason) => report(ErrorCode.MALFORMED, `${label}: ${reason}; ignored.`),
        failed: (err) => {
          const error = fromZmqError(err, label, this.endpointText);
          report(error.code, `${label}: a broker link failed: ${error.message}`, err);
        },
      },
    );
  }

  /**
   * Connects a worker to its source and sink and starts pulling tasks; in reliable mode, to each broker's backend,
   * sending READY. Resolves at once: libzmq connects in the background (a reliable link reconnects on its own when
   * its broker falls silent or sends DISCONNECT, with a new socket and a new READY).
   *
   * @param endpoints - `tasks`: where to pull from (reliable: the brokers' backends); `results`: where to push
   *   results (optional; refused in reliable mode).
   * @param contract - The job contract shared with the source and the sink.
   * @param handler - Runs one task and returns its result.
   * @throws {@link InvalidEndpointError}; `TypeError`/`RangeError` for bad options (`results`, `batchResults`,
   *   `resultsCurve` or `sendFailures: false` with `mode: "reliable"`; a reliable-mode option without it).
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
        create: (owner) =>
          new PipelineWorker(
            contract,
            handler,
            hasResults,
            // Checked first: the options' defaults read the contract's name.
            resolveWorkerOptions(owner, options, checkContract(contract, "jobs", owner)),
            owner,
          ),
        attach: async (worker, use) => {
          if (worker.#reliable !== undefined) {
            const brokers = endpointList(endpoints.tasks, use.owner);
            await worker.#reliable.open(brokers, (socket, endpoint) => worker.attach(socket, endpoint, "connect", use));
            return;
          }
          if (worker.#results !== undefined && endpoints.results !== undefined) {
            await worker.attach(worker.#results, endpoints.results, "connect", use);
          }
          if (worker.#tasks !== undefined) await worker.attach(worker.#tasks, endpoints.tasks, "connect", use);
        },
        start: (worker) => {
          const tasks = worker.#tasks;
          if (tasks === undefined) return;
          worker.#readLoop = readLoop(tasks, (frames) => worker.#task(frames), { room: () => worker.#room() });
        },
      },
      "PipelineWorker",
      "connect",
    );
  }

  /** A snapshot of the counters. */
  get stats(): PipelineWorkerStats {
    const reliable = this.#reliable;
    return {
      received: reliable?.received ?? this.#received,
      completed: reliable?.completed ?? this.#completed,
      failed: { ...this.#failed },
      inFlight: this.#pool.running,
      retried: this.#retried,
      latency: this.#latency.snapshot(),
      dropped: reliable?.dropped ?? 0,
    };
  }

  /**
   * Room for the next read: none while the pool is full; tasks unpacked from a batch start first, in order, as slots
   * free up, and only then is the next message read.
   */
  #room(): Promise<void> | undefined {
    for (;;) {
      const wait = this.#pool.slot();
      if (wait !== undefined) return wait;
      const next = this.#backlog[this.#backlogAt];
      if (next === undefined) return undefined;
      this.#backlogAt++;
      this.#run(next);
    }
  }

  #task(frames: Buffer[]): void {
    this.#received++;
    if (frames.length === 1) {
      // The common case, one task per message: no parse, no object (parsePipeline gives `frames[0]` as the body).
      this.#run(frames[0]!);
      return;
    }
    const over = tooManyFrames(this.#limits, frames, this.#label);
    if (over !== undefined) {
      void this.#fail({ body: { code: ErrorCode.MESSAGE_TOO_LARGE, message: over }, message: over });
      return;
    }
    const task = parsePipeline(frames);
    switch (task.kind) {
      case "batch":
        // A batch of tasks, ["", packed] (+ headers): run them one by one, in order, as slots free up.
        this.#received += task.bodies.length - 1;
        this.#backlog = task.bodies; // the unpacked views, kept as they are (no copy)
        this.#backlogAt = 0;
        return;
      case "message":
        this.#run(task.body);
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

  /** Takes a pool slot for one task and runs it; finishes in this turn when its check and handler are synchronous. */
  #run(body: Buffer): void {
    this.#pool.begin();
    const input = decodeInput(this.#step, this.#policy, body);
    // An asynchronous check (or one still pending before this task) keeps the tasks in their order.
    if (input instanceof Promise || this.#inputs.busy) {
      void this.#inputs.after(input, (checked) => this.#runInput(checked));
      return;
    }
    this.#runInput(input);
  }

  /**
   * Runs the handler on a checked task (its pool slot is taken) and pushes the result. The fast path: a handler that
   * answers synchronously, with a synchronous result check, and a result that needs no wait to be handed on (no
   * results socket, or a batch with room) finish here, with no promise, closure or context object of their own.
   * Anything that waits continues in {@link PipelineWorker.#afterHandler} or {@link PipelineWorker.#afterSend}.
   */
  #runInput(input: Input): void {
    try {
      if (!input.ok) {
        void this.#failThenEnd(input.failure);
        return;
      }
      const startedAt = performance.now();
      const running = callHandler(this.#step, this.#policy, this.#handler, input.value, this.#context);
      if (isThenable(running)) {
        void this.#afterHandler(running, startedAt);
        return;
      }
      this.#latency.since(startedAt);
      this.#handOn(running);
    } catch (err) {
      // Not expected (every step catches its own failures); as before, the slot is freed and the error surfaces
      // as an unhandled rejection rather than stopping the read loop.
      this.#pool.end();
      void Promise.reject(toError(err));
    }
  }

  /** A handler (or result check) that answered with a promise: waits for it, then hands the outcome on. */
  async #afterHandler(running: Promise<DispatchOutcome>, startedAt: number): Promise<void> {
    let outcome: DispatchOutcome;
    try {
      outcome = await running;
    } catch (err) {
      this.#pool.end();
      throw err;
    }
    this.#latency.since(startedAt);
    try {
      this.#handOn(outcome);
    } catch (err) {
      this.#pool.end();
      throw err;
    }
  }

  /** Sends (or counts) one outcome and frees the task's slot, at once or once the send has settled. */
  #handOn(outcome: DispatchOutcome): void {
    if (this.#pool.signal.aborted) {
      this.#pool.end();
      return;
    }
    if (!outcome.ok) {
      void this.#failThenEnd(outcome.failure);
      return;
    }
    const queue = this.#queue;
    if (queue !== undefined) {
      const sending =
        this.#batcher === undefined ? queue.send(encodePipelineMessage(outcome.body)) : this.#batcher.add("", outcome.body);
      if (sending !== undefined) {
        void this.#afterSend(sending);
        return;
      }
    }
    this.#completed++;
    this.#pool.end();
  }

  /** Waits for a result's send (or its batch's), counts it, and frees the task's slot. */
  async #afterSend(sending: Promise<unknown>): Promise<void> {
    try {
      await sending;
      this.#completed++;
    } catch (err) {
      this.#failed[ErrorCode.CLOSED] = (this.#failed[ErrorCode.CLOSED] ?? 0) + 1;
      const message = `${this.contract.name}: a result could not be pushed: the results socket closed first (${toError(err).message}).`;
      callHook(this.#onError, { code: ErrorCode.CLOSED, message, cause: err });
    } finally {
      this.#pool.end();
    }
  }

  async #failThenEnd(failure: Failure): Promise<void> {
    try {
      await this.#fail(failure);
    } finally {
      this.#pool.end();
    }
  }

  /**
   * Reliable mode: runs one task of a broker's REQUEST (its pool slot is taken) and settles it with its outcome. No
   * promise of its own for a handler that answers synchronously.
   */
  #runTask(task: DispatchedTask, job: TaskJob, index: number): void {
    const input = decodeInput(this.#step, this.#policy, task.body);
    if (input instanceof Promise || this.#inputs.busy) {
      void this.#inputs.after(input, (checked) => this.#runChecked(checked, job, index, task));
      return;
    }
    this.#runChecked(input, job, index, task);
  }

  #runChecked(input: Input, job: TaskJob, index: number, task: DispatchedTask): void {
    if (!input.ok) {
      job.settle(index, OutcomeStatus.FAILED, this.#failureBody(input.failure));
      return;
    }
    const context = new ReliableContext(this.contract, job, task);
    const startedAt = performance.now();
    const running = callHandler(this.#step, this.#policy, this.#handler, input.value, context);
    if (isThenable(running)) void running.then((outcome) => this.#settle(job, index, outcome, startedAt));
    else this.#settle(job, index, running, startedAt);
  }

  #settle(job: TaskJob, index: number, outcome: DispatchOutcome, startedAt: number): void {
    this.#latency.since(startedAt);
    if (outcome.ok) {
      job.settle(index, OutcomeStatus.OK, outcome.body);
      return;
    }
    // An unexpected handler error may pass on another delivery; every other failure would only repeat.
    const retry = outcome.failure.body.code === ErrorCode.HANDLER_ERROR;
    if (retry) this.#retried++;
    job.settle(index, retry ? OutcomeStatus.RETRY : OutcomeStatus.FAILED, this.#failureBody(outcome.failure));
  }

  /** Counts and reports a failed task, and encodes the failure body for the peer. */
  #failureBody(failure: Failure): Uint8Array {
    this.#report(failure);
    return encodeError(this.#policy.codec, failure.body);
  }

  async #fail(failure: Failure): Promise<void> {
    this.#report(failure);
    if (!this.#sendFailures || this.#queue === undefined) return;
    await this.#queue.send(encodePipelineFailure(encodeError(this.#policy.codec, failure.body))).catch(() => undefined);
  }

  #report(failure: Failure): void {
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
    if (failure.cause !== undefined) emitValidationFailed(this.#onEvent, failure.cause);
  }

  /**
   * Stops pulling tasks (tasks already queued at this worker but not started are lost, as in plain push-pull), waits
   * up to `drainTimeoutMs` for running handlers and their results, aborts the rest, then closes both sockets.
   *
   * Reliable mode: first tells each broker it is leaving (HEARTBEAT + "leaving") and waits for its acknowledgement,
   * at most min(1000, `drainTimeoutMs`) ms (a plain MDP broker sends none), running what arrives meanwhile; then runs
   * every task received for up to `drainTimeoutMs`, sends the outcomes (a batch cut short is answered with the
   * outcomes it has), aborts what still runs and sends DISCONNECT; the broker delivers the unanswered tasks again.
   * Idempotent.
   */
  protected override async shutdown(): Promise<void> {
    if (this.#reliable !== undefined) {
      await this.#reliable.close(this.#drainTimeoutMs, () => this.#pool.drain(0, () => this.#drainError()));
      this.#pool.release();
      for (const guard of this.#curve) guard?.release();
      return;
    }
    this.#tasks?.close();
    this.#pool.release();
    await this.#readLoop;
    await this.#pool.drain(this.#drainTimeoutMs, () => this.#drainError());
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

  #drainError(): ClosedError {
    return new ClosedError(
      `PipelineWorker("${this.contract.name}") closed before the handler finished (drainTimeoutMs ${this.#drainTimeoutMs}).`,
    );
  }
}

/** A reliable-mode handler's context: the task's id and delivery, and a signal built only when read. */
class ReliableContext<TContract extends JobContract> implements JobContext<TContract> {
  readonly contract: TContract;
  readonly taskId: string;
  readonly delivery: number;
  readonly #job: TaskJob;

  constructor(contract: TContract, job: TaskJob, task: DispatchedTask) {
    this.contract = contract;
    this.taskId = task.id;
    this.delivery = task.delivery;
    this.#job = job;
  }

  get signal(): AbortSignal {
    return this.#job.scope.signal;
  }
}
