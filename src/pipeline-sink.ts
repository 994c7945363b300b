/**
 * @packageDocumentation
 * `PipelineSink`: pulls typed results (and failure results) from pipeline workers over a PULL socket; iterate them
 * or await a given number.
 *
 * Depends on zeromq, `contract.ts`, `codec.ts`, `endpoint.ts`, `errors.ts`, `lifecycle.ts`, `signal.ts` and `internal/`.
 */
import * as zmq from "zeromq";
import { checkCodec, decodeBody, jsonCodec, type Codec } from "./codec.js";
import { formatIssues, toIssues, type InferResult, type JobContract } from "./contract.js";
import { ClosedError, TimeoutError, toError, type RpcErrorBody, type ValidationIssue } from "./errors.js";
import { OutOfRangeError } from "./errors/index.js";
import { callHook } from "./internal/hooks.js";
import { Inbox, Many, SKIP, iterate } from "./internal/inbox.js";
import { checkPositiveInt } from "./internal/options.js";
import { STATUS_ERROR, asErrorBody } from "./internal/wire.js";
import { unpack } from "./batch.js";
import { PatternBase, checkContract } from "./lifecycle.js";
import { checkTimeout, timeoutFor, type DeadlinePlace, type WaitOptions } from "./signal.js";

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
export type SinkDropReason = "malformed" | "undecodable" | "invalid";

/** A message a {@link PipelineSink} dropped, as reported to `onDrop`. */
export interface SinkDropInfo {
  /** Why it was dropped. */
  readonly reason: SinkDropReason;
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
  readonly dropped: Readonly<Record<SinkDropReason, number>>;
}

/** Options of {@link PipelineSink.bind} and {@link PipelineSink.connect}. */
export interface PipelineSinkOptions {
  /**
   * Body codec; the workers must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /** `ZMQ_RCVHWM`. @defaultValue 1000 */
  readonly receiveHighWaterMark?: number;
  /** Called for every dropped message (also counted in {@link PipelineSink.stats}). Errors it throws are ignored. */
  readonly onDrop?: (info: SinkDropInfo) => void;
}

/**
 * Collects the outcomes of a pipeline.
 *
 * A message that is malformed, cannot be decoded or breaks the result schema is never yielded: it is counted in
 * {@link PipelineSink.stats} and reported to `onDrop`. Leaving a `for await` loop early does not close the sink.
 *
 * @example
 * await using sink = await PipelineSink.bind("tcp://127.0.0.1:0", Tasks);
 * const outcomes = await sink.collect(100, { timeoutMs: 10_000 });
 */
export class PipelineSink<TContract extends JobContract> extends PatternBase<TContract> implements AsyncIterable<JobOutcome<TContract>> {
  readonly #socket: zmq.Pull;
  readonly #inbox: Inbox<JobOutcome<TContract>>;
  readonly #codec: Codec;
  readonly #onDrop: ((info: SinkDropInfo) => void) | undefined;
  #received = 0;
  #results = 0;
  #failures = 0;
  readonly #dropped: Record<SinkDropReason, number> = { malformed: 0, undecodable: 0, invalid: 0 };

  private constructor(contract: TContract, options: PipelineSinkOptions, owner: string) {
    super(checkContract(contract, "jobs", owner));

    this.#codec = options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec");
    this.#onDrop = options.onDrop;
    this.#socket = new zmq.Pull({
      linger: 0,
      receiveHighWaterMark: checkPositiveInt(options.receiveHighWaterMark, 1000, "receiveHighWaterMark", owner),
    });
    this.#inbox = new Inbox(this.#socket, (frames) => this.#parse(frames));
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
    return PipelineSink.#open(new PipelineSink(contract, options, "PipelineSink.bind"), endpoint, "bind");
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
    return PipelineSink.#open(new PipelineSink(contract, options, "PipelineSink.connect"), endpoint, "connect");
  }

  static async #open<TContract extends JobContract>(
    sink: PipelineSink<TContract>,
    endpoint: string | readonly string[],
    mode: "bind" | "connect",
  ): Promise<PipelineSink<TContract>> {
    const owner = mode === "bind" ? "PipelineSink.bind" : "PipelineSink.connect";
    await sink.attach(sink.#socket, endpoint, mode, { owner, multicast: false });
    return sink;
  }

  /** A snapshot of the counters. */
  get stats(): PipelineSinkStats {
    return { received: this.#received, results: this.#results, failures: this.#failures, dropped: { ...this.#dropped } };
  }

  /**
   * Waits for the next outcome.
   * @throws {@link TimeoutError}, {@link AbortedError} (an outcome arriving later is kept for the next reader);
   *   {@link ClosedError} when the sink is or gets closed.
   */
  async receive(options?: WaitOptions): Promise<JobOutcome<TContract>> {
    const bounded = options !== undefined && (options.timeoutMs !== undefined || options.signal !== undefined);
    const what = `PipelineSink("${this.contract.name}").receive()`;
    const result = await this.#inbox.take(bounded ? { timeoutMs: options.timeoutMs, signal: options.signal, place: this.#place(what) } : undefined);
    if (result.done === true) throw new ClosedError(`${what} rejected: the sink is closed.`);
    return result.value;
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
        const result = await this.#inbox.take({ timeoutMs: remaining, signal: options.signal, place: this.#place(what) });
        if (result.done === true) throw new ClosedError(`${what} rejected: the sink was closed after ${outcomes.length} outcomes.`);
        outcomes.push(result.value);
      }
    } catch (err) {
      this.#inbox.putBack(outcomes);
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
    return iterate(this.#inbox);
  }

  #drop(reason: SinkDropReason, message: string, issues?: readonly ValidationIssue[]): typeof SKIP {
    this.#dropped[reason]++;
    callHook(this.#onDrop, issues === undefined ? { reason, message } : { reason, message, issues });
    return SKIP;
  }

  #parse(frames: Buffer[]): JobOutcome<TContract> | Many<JobOutcome<TContract>> | typeof SKIP {
    const name = this.contract.name;
    if (frames.length === 2 && frames[0]!.length === 0) {
      // A batch of results: ["", packed].
      const bodies = unpack(frames[1]!);
      if (bodies === undefined) {
        this.#received++;
        return this.#drop("malformed", `${name}: a batch of results has lengths that do not add up to its size.`);
      }
      const outcomes: JobOutcome<TContract>[] = [];
      for (const b of bodies) {
        const outcome = this.#parse([b]);
        if (outcome !== SKIP && !(outcome instanceof Many)) outcomes.push(outcome);
      }
      return new Many(outcomes);
    }
    this.#received++;
    if (frames.length === 2 && frames[0]?.toString("utf8") === STATUS_ERROR) {
      let error: RpcErrorBody | undefined;
      try {
        error = asErrorBody(decodeBody(this.#codec, frames[1]!, `Failure result on "${name}"`));
      } catch (err) {
        return this.#drop("undecodable", toError(err).message);
      }
      if (error === undefined) return this.#drop("malformed", `${name}: a failure result's body is not { code, message }.`);
      this.#failures++;
      return { ok: false, error };
    }
    if (frames.length !== 1) {
      return this.#drop("malformed", `${name}: expected a result ([body]) or a failure (["error", body]), got ${frames.length} frames.`);
    }
    let value: unknown;
    try {
      value = decodeBody(this.#codec, frames[0]!, `Result on "${name}"`);
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
    this.#inbox.end();
  }
}
