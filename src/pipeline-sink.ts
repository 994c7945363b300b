/**
 * @packageDocumentation
 * `PipelineSink`: pulls typed results (and failure results) from pipeline workers over a PULL socket; iterate them
 * or await a given number.
 */
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import type { Codec } from "./codec.js";
import type { InferResult, JobContract } from "./contract.js";
import { ClosedError, OutOfRangeError, TimeoutError, type RpcErrorBody, type ValidationIssue } from "./errors/index.js";
import type { EndpointUse } from "./internal/attach.js";
import { decodeBody } from "./internal/codec-io.js";
import { formatIssues, toIssues } from "./internal/contract-check.js";
import { checkTimeout, timeoutFor, type DeadlinePlace } from "./internal/deadline.js";
import { readLimits, tooManyFrames, type LimitOptions } from "./internal/limits.js";
import { toError } from "./internal/zmq-errors.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { MessageStream, Many, SKIP } from "./internal/stream.js";
import { asErrorBody } from "./internal/wire.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { parsePipeline } from "./protocol/pipeline.js";
import type { WaitOptions } from "./signal.js";

const DROP_REASONS: readonly PipelineSinkDropReason[] = ["malformed", "undecodable", "invalid"];

/** One outcome a sink receives: a result, or a failure result a worker sent for a task that failed. */
export type JobOutcome<TContract extends JobContract> =
  | {
      /** The task succeeded. */
      readonly ok: true;
      /** The result, parsed by the result schema. */
      readonly result: InferResult<TContract>;
    }
  | {
      /** The task failed at the worker. */
      readonly ok: false;
      /** What the worker reported: `INVALID_TASK`, `HANDLER_ERROR`, `INVALID_RESULT`, `MALFORMED` or an application code. */
      readonly error: RpcErrorBody;
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
}

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
   * CURVE encryption: a bound sink is the workers' server (`{ certificate, allow }`); a connecting one their client
   * (`{ certificate, serverKey }`).
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
}

/**
 * Collects the outcomes of a pipeline.
 *
 * A message that is malformed, cannot be decoded or breaks the result schema is never yielded: it is counted in
 * {@link PipelineSink.stats} and reported to `onDrop`. Leaving a `for await` loop early does not close the sink.
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
  readonly #socket: zmq.Pull;
  readonly #stream: MessageStream<JobOutcome<TContract>, PipelineSinkDropReason, PipelineSinkDropInfo>;
  readonly #config: SinkConfig;
  readonly #curve: CurveGuard | undefined;
  #results = 0;
  #failures = 0;

  private constructor(contract: TContract, config: SinkConfig, owner: string) {
    super(checkContract(contract, "jobs", owner));
    this.#config = config;
    this.#socket = new zmq.Pull({
      linger: 0,
      receiveHighWaterMark: config.receiveHighWaterMark,
      ...config.limits.socket,
      ...curveSocketOptions(config.curve),
    });
    this.#curve = CurveGuard.open(config.curve);
    this.#curve?.watch(this.#socket);
    this.#stream = new MessageStream(this.#socket, (frames) => this.#parse(frames), DROP_REASONS, config.onDrop);
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
   * Connects a sink to workers (or a streamer) that bind.
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
      create: (owner: string) => new PipelineSink(contract, resolveSinkOptions(owner, options), owner),
      attach: (sink: PipelineSink<TContract>, use: EndpointUse) => sink.attach(sink.#socket, endpoint, mode, use),
    };
    return openPattern(steps, "PipelineSink", mode);
  }

  /** A snapshot of the counters. */
  get stats(): PipelineSinkStats {
    return { received: this.#stream.received, results: this.#results, failures: this.#failures, dropped: this.#stream.dropped };
  }

  /**
   * Waits for the next outcome.
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

  /**
   * Waits for `count` outcomes and returns them in arrival order.
   *
   * `timeoutMs` (default 30 000 ms) bounds the whole wait. If it passes, or `signal` fires, or the sink is closed,
   * the outcomes received so far are put back for the next reader, so none is lost.
   *
   * @throws {@link TimeoutError} (its message says how many arrived), {@link AbortedError}, {@link ClosedError}.
   */
  async collect(count: number, options: WaitOptions = {}): Promise<JobOutcome<TContract>[]> {
    const what = `PipelineSink("${this.contract.name}").collect(${count})`;
    if (!Number.isInteger(count) || count < 0) throw new OutOfRangeError(`${what}: \`count\` must be an integer >= 0.`);
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

  /** Iterates outcomes until `close()`. Leaving the loop early does not close the sink. */
  [Symbol.asyncIterator](): AsyncIterableIterator<JobOutcome<TContract>> {
    return this.#stream.iterator();
  }

  #drop(reason: PipelineSinkDropReason, message: string, issues?: readonly ValidationIssue[]): typeof SKIP {
    return this.#stream.drop(issues === undefined ? { reason, message } : { reason, message, issues });
  }

  #parse(frames: Buffer[]): JobOutcome<TContract> | Many<JobOutcome<TContract>> | typeof SKIP {
    const over = tooManyFrames(this.#config.limits, frames, `PipelineSink("${this.contract.name}")`);
    const frame = over === undefined ? parsePipeline(frames) : ({ kind: "malformed", reason: over } as const);
    switch (frame.kind) {
      case "message":
        return this.#parseResult(frame.body);
      case "failure":
        return this.#parseFailure(frame.body);
      case "batch": {
        const outcomes: JobOutcome<TContract>[] = [];
        for (const body of frame.bodies) {
          const outcome = this.#parseResult(body);
          if (outcome !== SKIP) outcomes.push(outcome);
        }
        return new Many(outcomes);
      }
      default:
        this.#stream.count();
        return this.#drop("malformed", `${this.contract.name}: ${frame.reason}.`);
    }
  }

  #parseFailure(body: Buffer): JobOutcome<TContract> | typeof SKIP {
    this.#stream.count();
    const name = this.contract.name;
    let error: RpcErrorBody | undefined;
    try {
      error = asErrorBody(decodeBody(this.#config.codec, body, `Failure result on "${name}"`));
    } catch (err) {
      return this.#drop("undecodable", toError(err).message);
    }
    if (error === undefined) return this.#drop("malformed", `${name}: a failure result's body is not { code, message }.`);
    this.#failures++;
    return { ok: false, error };
  }

  #parseResult(body: Buffer): JobOutcome<TContract> | typeof SKIP {
    this.#stream.count();
    const name = this.contract.name;
    let value: unknown;
    try {
      value = decodeBody(this.#config.codec, body, `Result on "${name}"`);
    } catch (err) {
      return this.#drop("undecodable", toError(err).message);
    }
    const parsed = this.contract.result.safeParse(value);
    if (!parsed.success) {
      const issues = toIssues(parsed.error);
      return this.#drop("invalid", `${name}: a result does not match the result schema: ${formatIssues(issues)}.`, issues);
    }
    this.#results++;
    // `parsed.data` is the result schema's output, which is what JobOutcome says.
    return { ok: true, result: parsed.data as InferResult<TContract> };
  }

  /** Closes the socket; loops end, waits reject, and outcomes not yet taken are discarded. Idempotent. */
  protected override async shutdown(): Promise<void> {
    this.#socket.close();
    this.#stream.end();
    this.#curve?.release();
  }
}

type SinkConfig = ReturnType<typeof resolveSinkOptions>;

/** Every option checked and frozen before the socket exists. */
function resolveSinkOptions(owner: string, options: PipelineSinkOptions) {
  return resolveOptions(owner, options, (read) => ({
    codec: read.codec(),
    receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
    onDrop: read.hook<(info: PipelineSinkDropInfo) => void>("onDrop"),
    limits: readLimits(read),
    curve: readCurveOptions(read),
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
