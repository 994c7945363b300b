/**
 * @packageDocumentation
 * `RpcServer`: answers typed requests on a ROUTER socket (RPC protocol 1.1, docs/protocol.md).
 *
 * Thin: framing comes from `protocol/rpc.ts`, validation and error shapes from `internal/dispatch.ts`, the
 * concurrency limit from `internal/handler-pool.ts`. Serves plain REQ peers and pipelining DEALER peers alike by
 * echoing every envelope frame up to the empty delimiter. It binds (the usual case), or connects to brokers as an
 * MDP 0.1 worker (rfc.zeromq.org 7/MDP): one DEALER per broker, kept by `internal/mdp-worker-link.ts`, with the same
 * dispatch code path for every request, whichever way it arrived. Control traffic (MDP commands) exists only on
 * those links; a bound server never treats a client's message as control.
 *
 * Deadlines travel (protocol 1.1 headers, `protocol/deadline.ts`): a request whose deadline has passed is never
 * started, at read time and again before a locally queued request starts.
 */
import { hostname } from "node:os";
import * as zmq from "zeromq";
import type { Codec } from "./codec.js";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions, type CurveConfig } from "./internal/curve.js";
import {
  type InferHandlerRequest,
  type InferHandlerResponse,
  type MethodName,
  type RpcContract,
  type ValidationOptions,
} from "./contract.js";
import { ClosedError, ErrorCode, InvalidArgumentError, type RpcErrorBody } from "./errors/index.js";
import { fromZmqError, toError } from "./internal/zmq-errors.js";
import {
  decodeInput,
  encodeError,
  runHandler,
  type DispatchPolicy,
  readDispatchPolicy,
  type DispatchStep,
  type Failure,
  type Input,
  type Outcome,
} from "./internal/dispatch.js";
import { endpointList } from "./internal/attach.js";
import { readConnectionOptions, type ConnectionOptions, type ConnectionSocketOptions } from "./internal/connection-options.js";
import { readLimits, tooManyFrames, type LimitOptions, type Limits } from "./internal/limits.js";
import { HandlerPool, JobSignal } from "./internal/handler-pool.js";
import { callHook, callHookOrLog, isThenable } from "./internal/hooks.js";
import { MdpWorkerLink, type WorkerLinkConfig } from "./internal/mdp-worker-link.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions, type OptionReader } from "./internal/options.js";
import { readLoop } from "./internal/read-loop.js";
import { SendQueue } from "./internal/send-queue.js";
import { ReplyBatches } from "./internal/reply-batches.js";
import { settleWithin } from "./internal/timing.js";
import { InOrder, outgoingValidator, readValidateOutgoing, validatorOf } from "./internal/validator.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { emitValidationFailed } from "./internal/events.js";
import { LatencyHistogram, type LatencyStats } from "./internal/latency.js";
import { watchConnections } from "./internal/socket-events.js";
import type { ConnectedEvent, DisconnectedEvent, DroppedEvent, RequestExpiredEvent, ValidationFailedEvent } from "./events.js";
import { expiredReason, requestDeadline, type RequestDeadline } from "./protocol/deadline.js";
import { endSpan, readInstrumentation, startSpan } from "./internal/trace.js";
import { encodeHeaders, type MessageHeaders } from "./protocol/headers.js";
import { readTraceContext } from "./protocol/trace-context.js";
import type { Instrumentation, InstrumentationOptions, TraceContext, TraceSpan } from "./tracing.js";
import { MMI_PREFIX, readServiceName } from "./protocol/mdp.js";
import {
  STATUS_ERROR_FRAME,
  STATUS_OK_FRAME,
  encodeBatchReply,
  encodeReply,
  parseBatchCalls,
  parsePayload,
  parseRequest,
  type RequestParse,
} from "./protocol/rpc.js";

/** What a handler gets besides the request. */
export interface HandlerContext<TContract extends RpcContract, TMethod extends MethodName<TContract>> {
  /** The contract being served. */
  readonly contract: TContract;
  /** The method being called. */
  readonly method: TMethod;
  /**
   * When the caller stops waiting for the answer, in local epoch milliseconds (`Date.now()` scale), from the
   * request's `deadline`/`remainingMs` headers; undefined when the request carried none (a v1 client).
   */
  readonly deadline: number | undefined;
  /**
   * Aborted when the answer is no longer wanted: at {@link HandlerContext.deadline} (reason: a `TimeoutError`
   * `DOMException`), when the caller sends a cancel notice (an `AbortError` `DOMException`), and on `close()` once
   * `drainTimeoutMs` has passed (a {@link ClosedError}). Pass it on to whatever the handler awaits.
   *
   * Built when first read: a handler that never reads it costs no `AbortController` and no timer.
   */
  readonly signal: AbortSignal;
  /**
   * The caller's W3C trace context, from the request's `traceparent`/`tracestate` headers when they are valid;
   * undefined when the request carried none. With an `instrumentation` the handler also runs inside the server
   * span, whose parent this is.
   */
  readonly trace: TraceContext | undefined;
}

/**
 * Handles one method: receives the parsed request (the request schema's output type) and returns the response
 * (the response schema's input type), or a promise of it. Throw an {@link ApplicationError} to answer with an
 * application error code; anything else thrown is answered as `HANDLER_ERROR`.
 */
export type RpcHandler<TContract extends RpcContract, TMethod extends MethodName<TContract>> = (
  request: InferHandlerRequest<TContract, TMethod>,
  context: HandlerContext<TContract, TMethod>,
) => InferHandlerResponse<TContract, TMethod> | PromiseLike<InferHandlerResponse<TContract, TMethod>>;

/** One handler for every method of the contract (checked exhaustively by the compiler). */
export type RpcHandlers<TContract extends RpcContract> = {
  readonly [TMethod in MethodName<TContract>]: RpcHandler<TContract, TMethod>;
};

/** A request that was answered with an error or could not be answered, as reported to `onError`. */
export interface RpcServerErrorInfo {
  /** The wire code of the error reply; for a dropped message `MALFORMED`, or `MESSAGE_TOO_LARGE` when over `maxFrames`. */
  readonly code: string;
  /** The message sent to the client (or the reason for the drop). */
  readonly message: string;
  /** The method, when it could be read. */
  readonly method: string | undefined;
  /** False when no reply could be sent (no envelope delimiter, or the peer is gone). */
  readonly replied: boolean;
  /** What the handler threw, or the underlying failure. */
  readonly cause?: unknown;
  /** For an unexpected handler error: the id the caller was given, to find this report from the caller's error. */
  readonly errorId?: string;
}

/** Counters of an {@link RpcServer}; read them through {@link RpcServer.stats}. */
export interface RpcServerStats {
  /** Messages received. */
  readonly received: number;
  /** Successful (`ok`) replies sent. */
  readonly succeeded: number;
  /** Error replies sent, by wire code. */
  readonly failed: Readonly<Record<string, number>>;
  /**
   * Messages dropped because no reply was possible (no empty delimiter frame, so no envelope to answer), or because
   * they had more than `maxFrames` frames.
   */
  readonly dropped: number;
  /**
   * Replies (a method frame of `ok` or `error`) that reached this server: dropped, never answered, so two servers
   * wired to each other by mistake cannot start a loop.
   */
  readonly strayReplies: number;
  /** Replies that could not be delivered (the peer disconnected before the reply). */
  readonly undeliverable: number;
  /** Handlers running now. */
  readonly inFlight: number;
  /** Requests waiting for a free handler slot (worker mode only: a bound server leaves them in ZeroMQ's queues). */
  readonly queued: number;
  /** Requests not started because their deadline had passed (also counted in `failed.DEADLINE_EXCEEDED`). */
  readonly expired: number;
  /**
   * Requests whose absolute `deadline` was implausibly late for their `remainingMs`: the sender's clock is ahead of
   * this host's (the remaining time was used instead; see `absoluteDeadlines`).
   */
  readonly clockSkew: number;
  /** Cancel notices that found their request (running: its signal was aborted; waiting: it was never started). */
  readonly cancelled: number;
  /**
   * Call batches received (protocol 1.4, a client created with `batch`); each of their calls is counted in
   * `received` and answered on its own.
   */
  readonly batches: number;
  /**
   * Handler time: from the handler's start to the end of its result's validation and encoding, for every handler
   * that ran (succeeded or failed).
   */
  readonly latency: LatencyStats;
}

/** A message an {@link RpcServer} dropped or could not answer, as its `dropped` event reports it. */
export interface RpcServerDropInfo {
  /** The wire code `onError` reports (`MALFORMED`, `MESSAGE_TOO_LARGE`, `UNAVAILABLE` for an undeliverable reply...). */
  readonly reason: string;
  /** What happened, in words (the same as `onError`'s message). */
  readonly message: string;
  /** The method, when it could be read. */
  readonly method: string | undefined;
}

/**
 * What happened to a worker's link to a broker (worker mode, {@link RpcServer.connect}), reported to `onEvent`.
 * `endpoint` names the broker. With `curve`, a failed CURVE handshake is reported in both modes.
 */
export type RpcServerEvent =
  /** Bound: a client connected (handshake done); `endpoint` is the bound endpoint it came in on. */
  | ConnectedEvent
  /** Bound: a client's connection was lost. */
  | DisconnectedEvent
  /** A request (`incoming`) or a handler's result (`outgoing`) broke its schema; it was answered with an error. */
  | ValidationFailedEvent
  /** A message was dropped, or a reply could not be delivered (`onError` is called with `replied: false` too). */
  | DroppedEvent<RpcServerDropInfo>
  /** A request arrived (or waited in the local queue) past its deadline: answered `DEADLINE_EXCEEDED`, never run. */
  | RequestExpiredEvent
  /**
   * A CURVE handshake failed: bound, a client that is not allowed, has no key or the wrong server key (`endpoint`
   * is the bound endpoint); worker mode, the broker refused this server or has another key than `serverKey`.
   * Nothing from that peer reaches a handler.
   */
  | { readonly type: "handshake-failed"; readonly endpoint: string; readonly reason: string }
  /** The link's socket is connected to the broker and has sent READY. `routingId` is the socket's MDP identity. */
  | { readonly type: "broker:connected"; readonly endpoint: string; readonly routingId: string }
  /**
   * The broker sent nothing for `heartbeatMs × liveness`: the socket is closed and a new one will connect (its
   * requests in flight cannot be answered: the broker has given up on this socket).
   */
  | { readonly type: "broker:lost"; readonly endpoint: string; readonly silentMs: number }
  /** The broker sent DISCONNECT (it evicted this worker, or it is closing): a new socket will connect. */
  | { readonly type: "broker:disconnected"; readonly endpoint: string }
  /** A new socket connects to the broker after `delayMs` (backoff from 100 ms to 5 s); `attempt` counts from 1. */
  | { readonly type: "broker:reconnecting"; readonly endpoint: string; readonly attempt: number; readonly delayMs: number };

/**
 * Options of {@link RpcServer.bind} and {@link RpcServer.connect}. The connection options (ZMTP heartbeats,
 * reconnect intervals) apply to every socket: the bound ROUTER and each worker DEALER.
 */
export interface RpcServerOptions extends ConnectionOptions, LimitOptions, InstrumentationOptions, ValidationOptions {
  /**
   * Body codec. Both ends must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Most handlers running at once. When reached, a bound server stops reading new requests (they wait in ZeroMQ's
   * queues) until one finishes. In worker mode it is the capacity announced to each broker (READY's capacity frame),
   * shared by all brokers; requests beyond it wait in a local queue (the socket is always read: heartbeats arrive
   * on it), bounded by that credit.
   * @defaultValue 100
   */
  readonly concurrency?: number;
  /**
   * How long `close()` waits for running handlers before answering them `UNAVAILABLE` and aborting their signals.
   * @defaultValue 5000
   */
  readonly drainTimeoutMs?: number;
  /**
   * How long, after `close()`, libzmq keeps trying to deliver replies already queued (`ZMQ_LINGER`).
   * @defaultValue 1000
   */
  readonly lingerMs?: number;
  /**
   * Largest request body accepted, in bytes. Larger requests are answered `MESSAGE_TOO_LARGE` without decoding.
   * Responses over the limit are answered `MESSAGE_TOO_LARGE` too. This is the application tier: the hard tier,
   * `hardMaxMessageBytes`, derived from it, closes the connection of a peer that sends a larger frame before libzmq
   * buffers it.
   * @defaultValue no limit (the hard tier's default of 8 MiB still applies)
   */
  readonly maxMessageBytes?: number;
  /**
   * Send the message of a handler's unexpected error (anything thrown that is not an {@link ApplicationError}) to the caller.
   * Off by default: such messages may reveal internals, so the caller gets a generic message and an error id
   * (`details.errorId`), and the real message goes, with the same id, to `onError` (or stderr). Turn it on for
   * development. Application errors ({@link ApplicationError}) are always sent as they are.
   * @defaultValue false
   */
  readonly exposeErrors?: boolean;
  /**
   * Include the handler's stack trace in `HANDLER_ERROR` replies (as `details.stack`); implies `exposeErrors`.
   * Off by default: stacks reveal internals.
   * @defaultValue false
   */
  readonly exposeStack?: boolean;
  /** `ZMQ_SNDHWM` of the ROUTER socket. @defaultValue 1000 */
  readonly sendHighWaterMark?: number;
  /** `ZMQ_RCVHWM` of the ROUTER socket. @defaultValue 1000 */
  readonly receiveHighWaterMark?: number;
  /**
   * Called for every request answered with an error and every message dropped. Errors thrown by the callback are
   * ignored. Use it for logging; the counters are in {@link RpcServer.stats}. Without it, unexpected handler
   * failures (`HANDLER_ERROR`) are written to stderr, once each, so that none goes unnoticed.
   */
  readonly onError?: (info: RpcServerErrorInfo) => void;
  /**
   * Honour a request's absolute `deadline` header. Set false when the clients' clocks cannot be trusted: only the
   * time left when the request was sent (`remainingMs`, counted from when this server read it) is used. An absolute
   * deadline implausibly later than `remainingMs` allows is ignored either way and counted in `stats.clockSkew`.
   * @defaultValue true
   */
  readonly absoluteDeadlines?: boolean;
  /**
   * Worker mode only: the MDP service this server registers for.
   * @defaultValue the contract's name
   */
  readonly service?: string;
  /**
   * Worker mode only: the readable name brokers show for this worker; each socket's routing id is
   * `${name}-${4 random hex digits}`, new on every reconnection.
   * @defaultValue `${hostname}-${pid}`
   */
  readonly name?: string;
  /**
   * Worker mode only: MDP heartbeat interval. A HEARTBEAT goes to a broker in every interval in which nothing else
   * was sent to it; a broker silent for `heartbeatMs × liveness` is taken for dead: the socket is closed and a new
   * one connects (backoff 100 ms doubling to 5 s, with jitter) and sends READY again. Use the broker's value.
   * @defaultValue 2500
   */
  readonly heartbeatMs?: number;
  /**
   * Worker mode only: how many heartbeat intervals a broker may stay silent.
   * @defaultValue 3
   */
  readonly liveness?: number;
  /**
   * Worker mode only: speak plain MDP 0.1, without typed-zmq's extensions: no capacity frame in READY (the broker
   * sends one request at a time) and no acknowledged departure on `close()`. For a broker that refuses extra frames.
   * @defaultValue false
   */
  readonly strictMdp?: boolean;
  /**
   * Called for every {@link RpcServerEvent}: connections (bound), the broker link (worker mode), failed CURVE
   * handshakes, failed validations and dropped messages. Errors thrown by the callback are ignored.
   */
  readonly onEvent?: (event: RpcServerEvent) => void;
  /**
   * CURVE encryption. Bound: this server's keys and who may call it, `{ certificate, allow }`. Worker mode: the
   * client side of each broker link, `{ certificate, serverKey: brokerPublicKey }`. See {@link CurveOptions}.
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
}

/** The worker-mode settings. */
interface WorkerConfig {
  readonly service: string;
  readonly name: string;
  readonly heartbeatMs: number;
  readonly liveness: number;
  readonly strict: boolean;
}

/** Options resolved and checked before any socket exists. */
interface ServerConfig {
  readonly policy: DispatchPolicy;
  readonly validateOutgoing: boolean;
  readonly absoluteDeadlines: boolean;
  readonly connection: ConnectionSocketOptions;
  readonly limits: Limits;
  readonly worker: WorkerConfig | undefined;
  readonly onEvent: ((event: RpcServerEvent) => void) | undefined;
  readonly concurrency: number;
  readonly drainTimeoutMs: number;
  readonly lingerMs: number;
  readonly sendHighWaterMark: number;
  readonly receiveHighWaterMark: number;
  readonly onError: ((info: RpcServerErrorInfo) => void) | undefined;
  readonly curve: CurveConfig | undefined;
  readonly instrumentation: Instrumentation | undefined;
}

function resolveServerOptions(owner: string, options: RpcServerOptions, contract: RpcContract, mode: OpenMode): ServerConfig {
  return resolveOptions(owner, options, (read) => {
    return {
      policy: readDispatchPolicy(read, read.optionalPositiveInt("maxMessageBytes") ?? Infinity),
      validateOutgoing: readValidateOutgoing(read),
      absoluteDeadlines: read.flag("absoluteDeadlines", true),
      connection: readConnectionOptions(read),
      // Worker links keep the default hard limit, as the broker's frontend does (see LimitOptions).
      limits: readLimits(read, { derive: mode === "bind" }),
      worker: mode === "connect" ? readWorkerOptions(read, contract) : undefined,
      onEvent: read.hook<(event: RpcServerEvent) => void>("onEvent"),
      concurrency: read.positiveInt("concurrency", 100),
      drainTimeoutMs: read.nonNegativeMs("drainTimeoutMs", 5_000),
      lingerMs: read.nonNegativeMs("lingerMs", 1_000),
      sendHighWaterMark: read.positiveInt("sendHighWaterMark", 1000),
      receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
      onError: read.hook<(info: RpcServerErrorInfo) => void>("onError"),
      curve: readCurveOptions(read),
      instrumentation: readInstrumentation(read),
    };
  });
}

function readWorkerOptions(read: OptionReader, contract: RpcContract): WorkerConfig {
  const service = read.optionalString("service") ?? contract.name;
  const checked = readServiceName(Buffer.from(service, "utf8"));
  if (typeof checked !== "string") throw read.fail("service", `an MDP service name (${checked.error})`, service);
  if (service.startsWith(MMI_PREFIX))
    throw read.fail("service", `a name outside the broker's own "${MMI_PREFIX}" namespace`, service);
  const name = read.optionalString("name") ?? `${hostname()}-${process.pid}`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (Buffer.byteLength(name) > 200 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw read.fail("name", "printable text of at most 200 bytes (it prefixes the socket's routing id)", name);
  }
  const heartbeatMs = read.nonNegativeMs("heartbeatMs", 2_500);
  if (heartbeatMs < 10) throw read.fail("heartbeatMs", "at least 10 ms", heartbeatMs);
  return { service, name, heartbeatMs, liveness: read.positiveInt("liveness", 3), strict: read.flag("strictMdp", false) };
}

/** The dispatch steps of every method, built once. */
function stepsFor(contract: RpcContract, validateOutgoing: boolean): ReadonlyMap<string, DispatchStep> {
  const steps = new Map<string, DispatchStep>();
  for (const [method, schemas] of Object.entries(contract.methods)) {
    const label = `${contract.name}/${method}`;
    steps.set(method, {
      input: validatorOf(schemas.request),
      output: outgoingValidator(schemas.response, validateOutgoing),
      label,
      inputPlace: {
        direction: "incoming",
        contract: contract.name,
        method,
        what: "Request to",
        schema: "request",
        hint: "Fix the caller's payload, or check that both sides use the same contract version.",
      },
      outputPlace: {
        direction: "outgoing",
        contract: contract.name,
        method,
        what: "Response from the handler of",
        schema: "response",
        hint: "The handler returned data that breaks the contract; fix the handler.",
      },
      inputWhere: `Request to "${label}"`,
      outputWhere: `Response from the handler of "${label}"`,
      invalidInput: ErrorCode.INVALID_REQUEST,
      invalidOutput: ErrorCode.INVALID_RESPONSE,
    });
  }
  return steps;
}

/** Where a worker-mode request came from: the link, and which of its sockets (a reply goes back only on that one). */
interface WorkerRoute {
  readonly link: MdpWorkerLink;
  readonly generation: number;
}

/** What a handler gets: a small object whose signal is built only when read. */
class Context<TContract extends RpcContract> implements HandlerContext<TContract, MethodName<TContract>> {
  readonly contract: TContract;
  readonly method: MethodName<TContract>;
  readonly deadline: number | undefined;
  readonly trace: TraceContext | undefined;
  readonly #scope: JobSignal;

  constructor(
    contract: TContract,
    method: MethodName<TContract>,
    deadline: number | undefined,
    scope: JobSignal,
    trace: TraceContext | undefined,
  ) {
    this.contract = contract;
    this.method = method;
    this.deadline = deadline;
    this.#scope = scope;
    this.trace = trace;
  }

  get signal(): AbortSignal {
    return this.#scope.signal;
  }
}

/**
 * A request accepted for a handler: settled once answered (by the handler, or early: expired or cancelled while it
 * waited, or answered `UNAVAILABLE` by close()).
 */
interface Job {
  /** Bound: the ROUTER envelope with its delimiter. Worker: `[client address frame]`. */
  readonly envelope: Buffer[];
  readonly route: WorkerRoute | undefined;
  readonly method: string;
  readonly replyHeaders: Uint8Array | undefined;
  readonly correlationId: string | undefined;
  readonly deadline: RequestDeadline | undefined;
  readonly scope: JobSignal;
  readonly step: DispatchStep;
  readonly input: unknown;
  /** The caller's trace context (valid), if it sent one. */
  readonly trace: TraceContext | undefined;
  /** The server span, when tracing is on. */
  readonly span: TraceSpan | undefined;
  started: boolean;
  settled: boolean;
  /** `performance.now()` when the handler started, for `stats.latency`. */
  startedAt: number;
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (!a[i]!.equals(b[i]!)) return false;
  }
  return true;
}

/**
 * Serves an RPC contract over a ROUTER socket (bound), or as an MDP 0.1 worker of one or more brokers (connected).
 *
 * Every request is validated against the method's request schema before the handler runs, and every response
 * against the response schema before it is sent. Bad input never stops the server: every message that has an empty
 * delimiter frame gets exactly one reply (`MALFORMED`, `UNKNOWN_METHOD`, `INVALID_REQUEST`, `MESSAGE_TOO_LARGE`, ...).
 * A message with no delimiter cannot be answered, and a reply (`ok`/`error`) sent to a bound server must not be:
 * both are dropped, counted in {@link RpcServer.stats} and reported to `onError`. A request whose deadline has
 * passed is answered `DEADLINE_EXCEEDED` and never started; a cancel notice (method `$cancel`) aborts the signal of
 * the request it names and is never answered.
 *
 * @example
 * ```ts
 * await using server = await RpcServer.bind("tcp://127.0.0.1:0", Greeter, {
 *   hello: ({ name }) => ({ greeting: `Hello, ${name}` }),
 * });
 * console.log(server.endpoint); // tcp://127.0.0.1:41234
 * ```
 */
export class RpcServer<TContract extends RpcContract> extends PatternBase<TContract> {
  readonly #socket: zmq.Router | undefined;
  readonly #queue: SendQueue | undefined;
  /** Bound mode: replies to batched calls, gathered per call batch and event-loop turn. */
  readonly #replyBatches: ReplyBatches | undefined;
  /** The envelope of each batched call (`[...batch envelope, call id]`) to its batch's envelope. */
  readonly #batchOf = new WeakMap<Buffer[], Buffer[]>();
  #batches = 0;
  readonly #links: MdpWorkerLink[] = [];
  readonly #handlers: RpcHandlers<TContract>;
  readonly #config: ServerConfig;
  readonly #steps: ReadonlyMap<string, DispatchStep>;
  readonly #pool: HandlerPool;
  readonly #jobs = new Set<Job>();
  readonly #instrumentation: Instrumentation | undefined;
  /** Keeps requests in order while an asynchronous input check is pending. */
  readonly #inputs = new InOrder();
  #curve: CurveGuard | undefined;
  readonly #onWorkerRequest = (link: MdpWorkerLink, generation: number, client: Buffer, body: Buffer[]): void => {
    if (this.#withinFrames(body, link.endpoint)) this.#dispatch(parsePayload(body, 0, [client]), { link, generation });
  };
  #readLoop: Promise<void> = Promise.resolve();
  /** Set once new requests are refused (bound: at close(); worker: once the brokers acknowledged the departure). */
  #closing = false;
  #received = 0;
  /** Counts a reply libzmq took (one function for every reply, not a closure each). */
  readonly #countSucceeded = (): void => {
    this.#succeeded++;
  };
  #succeeded = 0;
  #dropped = 0;
  #strayReplies = 0;
  #undeliverable = 0;
  #expired = 0;
  #clockSkew = 0;
  #cancelled = 0;
  readonly #latency = new LatencyHistogram();
  readonly #failed: Record<string, number> = {};

  private constructor(
    contract: TContract,
    handlers: RpcHandlers<TContract>,
    options: RpcServerOptions,
    owner: string,
    mode: OpenMode,
  ) {
    super(checkContract(contract, "rpc", owner));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
    const missing = Object.keys(contract.methods).filter((m) => typeof Reflect.get(handlers ?? {}, m) !== "function");
    if (missing.length > 0) {
      throw new InvalidArgumentError(
        `${owner}("${contract.name}"): no handler for ${missing.map((m) => `"${m}"`).join(", ")}. Pass a function for every method of the contract.`,
      );
    }
    this.#handlers = handlers;
    this.#config = resolveServerOptions(owner, options, contract, mode);
    this.#instrumentation = this.#config.instrumentation;
    this.#steps = stepsFor(contract, this.#config.validateOutgoing);
    this.#pool = new HandlerPool(this.#config.concurrency);
    const onEvent = this.#config.onEvent;
    this.#curve = CurveGuard.open(this.#config.curve, (failure) => callHook(onEvent, { type: "handshake-failed", ...failure }));
    if (mode === "connect") return;
    this.#socket = new zmq.Router({
      linger: this.#config.lingerMs,
      sendHighWaterMark: this.#config.sendHighWaterMark,
      receiveHighWaterMark: this.#config.receiveHighWaterMark,
      // ROUTER_MANDATORY with a zero send timeout: a reply to a peer that is gone (or whose queue is full) fails at
      // once and is counted as undeliverable, instead of being dropped silently or blocking every other reply.
      mandatory: true,
      sendTimeout: 0,
      ...this.#config.connection,
      ...this.#config.limits.socket,
      ...curveSocketOptions(this.#config.curve),
    });
    this.#curve?.watch(this.#socket);
    watchConnections(this.#socket, onEvent, { guardReports: this.#curve !== undefined });
    const queue = new SendQueue(this.#socket);
    this.#queue = queue;
    this.#replyBatches = new ReplyBatches((frames) => queue.send(frames));
  }

  /**
   * Binds a server to one or more endpoints and starts serving. Resolves once bound.
   *
   * @param endpoint - Where to listen, for example `tcp://127.0.0.1:0` (an ephemeral port; read it back from
   *   {@link RpcServer.endpoint}), `ipc:///tmp/orders.sock` or `inproc://orders`.
   * @param contract - The contract made by `defineRpc`.
   * @param handlers - One handler per method.
   * @throws {@link InvalidEndpointError} for a malformed endpoint; {@link EndpointInUseError} when it is taken;
   *   {@link TransportUnavailableError} when the transport is not available; `TypeError`/`RangeError` for bad options.
   */
  static override async bind<TContract extends RpcContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    handlers: RpcHandlers<TContract>,
    options: RpcServerOptions = {},
  ): Promise<RpcServer<TContract>> {
    return RpcServer.#open(endpoint, contract, handlers, options, "bind");
  }

  /**
   * Joins one or more Majordomo (MDP 0.1) brokers as a worker for `options.service` (default: the contract's name)
   * and starts serving. One DEALER per broker endpoint, each announcing READY with this server's capacity
   * (`concurrency`; left out with `strictMdp`). Heartbeats go both ways; a broker that falls silent, or sends
   * DISCONNECT, is reconnected to by itself, with backoff (see {@link RpcServerEvent}). Works with typed-zmq's
   * {@link RpcBroker} and with any MDP 0.1 broker. Resolves at once: libzmq connects in the background.
   *
   * A REQUEST's body is an RPC request after its delimiter, `[method, body, headers?]`, dispatched exactly as a bound
   * server does; the REPLY's body is `[status, body, headers?]`, echoing the request's `correlationId` header.
   * `close()` asks each broker for no new work and waits (at most min(1 s, `drainTimeoutMs`)) for its
   * acknowledgement, drains the handlers, then sends DISCONNECT.
   *
   * @param endpoint - The broker backend endpoint(s), for example `tcp://broker:5556`.
   * @throws {@link InvalidEndpointError} for a malformed endpoint; `TypeError`/`RangeError` for bad options (a
   *   `service` that is not a printable name of 1 to 255 bytes, or starts with `mmi.`).
   */
  static async connect<TContract extends RpcContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    handlers: RpcHandlers<TContract>,
    options: RpcServerOptions = {},
  ): Promise<RpcServer<TContract>> {
    return RpcServer.#open(endpoint, contract, handlers, options, "connect");
  }

  static #open<TContract extends RpcContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    handlers: RpcHandlers<TContract>,
    options: RpcServerOptions,
    mode: OpenMode,
  ): Promise<RpcServer<TContract>> {
    return openPattern(
      {
        create: (owner) => new RpcServer(contract, handlers, options, owner, mode),
        attach: async (server, use) => {
          if (server.#socket !== undefined) return server.attach(server.#socket, endpoint, mode, use);
          for (const brokerEndpoint of endpointList(endpoint, use.owner)) {
            const link = server.#newLink(brokerEndpoint);
            server.#links.push(link);
            await link.open((socket) => server.attach(socket, brokerEndpoint, "connect", use));
          }
        },
        start: (server) => {
          const socket = server.#socket;
          if (socket === undefined) return;
          const receive = (frames: Buffer[]): void => {
            if (server.#withinFrames(frames, server.endpoint)) server.#dispatch(parseRequest(frames), undefined);
          };
          server.#readLoop = readLoop(socket, receive, {
            room: () => server.#pool.slot(),
            onError: (err) => server.#receiveFailed(err),
          });
        },
      },
      "RpcServer",
      mode,
    );
  }

  #newLink(endpoint: string): MdpWorkerLink {
    const config = this.#config;
    // Only connect mode creates links, and it always has worker settings.
    const worker = config.worker!;
    const linkConfig: WorkerLinkConfig = {
      endpoint,
      service: worker.service,
      name: worker.name,
      capacity: config.concurrency,
      heartbeatMs: worker.heartbeatMs,
      liveness: worker.liveness,
      strict: worker.strict,
      lingerMs: config.lingerMs,
      sendHighWaterMark: config.sendHighWaterMark,
      receiveHighWaterMark: config.receiveHighWaterMark,
      connection: { ...config.connection, ...config.limits.socket },
      curve: curveSocketOptions(config.curve),
      guard: this.#curve,
    };
    return new MdpWorkerLink(linkConfig, {
      request: this.#onWorkerRequest,
      event: (event) => callHook(config.onEvent, event),
      invalid: (reason) =>
        this.#report({
          code: ErrorCode.MALFORMED,
          message: `${this.contract.name}: ${reason}; ignored.`,
          method: undefined,
          replied: false,
        }),
      failed: (err) => this.#receiveFailed(err),
      replaced: (link, generation) => this.#orphaned(link, generation),
    });
  }

  /**
   * A worker socket was replaced: its requests can no longer be answered (the broker has given up on them). Queued
   * ones are never started; running ones have their signal aborted, so that they stop holding slots the new socket
   * has announced to the broker.
   */
  #orphaned(link: MdpWorkerLink, generation: number): void {
    let dropped = 0;
    for (const job of this.#jobs) {
      if (job.settled || job.route?.link !== link || job.route.generation !== generation) continue;
      if (job.started) {
        // Its reply will find the link replaced, and be counted undeliverable then.
        job.scope.abort(
          new DOMException(`The link to the broker at ${link.endpoint} was lost; no reply can be sent.`, "AbortError"),
        );
      } else {
        this.#settleEarly(job, ErrorCode.UNAVAILABLE);
        dropped++;
      }
    }
    if (dropped === 0) return;
    this.#undeliverable += dropped;
    this.#report({
      code: ErrorCode.UNAVAILABLE,
      message: `${this.contract.name}: ${dropped} queued request(s) from the broker at ${link.endpoint} were not started: the link to it was lost, and the broker has given up on them.`,
      method: undefined,
      replied: false,
    });
  }

  /** The frame-count check (internal/limits.ts): false for a message dropped (counted, reported) for its frames. */
  #withinFrames(frames: Buffer[], where: string): boolean {
    const reason = tooManyFrames(this.#config.limits, frames, `${this.contract.name} at ${where}`);
    if (reason === undefined) return true;
    this.#received++;
    this.#dropped++;
    this.#report({ code: ErrorCode.MESSAGE_TOO_LARGE, message: reason, method: undefined, replied: false });
    return false;
  }

  #receiveFailed(err: unknown): void {
    this.#report({
      code: ErrorCode.MALFORMED,
      message: `receive failed: ${toError(err).message}`,
      method: undefined,
      replied: false,
      cause: err,
    });
  }

  /** A snapshot of the counters. */
  get stats(): RpcServerStats {
    return {
      received: this.#received,
      succeeded: this.#succeeded,
      failed: { ...this.#failed },
      dropped: this.#dropped,
      strayReplies: this.#strayReplies,
      undeliverable: this.#undeliverable,
      inFlight: this.#pool.running,
      queued: this.#pool.queued,
      expired: this.#expired,
      clockSkew: this.#clockSkew,
      cancelled: this.#cancelled,
      batches: this.#batches,
      latency: this.#latency.snapshot(),
    };
  }

  /** One code path for every request, bound (`route` undefined) or from a broker. */
  #dispatch(message: RequestParse, route: WorkerRoute | undefined): void {
    if (message.kind === "batch") {
      this.#dispatchBatch(message.envelope, message.calls, route);
      return;
    }
    this.#received++;
    const name = this.contract.name;
    switch (message.kind) {
      case "unanswerable":
        this.#dropped++;
        this.#report({
          code: ErrorCode.MALFORMED,
          message: `${name}: dropped a ${message.frames}-frame message with no empty delimiter frame: there is no envelope to reply to. Clients must send [..., "", method, body] (a REQ socket adds the delimiter itself).`,
          method: undefined,
          replied: false,
        });
        return;
      case "stray-reply":
        this.#strayReplies++;
        if (route !== undefined) {
          // Through a broker the sender is a client, not a server, so answering cannot loop; and a broker waits for
          // an answer to every REQUEST it sent.
          this.#replyError(message.envelope, route, undefined, undefined, {
            code: ErrorCode.MALFORMED,
            message: `${name}: the request's method frame is "${message.status}", a reply status, not a method.`,
          });
          return;
        }
        this.#report({
          code: ErrorCode.MALFORMED,
          message: `${name}: dropped a message whose method frame is "${message.status}": that is a reply, and a server never answers a reply (two servers wired to each other would loop). Connect clients, not servers, to this server.`,
          method: undefined,
          replied: false,
        });
        return;
      case "malformed":
        this.#replyError(message.envelope, route, message.method, undefined, {
          code: ErrorCode.MALFORMED,
          message: `${name}: ${message.reason}.`,
        });
        return;
      case "cancel":
        // A call of a batch is known by its batch's envelope and its id (the notice's body frame).
        this.#cancel(
          message.callId === undefined ? message.envelope : [...message.envelope, message.callId],
          route,
          message.headers,
        );
        // Through a broker a cancel notice is answered once: a plain MDP broker holds it as an ordinary request and
        // frees this worker only when it gets a REPLY (without one, every aborted call would cost a worker slot for
        // good). typed-zmq's broker forwards the notice under the cancelled request's token, so this answer settles
        // that request early and the handler's own reply is dropped there as unknown. A bound server never answers.
        if (route !== undefined) {
          const body = encodeError(this.#config.policy.codec, {
            code: ErrorCode.UNAVAILABLE,
            message: `${this.contract.name}: the call was cancelled by its caller.`,
          });
          this.#reply(message.envelope, route, false, body, replyHeadersFor(message.headers, false), "$cancel");
        }
        return;
      case "request":
        break;
    }
    const { envelope, method, headers } = message;
    const replyHeaders = replyHeadersFor(headers, route === undefined);
    const trace = headers?.traceparent === undefined ? undefined : readTraceContext(headers.traceparent, headers.tracestate);
    const span = this.#instrumentation === undefined ? undefined : this.#startSpan(method, trace, route);
    if (this.#closing || route?.link.left === true) {
      this.#spanFailed(span, ErrorCode.UNAVAILABLE, "the server is shutting down");
      this.#replyError(envelope, route, method, replyHeaders, {
        code: ErrorCode.UNAVAILABLE,
        message: `${name}: the server is shutting down and takes no new requests. Retry on another server.`,
      });
      return;
    }
    if (headers?.contract !== undefined && headers.contract !== name) {
      this.#spanFailed(span, ErrorCode.CONTRACT_MISMATCH, `the request was written for contract "${headers.contract}"`);
      this.#replyError(envelope, route, method, replyHeaders, {
        code: ErrorCode.CONTRACT_MISMATCH,
        message: `the request was written for contract "${headers.contract}", but this server serves "${name}". Connect to a server for "${headers.contract}", or use the same contract version on both sides.`,
        details: { expected: name, received: headers.contract },
      });
      return;
    }
    const step = this.#steps.get(method);
    if (step === undefined) {
      this.#spanFailed(span, ErrorCode.UNKNOWN_METHOD, `method "${method}" is not part of contract "${name}"`);
      const known = [...this.#steps.keys()];
      this.#replyError(envelope, route, method, replyHeaders, {
        code: ErrorCode.UNKNOWN_METHOD,
        message: `method "${method}" is not part of contract "${name}"; known methods: ${known.map((m) => `"${m}"`).join(", ")}.`,
        details: { known },
      });
      return;
    }
    let deadline: RequestDeadline | undefined;
    if (headers !== undefined) {
      const now = Date.now();
      deadline = requestDeadline(headers, now, this.#config.absoluteDeadlines);
      if (deadline?.senderAheadMs !== undefined) this.#clockSkew++;
      if (deadline !== undefined && deadline.expiresAt <= now) {
        this.#spanFailed(span, ErrorCode.DEADLINE_EXCEEDED, "the request's deadline had passed");
        this.#replyExpired(envelope, route, method, replyHeaders, step, deadline, now);
        return;
      }
    }
    const input = decodeInput(step, this.#config.policy, message.body);
    // An asynchronous check (or one still pending before this request) keeps the requests in their order.
    if (input instanceof Promise || this.#inputs.busy) {
      void this.#inputs.after(input, (checked) => {
        if (this.#closing) {
          this.#spanFailed(span, ErrorCode.UNAVAILABLE, "the server closed while the request was being checked");
          this.#replyError(envelope, route, method, replyHeaders, {
            code: ErrorCode.UNAVAILABLE,
            message: `${name}: the server closed while the request was being checked; it was not run. Retry on another server.`,
          });
        } else this.#admit(checked, envelope, route, method, replyHeaders, headers, deadline, step, trace, span);
      });
      return;
    }
    this.#admit(input, envelope, route, method, replyHeaders, headers, deadline, step, trace, span);
  }

  /**
   * A call batch (1.4, direct only): each call is dispatched as if it had come alone, with the envelope
   * `[...batch envelope, call id]`, so it is validated, run, timed out and cancelled on its own; its reply joins the
   * reply batch of this envelope (#reply). A batch broken as a whole is answered once, `MALFORMED`, to its envelope.
   */
  #dispatchBatch(envelope: Buffer[], packed: Buffer, route: WorkerRoute | undefined): void {
    this.#batches++;
    const name = this.contract.name;
    const parsed = route === undefined ? parseBatchCalls(packed) : undefined;
    if (parsed === undefined || parsed.kind === "malformed") {
      this.#received++;
      this.#replyError(envelope, route, undefined, undefined, {
        code: ErrorCode.MALFORMED,
        message:
          parsed === undefined
            ? `${name}: a $batch reached this server through a broker; call batches travel only on direct connections.`
            : `${name}: ${parsed.reason}.`,
      });
      return;
    }
    this.#replyBatches!.expect(envelope, parsed.calls.length);
    for (const call of parsed.calls) {
      const callEnvelope = [...envelope, call.id];
      this.#batchOf.set(callEnvelope, envelope);
      this.#dispatch(
        call.kind === "request"
          ? { kind: "request", envelope: callEnvelope, method: call.method, body: call.body, headers: call.headers }
          : { kind: "malformed", envelope: callEnvelope, method: call.method, reason: call.reason },
        undefined,
      );
    }
  }

  /** Runs (or queues) a request whose input has been checked, or answers its failure. */
  #admit(
    input: Input,
    envelope: Buffer[],
    route: WorkerRoute | undefined,
    method: string,
    replyHeaders: Uint8Array | undefined,
    headers: MessageHeaders | undefined,
    deadline: RequestDeadline | undefined,
    step: DispatchStep,
    trace: TraceContext | undefined,
    span: TraceSpan | undefined,
  ): void {
    if (!input.ok) {
      this.#spanFailed(span, input.failure.body.code, input.failure.body.message);
      this.#fail(envelope, route, method, replyHeaders, input.failure);
      return;
    }
    const job: Job = {
      envelope,
      route,
      method,
      replyHeaders,
      correlationId: headers?.correlationId,
      deadline,
      scope: new JobSignal(this.#pool.signal, deadline?.expiresAt),
      step,
      input: input.value,
      trace,
      span,
      started: false,
      settled: false,
      startedAt: 0,
    };
    this.#jobs.add(job);
    if (this.#pool.free) this.#startIfWanted(job);
    else this.#pool.run(() => this.#startIfWanted(job));
  }

  /**
   * Starts a job only if it is still wanted: checked again right before the handler runs, because decoding and
   * validating (or a wait in the local queue) take time, and a request must never start after its deadline.
   */
  #startIfWanted(job: Job): void {
    if (job.settled) return;
    const deadline = job.deadline;
    if (deadline !== undefined) {
      const now = Date.now();
      if (deadline.expiresAt <= now) {
        this.#settleEarly(job, ErrorCode.DEADLINE_EXCEEDED);
        this.#replyExpired(job.envelope, job.route, job.method, job.replyHeaders, job.step, deadline, now);
        return;
      }
    }
    this.#start(job);
  }

  #start(job: Job): void {
    job.started = true;
    job.startedAt = performance.now();
    this.#pool.begin();
    const method = job.method as MethodName<TContract>;
    // The handler map is exhaustive over the contract's methods and `method` is one of them (its step exists).
    const handler = this.#handlers[method] as RpcHandler<TContract, MethodName<TContract>>;
    const context = new Context(this.contract, method, job.deadline?.expiresAt, job.scope, job.trace);
    // `job.input` is the output of the method's request schema, which is what the handler is typed to receive.
    const invoke = () => handler(job.input, context);
    const span = job.span;
    const outcome = runHandler(job.step, this.#config.policy, span === undefined ? invoke : () => span.run(invoke));
    if (isThenable(outcome)) void outcome.then((done) => this.#finish(job, done));
    else this.#finish(job, outcome);
  }

  #finish(job: Job, outcome: Outcome): void {
    this.#latency.since(job.startedAt);
    this.#jobs.delete(job);
    job.scope.end();
    if (!job.settled) {
      job.settled = true;
      if (job.span !== undefined) endSpan(job.span, outcome.ok ? undefined : outcome.failure.body);
      if (outcome.ok)
        this.#reply(job.envelope, job.route, true, outcome.body, job.replyHeaders, job.method, this.#countSucceeded);
      else this.#fail(job.envelope, job.route, job.method, job.replyHeaders, outcome.failure);
    }
    // After the reply: ending may start the next queued request, whose reply then follows this one.
    this.#pool.end();
  }

  /** Settles a job that never started (expired or cancelled while queued). */
  #settleEarly(job: Job, code: string): void {
    job.settled = true;
    this.#spanFailed(job.span, code, "the request was not started");
    job.scope.end();
    this.#jobs.delete(job);
  }

  /**
   * A cancel notice: the request sent with this envelope (bound) or from this client with this correlation id
   * (worker) is no longer wanted. A running handler's signal is aborted (it still answers, and the answer is dropped
   * by whoever no longer waits for it); a queued request is never started. The notice itself is never answered.
   */
  #cancel(envelope: Buffer[], route: WorkerRoute | undefined, headers: MessageHeaders | undefined): void {
    const correlationId = headers?.correlationId;
    for (const job of this.#jobs) {
      if (job.settled) continue;
      if (route === undefined ? job.route !== undefined || !sameFrames(job.envelope, envelope) : job.route?.link !== route.link)
        continue;
      if (
        route !== undefined &&
        (!job.envelope[0]!.equals(envelope[0]!) || (correlationId !== undefined && job.correlationId !== correlationId))
      ) {
        continue;
      }
      this.#cancelled++;
      const reason = new DOMException(`The caller cancelled the call to "${this.contract.name}/${job.method}".`, "AbortError");
      if (job.started) {
        job.scope.abort(reason);
      } else {
        // Never started; answered anyway, so that a broker that counts this worker's requests in flight gets it back.
        this.#settleEarly(job, ErrorCode.UNAVAILABLE);
        this.#replyError(job.envelope, job.route, job.method, job.replyHeaders, {
          code: ErrorCode.UNAVAILABLE,
          message: `${this.contract.name}/${job.method}: cancelled by its caller before it started; it was not run.`,
        });
      }
      return;
    }
  }

  /** The server span of one request: its parent is the caller's trace context, when the request carried one. */
  #startSpan(method: string, trace: TraceContext | undefined, route: WorkerRoute | undefined): TraceSpan {
    const attributes = {
      "rpc.system": "typed-zmq",
      "rpc.service": this.contract.name,
      "rpc.method": method,
      "server.address": route === undefined ? this.endpoint : route.link.endpoint,
    };
    const options = { name: `${this.contract.name}/${method}`, kind: "server" as const, attributes };
    return startSpan(this.#instrumentation!, trace === undefined ? options : { ...options, parent: trace });
  }

  #spanFailed(span: TraceSpan | undefined, code: string, message: string): void {
    if (span !== undefined) endSpan(span, { code, message });
  }

  #replyExpired(
    envelope: Buffer[],
    route: WorkerRoute | undefined,
    method: string,
    replyHeaders: Uint8Array | undefined,
    step: DispatchStep,
    deadline: RequestDeadline,
    now: number,
  ): void {
    this.#expired++;
    const lateMs = Math.max(0, Math.round(now - deadline.expiresAt));
    if (this.#config.onEvent !== undefined)
      callHook(this.#config.onEvent, { type: "timed-out", what: "request", method, lateMs });
    this.#replyError(envelope, route, method, replyHeaders, {
      code: ErrorCode.DEADLINE_EXCEEDED,
      message: `${step.label}: not started: ${expiredReason(deadline, now)}. The caller had already given up; nothing ran.`,
      details: { expiredBy: deadline.by, lateMs },
    });
  }

  #fail(
    envelope: Buffer[],
    route: WorkerRoute | undefined,
    method: string,
    replyHeaders: Uint8Array | undefined,
    failure: Failure,
  ): void {
    this.#replyError(envelope, route, method, replyHeaders, failure.body, failure);
  }

  #replyError(
    envelope: Buffer[],
    route: WorkerRoute | undefined,
    method: string | undefined,
    replyHeaders: Uint8Array | undefined,
    body: RpcErrorBody,
    failure?: Failure,
  ): void {
    this.#failed[body.code] = (this.#failed[body.code] ?? 0) + 1;
    const info: RpcServerErrorInfo = {
      code: body.code,
      message: failure?.message ?? body.message,
      method,
      replied: true,
      ...(failure?.cause !== undefined && { cause: failure.cause }),
      ...(failure?.errorId !== undefined && { errorId: failure.errorId }),
    };
    if (failure?.local === true) callHookOrLog(this.#config.onError, info, `RpcServer("${this.contract.name}"): ${info.message}`);
    else this.#report(info);
    if (failure?.cause !== undefined) emitValidationFailed(this.#config.onEvent, failure.cause);
    this.#reply(envelope, route, false, encodeError(this.#config.policy.codec, body), replyHeaders, method);
  }

  /** Sends a reply: on the ROUTER (bound), or as an MDP REPLY on the link the request came from. */
  #reply(
    envelope: Buffer[],
    route: WorkerRoute | undefined,
    ok: boolean,
    body: Uint8Array,
    replyHeaders: Uint8Array | undefined,
    method: string | undefined,
    onSent?: () => void,
  ): void {
    let sent: Promise<boolean> | undefined;
    if (route === undefined) {
      // Bound mode has a socket and a queue (the constructor makes both when not connecting).
      const batch = this.#batchOf.get(envelope);
      sent =
        batch === undefined
          ? this.#queue!.send(encodeReply(envelope, ok, body, replyHeaders))
          : this.#replyBatches!.add(batch, encodeBatchReply(envelope[envelope.length - 1]!, ok, body, replyHeaders));
    } else {
      const payload: Uint8Array[] = [ok ? STATUS_OK_FRAME : STATUS_ERROR_FRAME, body];
      if (replyHeaders !== undefined) payload.push(replyHeaders);
      sent = route.link.reply(route.generation, envelope[0]!, payload);
      if (sent === undefined) {
        this.#undeliverable++;
        this.#report({
          code: ErrorCode.UNAVAILABLE,
          message: `${this.contract.name}: a reply could not be delivered: the link to the broker at ${route.link.endpoint} was replaced since the request arrived (the broker had gone silent or sent DISCONNECT).`,
          method,
          replied: false,
        });
        return;
      }
    }
    sent.then(onSent, (err: unknown) => {
      this.#undeliverable++;
      const error = fromZmqError(err, "RpcServer reply", route?.link.endpoint ?? this.endpoint);
      this.#report({
        code: error.code,
        message: `${this.contract.name}: a reply could not be delivered (the client is probably gone): ${error.message}`,
        method,
        replied: false,
        cause: err,
      });
    });
  }

  #report(info: RpcServerErrorInfo): void {
    callHook(this.#config.onError, info);
    if (!info.replied && this.#config.onEvent !== undefined) {
      callHook(this.#config.onEvent, { type: "dropped", reason: info.code, message: info.message, method: info.method });
    }
  }

  /**
   * Stops taking new requests (they are answered `UNAVAILABLE`), waits up to `drainTimeoutMs` for running handlers,
   * answers any still running with `UNAVAILABLE` and aborts their signals, then closes the sockets.
   *
   * In worker mode it first tells each broker it is leaving (HEARTBEAT + "leaving") and waits for the broker's
   * acknowledgement, at most min(1000, `drainTimeoutMs`) ms (a plain MDP broker sends none), serving what arrives
   * meanwhile; then refuses new requests, drains, and sends DISCONNECT to each broker.
   * Idempotent; resolves when every socket is closed.
   */
  protected override async shutdown(): Promise<void> {
    const { drainTimeoutMs, lingerMs } = this.#config;
    if (this.#links.length > 0) {
      // Requests the brokers sent before they acknowledged are served: that is what the acknowledgement is for.
      await settleWithin(Promise.all(this.#links.map((link) => link.leave())), Math.min(drainTimeoutMs, 1_000));
    }
    this.#closing = true;
    // Requests still in an asynchronous input check: once checked they are answered UNAVAILABLE (#closing), while
    // the socket is still open.
    await settleWithin(this.#inputs.idle(), drainTimeoutMs);
    await this.#pool.drain(
      drainTimeoutMs,
      () =>
        new ClosedError(
          `RpcServer("${this.contract.name}") closed before its handlers finished (drainTimeoutMs ${drainTimeoutMs}).`,
        ),
    );
    this.#pool.clearQueue();
    for (const job of this.#jobs) {
      job.settled = true;
      this.#spanFailed(job.span, ErrorCode.UNAVAILABLE, "the server closed before the request was answered");
      this.#replyError(job.envelope, job.route, job.method, job.replyHeaders, {
        code: ErrorCode.UNAVAILABLE,
        message: job.started
          ? `${this.contract.name}/${job.method}: the server closed before the handler finished (it waited drainTimeoutMs = ${drainTimeoutMs} ms). Retry on another server.`
          : `${this.contract.name}/${job.method}: the server closed before the request could start; it was not run. Retry on another server.`,
      });
    }
    await Promise.all(this.#links.map((link) => link.close()));
    if (this.#socket !== undefined) {
      this.#replyBatches!.flush();
      await settleWithin(this.#queue!.idle(), lingerMs);
      this.#socket.close();
    }
    this.#pool.release();
    await this.#readLoop;
    this.#curve?.release();
  }
}

/** The reply headers that answer a direct request asking `"batch": true` (1.4): this server reads call batches. */
const BATCH_ANSWER = encodeHeaders({ batch: true });

/**
 * The headers of a reply: only when the request carried headers and there is something to echo (its
 * `correlationId`), or to answer (1.4: `"batch": true`, on a direct connection only). A v1 request gets a v1 reply,
 * `[...envelope, "", status, body]`, so v1 peers never see a frame they do not expect.
 */
function replyHeadersFor(headers: MessageHeaders | undefined, direct: boolean): Uint8Array | undefined {
  const batch = direct && headers?.batch === true;
  if (headers?.correlationId === undefined) return batch ? BATCH_ANSWER : undefined;
  return encodeHeaders(batch ? { correlationId: headers.correlationId, batch } : { correlationId: headers.correlationId });
}
