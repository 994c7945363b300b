/**
 * @packageDocumentation
 * `PipelineSink`: pulls typed results (and failure results) from pipeline workers over a PULL socket; iterate them
 * or await a given number.
 */
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import { jsonCodec, type Codec } from "./codec.js";
import type { InferResult, JobContract } from "./contract.js";
import { ClosedError, OutOfRangeError, TimeoutError, type RpcErrorBody, type ValidationIssue } from "./errors/index.js";
import type { EndpointUse } from "./internal/attach.js";
import { decodeBody } from "./internal/codec-io.js";
import { formatIssues } from "./internal/contract-check.js";
import { validatorOf, type Validation, type Validator } from "./internal/validator.js";
import { checkTimeout, timeoutFor, type DeadlinePlace } from "./internal/deadline.js";
import { readLimits, tooManyFrames, type LimitOptions } from "./internal/limits.js";
import { toError } from "./internal/zmq-errors.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { MessageStream, SKIP, parseAll, type Many, type Parsed } from "./internal/stream.js";
import { asErrorBody } from "./internal/wire.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { parsePipeline } from "./protocol/pipeline.js";
import { encodeFetch, encodeQueueDisconnect, encodeTaken, MAX_WINDOW, OutcomeStatus } from "./protocol/queue.js";
import { Channel } from "./internal/channel.js";
import { QUEUE_LINK_HEARTBEATS, QueueClient, readReliableMode, type QueueReply } from "./internal/queue-client.js";
import { ResultAcks } from "./internal/result-acks.js";
import { dropHook } from "./internal/events.js";
import { watchConnections } from "./internal/socket-events.js";
import type { ConnectionEvent, DroppedEvent, ValidationFailedEvent } from "./events.js";
import type { WaitOptions } from "./signal.js";

const DROP_REASONS: readonly PipelineSinkDropReason[] = ["malformed", "undecodable", "invalid"];

/** One outcome a sink receives: a result, or a failure result a worker sent for a task that failed. */
export type JobOutcome<TContract extends JobContract> =
  | {
      /** The task succeeded. */
      readonly ok: true;
      /** The result, parsed by the result schema. */
      readonly result: InferResult<TContract>;
      /** Reliable mode: the id of the task (always set there; absent in plain mode). */
      readonly taskId?: string;
    }
  | {
      /** The task failed at the worker, or (reliable mode) the broker gave up on it. */
      readonly ok: false;
      /**
       * What the worker reported: `INVALID_TASK`, `HANDLER_ERROR`, `INVALID_RESULT`, `MALFORMED` or an application
       * code. Reliable mode adds the broker's own failure `POISON_TASK` (`details: { taskId, deliveries }`): the task
       * was delivered `maxDeliveries` times and never completed.
       */
      readonly error: RpcErrorBody;
      /** Reliable mode: the id of the task (always set there; absent in plain mode). */
      readonly taskId?: string;
    };

/** Why a {@link PipelineSink} dropped a message. */
export type PipelineSinkDropReason = "malformed" | "undecodable" | "invalid";

/** A message a {@link PipelineSink} dropped, as reported to `onDrop`. */
export interface PipelineSinkDropInfo {
  /** Why it was dropped. */
  readonly reason: PipelineSinkDropReason;
  /** What was wrong, in words. */
  readonly message: string;
  /** For `invalid`: the schema problems. */
  readonly issues?: readonly ValidationIssue[];
}

/** Counters of a {@link PipelineSink}. */
export interface PipelineSinkStats {
  /** Messages read from the socket. */
  readonly received: number;
  /** Valid results. */
  readonly results: number;
  /** Failure results sent by workers. */
  readonly failures: number;
  /** Messages dropped, by reason. */
  readonly dropped: Readonly<Record<PipelineSinkDropReason, number>>;
  /**
   * Reliable mode only (absent in plain mode): results that arrived again for a task id within the dedupe window
   * (after a reconnection, or a broker restart): acknowledged, never yielded.
   */
  readonly duplicates?: number;
}

/**
 * What {@link PipelineSinkOptions.onEvent} is told: connections (plain mode: of workers or a streamer; reliable
 * mode: of the link to the broker), results that broke the result schema (`direction: "incoming"`,
 * `method: "result"`; dropped), and every dropped message (the same information as `onDrop`).
 */
export type PipelineSinkEvent = ConnectionEvent | ValidationFailedEvent | DroppedEvent<PipelineSinkDropInfo>;

/** Options of {@link PipelineSink.bind} and {@link PipelineSink.connect}. */
export interface PipelineSinkOptions extends LimitOptions {
  /**
   * Body codec; the workers must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /** `ZMQ_RCVHWM`. @defaultValue 1000 */
  readonly receiveHighWaterMark?: number;
  /** Called for every dropped message (also counted in {@link PipelineSink.stats}). Errors it throws are ignored. */
  readonly onDrop?: (info: PipelineSinkDropInfo) => void;
  /**
   * Called for every {@link PipelineSinkEvent}: connections, failed validations and drops (after `onDrop`). Errors
   * it throws are ignored.
   */
  readonly onEvent?: (event: PipelineSinkEvent) => void;
  /**
   * CURVE encryption: a bound sink is the workers' server (`{ certificate, allow }`); a connecting one their client
   * (`{ certificate, serverKey }`).
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
  /**
   * `"plain"`: pull results straight from the workers (or a `PipelineStreamer`). `"reliable"` (protocol 1.3):
   * connect to a `PipelineBroker`'s frontend and fetch the results it holds; each is acknowledged (TAKEN) once user
   * code has it, and only then forgotten by the broker. Reliable mode only connects, to one broker.
   * @defaultValue "plain"
   */
  readonly mode?: "plain" | "reliable";
  /**
   * Reliable mode: the broker's queue whose results to fetch (1 to 255 UTF-8 bytes).
   * @defaultValue the contract's name, such as `"jobs.v1"`
   */
  readonly queue?: string;
  /**
   * Reliable mode: most results the broker sends this sink before it has taken them (the FETCH window, 1 to
   * 1,000,000). It bounds the sink's memory; results beyond it wait at the broker.
   * @defaultValue 1000
   */
  readonly window?: number;
  /**
   * Reliable mode: how many task ids the sink remembers to drop results delivered again (at least `window`). A
   * repeat of an id older than that reaches user code again.
   * @defaultValue 65536
   */
  readonly dedupeWindow?: number;
  /**
   * Reliable mode: a HEARTBEAT goes to the broker after this long with nothing else sent; set it like the broker's.
   * @defaultValue 1000
   */
  readonly heartbeatMs?: number;
  /**
   * Reliable mode: a broker silent for `heartbeatMs × liveness` is lost: the sink drops its socket, connects a new
   * one and sends FETCH again.
   * @defaultValue 3
   */
  readonly liveness?: number;
}

/**
 * Collects the outcomes of a pipeline.
 *
 * A message that is malformed, cannot be decoded or breaks the result schema is never yielded: it is counted in
 * {@link PipelineSink.stats} and reported to `onDrop`. Leaving a `for await` loop early does not close the sink.
 *
 * **Reliable mode** (`{ mode: "reliable" }`): results come from a `PipelineBroker`, each with its `taskId`, and a
 * result is acknowledged (TAKEN) once it has been handed to user code: `receive()` resolved with it, the iterator
 * yielded it, or `collect()` returned it. Results received and not yet handed when the sink closes or crashes are
 * not acknowledged: the broker gives them to the next sink. So results are delivered **at least once across sink
 * restarts, and once to user code within one sink's life**: a repeat whose id is among the last `dedupeWindow` seen
 * is acknowledged again and dropped (`stats.duplicates`). A result that breaks the result schema (or cannot be
 * decoded) is dropped as in plain mode and acknowledged too, so that the broker forgets it.
 *
 * @example
 * ```ts
 * await using sink = await PipelineSink.bind("tcp://127.0.0.1:0", Tasks);
 * const outcomes = await sink.collect(100, { timeoutMs: 10_000 });
 * ```
 */
export class PipelineSink<TContract extends JobContract>
  extends PatternBase<TContract>
  implements AsyncIterable<JobOutcome<TContract>>
{
  readonly #socket: zmq.Pull | undefined;
  readonly #reliable: ReliableSide | undefined;
  readonly #stream: MessageStream<JobOutcome<TContract>, PipelineSinkDropReason, PipelineSinkDropInfo, Buffer[] | Results>;
  readonly #config: SinkConfig;
  readonly #curve: CurveGuard | undefined;
  /** The decode errors' "where", built once: a template string per result was measurable on the hot path. */
  readonly #resultWhere: string;
  readonly #failureWhere: string;
  /** The result schema's validator, resolved once. */
  readonly #validate: Validator;
  #results = 0;
  #failures = 0;

  private constructor(contract: TContract, config: SinkConfig, owner: string) {
    super(checkContract(contract, "jobs", owner));
    this.#config = config;
    this.#resultWhere = `Result on "${this.contract.name}"`;
    this.#failureWhere = `Failure result on "${this.contract.name}"`;
    this.#validate = validatorOf(this.contract.result);
    this.#curve = CurveGuard.open(config.curve);
    const onDrop = dropHook(config.onDrop, config.onEvent, contract.name, () => "result");
    const parse = (raw: Buffer[] | Results): Parsed<JobOutcome<TContract>> | Promise<Parsed<JobOutcome<TContract>>> =>
      Array.isArray(raw) ? this.#parse(raw) : this.#parseResults(raw);
    const reliable = config.reliable;
    if (reliable !== undefined) {
      this.#socket = undefined;
      const channel = new Channel<Results>();
      const side: ReliableSide = {
        channel,
        queue: reliable.queue,
        acks: new ResultAcks(reliable.dedupeWindow, (ids) => side.client.send(encodeTaken(reliable.queue, ids))),
        client: new QueueClient(
          {
            endpoint: reliable.endpoint,
            heartbeatMs: reliable.heartbeatMs,
            liveness: reliable.liveness,
            socket: {
              linger: SINK_LINGER_MS,
              receiveHighWaterMark: config.receiveHighWaterMark,
              ...QUEUE_LINK_HEARTBEATS,
              ...config.limits.socket,
              ...curveSocketOptions(config.curve),
            },
            guard: this.#curve,
          },
          {
            message: (message) => {
              if (message.kind === "results") channel.push(message);
            },
            up: () => {
              side.client.send(encodeFetch(reliable.queue, reliable.window));
              side.acks.flush();
            },
            invalid: (reason) => {
              this.#stream.count();
              this.#drop("malformed", `${this.contract.name}: ${reason}.`);
            },
            connection: config.onEvent,
          },
        ),
      };
      this.#reliable = side;
      // receive() and the iterator acknowledge an outcome in the same call that resolves their promise with it (no
      // `.then()` or async wrapper per outcome: two promises and two microtask hops fewer).
      this.#stream = new MessageStream<JobOutcome<TContract>, PipelineSinkDropReason, PipelineSinkDropInfo, Buffer[] | Results>(
        channel,
        parse,
        DROP_REASONS,
        onDrop,
        this.#handed,
      );
      return;
    }
    this.#reliable = undefined;
    this.#socket = new zmq.Pull({
      linger: 0,
      receiveHighWaterMark: config.receiveHighWaterMark,
      ...config.limits.socket,
      ...curveSocketOptions(config.curve),
    });
    this.#curve?.watch(this.#socket);
    watchConnections(this.#socket, config.onEvent);
    this.#stream = new MessageStream<JobOutcome<TContract>, PipelineSinkDropReason, PipelineSinkDropInfo, Buffer[] | Results>(
      this.#socket,
      parse,
      DROP_REASONS,
      onDrop,
    );
  }

  /**
   * Binds a sink (the usual case: workers connect to it). Resolves once bound.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; `TypeError`/`RangeError` for bad options.
   */
  static override async bind<TContract extends JobContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PipelineSinkOptions = {},
  ): Promise<PipelineSink<TContract>> {
    return PipelineSink.#open(endpoint, contract, options, "bind");
  }

  /**
   * Connects a sink to workers (or a streamer) that bind, or, with `{ mode: "reliable" }`, to the frontend of a
   * `PipelineBroker` (one endpoint): it sends FETCH on every new connection and after a DISCONNECT.
   * @throws {@link InvalidEndpointError}; `TypeError`/`RangeError` for bad options.
   */
  static async connect<TContract extends JobContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PipelineSinkOptions = {},
  ): Promise<PipelineSink<TContract>> {
    return PipelineSink.#open(endpoint, contract, options, "connect");
  }

  static #open<TContract extends JobContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PipelineSinkOptions,
    mode: OpenMode,
  ): Promise<PipelineSink<TContract>> {
    const steps = {
      create: (owner: string) => new PipelineSink(contract, resolveSinkOptions(owner, options, mode, endpoint, contract), owner),
      attach: (sink: PipelineSink<TContract>, use: EndpointUse) =>
        sink.#socket !== undefined
          ? sink.attach(sink.#socket, endpoint, mode, use)
          : (sink.#reliable?.client.open((socket) => sink.attach(socket, endpoint, mode, use)) ?? Promise.resolve()),
    };
    return openPattern(steps, "PipelineSink", mode);
  }

  /** A snapshot of the counters. */
  get stats(): PipelineSinkStats {
    const stats = {
      received: this.#stream.received,
      results: this.#results,
      failures: this.#failures,
      dropped: this.#stream.dropped,
    };
    return this.#reliable === undefined ? stats : { ...stats, duplicates: this.#reliable.acks.duplicates };
  }

  /**
   * Waits for the next outcome. In reliable mode the outcome is acknowledged to the broker once this resolves.
   * @throws {@link TimeoutError}, {@link AbortedError} (an outcome arriving later is kept for the next reader);
   *   {@link ClosedError} when the sink is or gets closed.
   */
  receive(options?: WaitOptions): Promise<JobOutcome<TContract>> {
    const what = `PipelineSink("${this.contract.name}").receive()`;
    return this.#stream.receive(
      options,
      () => this.#place(what),
      () => new ClosedError(`${what} rejected: the sink is closed.`),
    );
  }

  /** Reliable mode: an outcome reached user code; acknowledge it. */
  readonly #handed = (outcome: JobOutcome<TContract>): void => {
    if (outcome.taskId !== undefined) this.#reliable?.acks.handed(outcome.taskId);
  };

  /**
   * Waits for `count` outcomes and returns them in arrival order. Reliable mode: `count` is at most the `window`
   * (the outcomes are taken, and the broker sends more, only when collect() returns).
   *
   * `timeoutMs` (default 30 000 ms) bounds the whole wait. If it passes, or `signal` fires, or the sink is closed,
   * the outcomes received so far are put back for the next reader, so none is lost.
   *
   * @throws {@link TimeoutError} (its message says how many arrived), {@link AbortedError}, {@link ClosedError};
   *   `RangeError` for a `count` that is not an integer \>= 0 or, in reliable mode, is over the `window`.
   */
  async collect(count: number, options: WaitOptions = {}): Promise<JobOutcome<TContract>[]> {
    const what = `PipelineSink("${this.contract.name}").collect(${count})`;
    if (!Number.isInteger(count) || count < 0) throw new OutOfRangeError(`${what}: \`count\` must be an integer >= 0.`);
    const window = this.#config.reliable?.window;
    if (window !== undefined && count > window) {
      // The broker sends at most `window` outcomes not yet taken, and collect() takes them only when it returns.
      throw new OutOfRangeError(
        `${what}: in reliable mode \`count\` must be at most the sink's \`window\` (${window}): the broker sends no more than that until they are taken, and collect() takes them only when it returns. Collect in chunks of at most ${window}, iterate the sink, or raise { window }.`,
      );
    }
    const timeoutMs = checkTimeout(options.timeoutMs, 30_000, "timeoutMs");
    const deadline = Date.now() + timeoutMs;
    const outcomes: JobOutcome<TContract>[] = [];
    try {
      while (outcomes.length < count) {
        const remaining = Math.max(1, deadline - Date.now());
        const result = await this.#stream.take({ timeoutMs: remaining, signal: options.signal, place: this.#place(what) });
        if (result.done === true)
          throw new ClosedError(`${what} rejected: the sink was closed after ${outcomes.length} outcomes.`);
        outcomes.push(result.value);
      }
    } catch (err) {
      this.#stream.putBack(outcomes);
      if (err instanceof TimeoutError) {
        throw timeoutFor(this.#place(what), timeoutMs, ` (${outcomes.length} of ${count} arrived)`);
      }
      throw err;
    }
    for (const outcome of outcomes) this.#handed(outcome);
    return outcomes;
  }

  #place(what: string): DeadlinePlace {
    return {
      what,
      endpoint: this.endpoint,
      waitingFor: `results on ${this.endpointText}`,
      hint: "Check that workers are connected and push their results to this sink, or raise { timeoutMs }.",
    };
  }

  /**
   * Iterates outcomes until `close()`. Leaving the loop early does not close the sink. In reliable mode each outcome
   * is acknowledged once the iterator has yielded it.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<JobOutcome<TContract>> {
    return this.#stream.iterator();
  }

  #drop(reason: PipelineSinkDropReason, message: string, issues?: readonly ValidationIssue[]): typeof SKIP {
    return this.#stream.drop(issues === undefined ? { reason, message } : { reason, message, issues });
  }

  #parse(frames: Buffer[]): Parsed<JobOutcome<TContract>> | Promise<Parsed<JobOutcome<TContract>>> {
    const over = tooManyFrames(this.#config.limits, frames, `PipelineSink("${this.contract.name}")`);
    const frame = over === undefined ? parsePipeline(frames) : ({ kind: "malformed", reason: over } as const);
    switch (frame.kind) {
      case "message":
        return this.#parseResult(frame.body);
      case "failure":
        return this.#parseFailure(frame.body);
      case "batch": {
        const bodies = frame.bodies;
        return parseAll(bodies.length, (i) => this.#parseResult(bodies[i]!));
      }
      default:
        this.#stream.count();
        return this.#drop("malformed", `${this.contract.name}: ${frame.reason}.`);
    }
  }

  /** Reliable mode: the outcomes of one RESULTS, repeats left out, each with its task id. */
  #parseResults(message: Results): Many<JobOutcome<TContract>> | Promise<Many<JobOutcome<TContract>>> {
    const acks = this.#reliable?.acks;
    const { ids, outcomes: records } = message;
    return parseAll(ids.length, (i) => {
      const id = ids[i]!;
      const { status, body } = records[i]!;
      if (acks !== undefined && !acks.arrived(id)) {
        this.#stream.count();
        return SKIP;
      }
      // The outcome is built with its task id (no `{ ...outcome, taskId }` copy per result).
      const outcome =
        status === OutcomeStatus.OK
          ? this.#parseResult(body, id)
          : this.#parseFailure(body, status === OutcomeStatus.BROKER_FAILED ? jsonCodec : this.#config.codec, id);
      if (outcome instanceof Promise) return outcome.then((done) => (done === SKIP ? (acks?.discard(id), SKIP) : done));
      if (outcome === SKIP) acks?.discard(id);
      return outcome;
    });
  }

  /**
   * A failure result: `{ code, message, details? }` decoded with `codec` (JSON for the broker's own). `taskId`:
   * reliable mode's (plain outcomes have no such property).
   */
  #parseFailure(body: Buffer, codec: Codec = this.#config.codec, taskId?: string): JobOutcome<TContract> | typeof SKIP {
    this.#stream.count();
    const name = this.contract.name;
    let error: RpcErrorBody | undefined;
    try {
      error = asErrorBody(decodeBody(codec, body, this.#failureWhere));
    } catch (err) {
      return this.#drop("undecodable", toError(err).message);
    }
    if (error === undefined) return this.#drop("malformed", `${name}: a failure result's body is not { code, message }.`);
    this.#failures++;
    return taskId === undefined ? { ok: false, error } : { ok: false, error, taskId };
  }

  /** A result; `taskId` as for a failure result. */
  #parseResult(
    body: Buffer,
    taskId?: string,
  ): JobOutcome<TContract> | typeof SKIP | Promise<JobOutcome<TContract> | typeof SKIP> {
    this.#stream.count();
    let value: unknown;
    try {
      value = decodeBody(this.#config.codec, body, this.#resultWhere);
    } catch (err) {
      return this.#drop("undecodable", toError(err).message);
    }
    const checked = this.#validate(value);
    return checked instanceof Promise ? checked.then((done) => this.#checked(done, taskId)) : this.#checked(checked, taskId);
  }

  #checked(checked: Validation, taskId: string | undefined): JobOutcome<TContract> | typeof SKIP {
    if (!checked.ok) {
      const issues = checked.issues;
      return this.#drop(
        "invalid",
        `${this.contract.name}: a result does not match the result schema: ${formatIssues(issues)}.`,
        issues,
      );
    }
    this.#results++;
    // `checked.value` is the result schema's output, which is what JobOutcome says.
    const result = checked.value as InferResult<TContract>;
    return taskId === undefined ? { ok: true, result } : { ok: true, result, taskId };
  }

  /**
   * Closes the socket; loops end, waits reject, and outcomes not yet taken are discarded. Reliable mode: the
   * acknowledgements not yet sent go first, then DISCONNECT; the broker gives the discarded outcomes (never handed
   * to user code, so never acknowledged) to the next sink. Idempotent.
   */
  protected override async shutdown(): Promise<void> {
    this.#socket?.close();
    this.#stream.end();
    const reliable = this.#reliable;
    if (reliable !== undefined) {
      reliable.channel.end();
      reliable.acks.flush();
      await reliable.client.close(SINK_LINGER_MS, encodeQueueDisconnect());
    }
    this.#curve?.release();
  }
}

type SinkConfig = ReturnType<typeof resolveSinkOptions>;

/** The RESULTS a reliable sink hands its stream. */
type Results = Extract<QueueReply, { readonly kind: "results" }>;

/** A reliable sink's link to its broker, its acknowledgements, and the channel between its read loop and its readers. */
interface ReliableSide {
  readonly queue: string;
  readonly client: QueueClient;
  readonly acks: ResultAcks;
  readonly channel: Channel<Results>;
}

/** How long a closing reliable sink lets its last TAKEN and DISCONNECT travel. */
const SINK_LINGER_MS = 1_000;

/** Every option checked and frozen before the socket exists. */
function resolveSinkOptions(
  owner: string,
  options: PipelineSinkOptions,
  mode: OpenMode,
  endpoint: string | readonly string[],
  contract: JobContract,
) {
  return resolveOptions(owner, options, (read) => ({
    codec: read.codec(),
    receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
    onDrop: read.hook<(info: PipelineSinkDropInfo) => void>("onDrop"),
    onEvent: read.hook<(event: PipelineSinkEvent) => void>("onEvent"),
    limits: readLimits(read),
    curve: readCurveOptions(read),
    reliable: readReliableMode(read, mode, endpoint, contract, ["window", "dedupeWindow", "heartbeatMs", "liveness"], (r) => {
      const window = r.positiveInt("window", 1_000);
      if (window > MAX_WINDOW) throw new OutOfRangeError(`${owner}: \`window\` must be at most ${MAX_WINDOW}, got ${window}.`);
      const dedupeWindow = r.positiveInt("dedupeWindow", 65_536);
      if (dedupeWindow < window) {
        throw new OutOfRangeError(`${owner}: \`dedupeWindow\` (${dedupeWindow}) must be at least \`window\` (${window}).`);
      }
      return { window, dedupeWindow, heartbeatMs: r.positiveInt("heartbeatMs", 1_000), liveness: r.positiveInt("liveness", 3) };
    }),
  }));
}

/**
 * The former name of {@link PipelineSinkDropInfo}.
 * @deprecated Use {@link PipelineSinkDropInfo} instead (one vocabulary per pattern).
 */
export type SinkDropInfo = PipelineSinkDropInfo;
/**
 * The former name of {@link PipelineSinkDropReason}.
 * @deprecated Use {@link PipelineSinkDropReason} instead (one vocabulary per pattern).
 */
export type SinkDropReason = PipelineSinkDropReason;
