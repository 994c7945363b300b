/**
 * @packageDocumentation
 * `RpcClient`: typed calls, many in flight, over one DEALER link per endpoint (RPC protocol 1.1, docs/protocol.md),
 * or through Majordomo brokers (`service` option). The policy lives here: which live link a call goes to, waiting
 * for a server within the deadline, retrying idempotent methods. The mechanics come from `internal/`: a link's
 * socket and liveness from `rpc-link.ts`, the backoff and the attempt record from `retry.ts`, the pending-call table
 * from `pending-calls.ts`; the framing from `protocol/rpc.ts` and `protocol/mdp.ts`.
 */
import type { BatchOptions } from "./batch.js";
import type { Codec } from "./codec.js";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions, type CurveConfig } from "./internal/curve.js";
import type { InferRequest, InferResponse, MethodName, RpcContract, TypeLevelError, ValidationOptions } from "./contract.js";
import type { IsUnion } from "./internal/types.js";
import {
  AbortedError,
  ClosedError,
  ConnectionLostError,
  ErrorCode,
  MalformedMessageError,
  MessageTooLargeError,
  NoServerError,
  OutOfRangeError,
  RemoteCallError,
  TimeoutError,
  TypedZmqError,
  UnknownMethodError,
  type EndpointState,
} from "./errors/index.js";
import { endpointList } from "./internal/attach.js";
import { decodeBody, encodeBody } from "./internal/codec-io.js";
import { readConnectionOptions, type ConnectionOptions } from "./internal/connection-options.js";
import { readLimits, tooManyFrames, type LimitOptions, type Limits } from "./internal/limits.js";
import { hasMethod, validationError, type PayloadPlace } from "./internal/contract-check.js";
import {
  InOrder,
  detached,
  outgoingValidator,
  readValidateOutgoing,
  validatorOf,
  type Validation,
  type Validator,
} from "./internal/validator.js";
import { checkSignal, checkTimeout, timeoutFor, watchAbort } from "./internal/deadline.js";
import { DeadlineTimer, type DeadlineEntry } from "./internal/deadline-timer.js";
import { callHook } from "./internal/hooks.js";
import { emitValidationFailed } from "./internal/events.js";
import { LatencyHistogram, type LatencyStats } from "./internal/latency.js";
import type { DroppedEvent, TimedOutEvent, ValidationFailedEvent } from "./events.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { openPattern } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { PendingCalls, type PendingCall } from "./internal/pending-calls.js";
import { Waiters } from "./internal/waiters.js";
import { AttemptLog, backoffDelay, isRetryable, readRetryPolicy, type RetryPolicy } from "./internal/retry.js";
import { RpcLink, type LinkListener, type LinkSocketOptions } from "./internal/rpc-link.js";
import { CallBatcher, readCallBatch, type CallBatchLimits } from "./internal/call-batches.js";
import { asErrorBody } from "./internal/wire.js";
import { fromZmqError, toError } from "./internal/zmq-errors.js";
import { endSpan, readInstrumentation, spanError, startSpan, traceFragment } from "./internal/trace.js";
import { PROTOCOL_VERSION } from "./protocol/headers.js";
import { encodeClientRequest, parseClientReply } from "./protocol/mdp.js";
import {
  BATCH_FRAME,
  cancelBody,
  correlationFrame,
  encodeBatch,
  encodeBatchCallRecord,
  encodeBatchedCancel,
  encodeCancel,
  encodeRequest,
  parseBatchReplies,
  parseReply,
  parseServiceReply,
  type ReplyParse,
} from "./protocol/rpc.js";
import type { WaitOptions } from "./signal.js";
import type { Instrumentation, InstrumentationOptions, TraceSpan } from "./tracing.js";

/** Options of one {@link RpcClient.call}. */
export type CallOptions = WaitOptions;

/** A reply the client dropped, as reported to `onDrop`. */
export interface RpcClientDropInfo {
  /**
   * `late-reply`: a reply for a call that had already timed out, been aborted, been retried (the reply of an earlier
   * attempt) or never existed; `malformed-reply`: a message that does not follow the reply layout and matches no
   * pending call.
   */
  readonly reason: "late-reply" | "malformed-reply";
  /** What happened, in words. */
  readonly message: string;
}

/** Counters of an {@link RpcClient}; read them through {@link RpcClient.stats}. */
export interface RpcClientStats {
  /** Attempts handed to a socket (a retried call counts once per attempt). */
  readonly sent: number;
  /** Calls not settled yet: waiting for a reply, for a server, or for their next attempt. */
  readonly pending: number;
  /** Replies that arrived for calls (or attempts) no longer waiting; dropped, never given to another call. */
  readonly lateReplies: number;
  /** Messages that could not be matched to a call because their frames were wrong; dropped. */
  readonly malformedReplies: number;
  /** Attempts made again after a retryable failure (idempotent methods only). */
  readonly retries: number;
  /** Live connections that were lost (each fails or retries the calls in flight on it). */
  readonly connectionsLost: number;
  /** Call batches sent (the `batch` option, protocol 1.4); each carried one or more calls in one message. */
  readonly batches: number;
  /**
   * Round trips of the calls settled by a reply (a result, or an error reply other than a retryable `UNAVAILABLE`),
   * from `call()` to that reply's arrival: waiting for a server, earlier attempts and backoffs included. Calls that
   * time out, fail locally or are aborted are not counted.
   */
  readonly latency: LatencyStats;
}

/**
 * What {@link RpcClientOptions.onEvent} is told: connections, retries, failed validations (of a request before it
 * is sent, or of a reply), dropped replies (as `onDrop`) and timeouts (of a call, or of one attempt).
 */
export type RpcClientEvent =
  | ValidationFailedEvent
  | DroppedEvent<RpcClientDropInfo>
  | TimedOutEvent
  /** The handshake with the server at `endpoint` is done: calls go there from now on. */
  | { readonly type: "connected"; readonly endpoint: string }
  /**
   * The connection to `endpoint` was lost; `inFlight` calls were awaiting a reply on it. Those whose reply had not
   * arrived yet are retried (idempotent methods) or fail with {@link ConnectionLostError}.
   */
  | { readonly type: "disconnected"; readonly endpoint: string; readonly inFlight: number }
  /** libzmq is trying to (re)connect to `endpoint`; `attempt` counts since it was last connected. */
  | { readonly type: "reconnecting"; readonly endpoint: string; readonly attempt: number; readonly state: EndpointState }
  /** A peer at `endpoint` accepted the connection but the ZMTP handshake failed (wrong socket type, security). */
  | { readonly type: "handshake-failed"; readonly endpoint: string; readonly reason: string }
  /**
   * A call of an idempotent method is being tried again: attempt number `attempt` (2 for the first retry), after
   * the previous one, at `endpoint`, ended with `code`; it starts after `delayMs`.
   */
  | {
      readonly type: "retried";
      readonly method: string;
      readonly attempt: number;
      readonly code: string;
      readonly endpoint: string;
      readonly delayMs: number;
    };

/**
 * Retries of calls to methods marked `idempotent: true` in the contract (the Lazy Pirate pattern). An attempt is
 * made again when it ends with `UNAVAILABLE`, a lost connection, no server, or its own timeout
 * (`attemptTimeoutMs`); each new attempt has a new correlation id (a late reply to an earlier one is dropped, so a
 * call never gets two results), goes to another connected server when there is one, waits a full-jitter backoff
 * first, and stays inside the call's `timeoutMs`. Methods not marked idempotent are never retried.
 */
export interface RetryOptions {
  /** Attempts in all, the first included. @defaultValue 3 */
  readonly attempts?: number;
  /** Ceiling of the first backoff, doubling with each attempt (the wait is drawn between 0 and it). @defaultValue 50 */
  readonly backoffMs?: number;
  /** Largest backoff ceiling. @defaultValue 1000 */
  readonly maxBackoffMs?: number;
  /** Longest wait for one attempt's reply before trying again. @defaultValue the whole time the call has left */
  readonly attemptTimeoutMs?: number;
}

/** Options of {@link RpcClient.connect}. */
export interface RpcClientOptions extends ConnectionOptions, LimitOptions, InstrumentationOptions, ValidationOptions {
  /**
   * Body codec. Both ends must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Default time a call waits for its reply, in milliseconds; `call(…, { timeoutMs })` overrides it per call. It is
   * the whole budget of the call: waiting for a server, every attempt and every backoff.
   * @defaultValue 5000
   */
  readonly timeoutMs?: number;
  /**
   * Largest request body this client sends, in bytes; larger requests reject locally with
   * {@link MessageTooLargeError} and are not sent.
   * @defaultValue no limit
   */
  readonly maxMessageBytes?: number;
  /**
   * How long libzmq keeps trying to deliver queued requests after `close()` (`ZMQ_LINGER`). Pending calls are
   * rejected on close, so the default drops them.
   * @defaultValue 0
   */
  readonly lingerMs?: number;
  /** `ZMQ_SNDHWM` of each DEALER socket. @defaultValue 1000 */
  readonly sendHighWaterMark?: number;
  /** `ZMQ_RCVHWM` of each DEALER socket. @defaultValue 1000 */
  readonly receiveHighWaterMark?: number;
  /** Called for every reply the client drops (they are counted in {@link RpcClient.stats} too). Errors it throws are ignored. */
  readonly onDrop?: (info: RpcClientDropInfo) => void;
  /**
   * Called on connection changes, retries, failed validations, dropped replies and timeouts ({@link RpcClientEvent}).
   * Errors it throws are ignored.
   */
  readonly onEvent?: (event: RpcClientEvent) => void;
  /**
   * CURVE encryption of every link: `{ certificate, serverKey }` (this client's secret certificate, or `publicKey`
   * and `secretKey`, and the server's or broker's public key). A server that refuses the client, or a wrong server
   * key, shows as a `handshake-failed` event and calls that never reach a server.
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
  /**
   * Send protocol 1.1's headers frame with every request: the protocol version, the contract's name (a server for
   * another contract answers `CONTRACT_MISMATCH` instead of misreading the call), the call's deadline (`deadline`,
   * `remainingMs`: a server never starts a request whose deadline has passed) and `idempotent: true` for idempotent
   * methods. `false` sends exactly `[method, body]`, for a foreign 1.0 server; then no deadline travels. Always on in
   * broker mode (`service`).
   * @defaultValue true
   */
  readonly headers?: boolean;
  /** Retries of idempotent methods; `false` turns them off. @defaultValue `{ attempts: 3, backoffMs: 50, maxBackoffMs: 1000 }` */
  readonly retry?: RetryOptions | boolean;
  /**
   * Call the service of this name through Majordomo (MDP 0.1) brokers: the endpoints are broker frontends, and
   * requests travel as `["", "MDPC01", service, method, body, headers]`, correlated by their `correlationId` header.
   * @defaultValue direct calls to servers
   */
  readonly service?: string;
  /**
   * Opt-in call batching (protocol 1.4, docs/protocol.md "Call batches"): the calls made in the same event-loop turn
   * travel to a server in one ZeroMQ message, and the replies that finish there in the same turn come back in
   * another, which saves a send per call on both sides. A batch goes when it holds `maxMessages` calls or `maxBytes`
   * bytes, else on the next turn (`maxDelayMs` 0, the default here) or after `maxDelayMs`; never a timer per call.
   * Within one turn the batches ramp up: the first goes at 16 calls, each next one at twice the last, up to
   * `maxMessages`, so that the server starts on the first calls while the client still encodes the others.
   *
   * Each call keeps its own validation, deadline, `signal`, timeout, retries and error. The client batches only
   * towards a server that said it reads batches (a 1.4 `RpcServer` answers the `"batch": true` header it sends),
   * so older servers get ordinary requests. Direct connections only: it cannot be combined with `service`, nor with
   * `headers: false` (the negotiation travels in the headers).
   * @defaultValue false (`true`: `{ maxMessages: 256, maxBytes: 65536, maxDelayMs: 0 }`)
   */
  readonly batch?: BatchOptions | boolean;
}

/** Options resolved and checked before any socket exists. */
interface ClientConfig {
  readonly codec: Codec;
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
  readonly headers: boolean;
  readonly retry: RetryPolicy | undefined;
  readonly service: string | undefined;
  readonly socket: LinkSocketOptions;
  readonly limits: Limits;
  readonly onDrop: ((info: RpcClientDropInfo) => void) | undefined;
  readonly onEvent: ((event: RpcClientEvent) => void) | undefined;
  readonly curve: CurveConfig | undefined;
  readonly instrumentation: Instrumentation | undefined;
  readonly validateOutgoing: boolean;
  readonly batch: CallBatchLimits | undefined;
}

function resolveClientOptions(owner: string, options: RpcClientOptions): ClientConfig {
  return resolveOptions(owner, options, (read) => {
    const service = read.optionalString("service");
    // `maxMessageBytes` limits what a client sends: its hard limit (on what it receives) keeps the default.
    const limits = readLimits(read, { derive: false });
    const curve = readCurveOptions(read);
    const batch = readCallBatch(read);
    if (batch !== undefined && service !== undefined) {
      throw read.fail("batch", "false when `service` is set (call batches travel only on direct connections)", read.raw("batch"));
    }
    const headers = service !== undefined || read.flag("headers", true);
    if (batch !== undefined && !headers) {
      throw read.fail("batch", "false with `headers: false` (batching is negotiated in the headers)", read.raw("batch"));
    }
    return {
      batch,
      codec: read.codec(),
      validateOutgoing: readValidateOutgoing(read),
      // A timeout must be at least 1 ms (0 would time out every call): the same check as call()'s.
      timeoutMs: checkTimeout(read.raw("timeoutMs") as number | undefined, 5_000, "timeoutMs", owner),
      maxMessageBytes: read.optionalPositiveInt("maxMessageBytes") ?? Infinity,
      headers,
      retry: readRetryPolicy(read),
      service,
      socket: {
        linger: read.nonNegativeMs("lingerMs", 0),
        sendHighWaterMark: read.positiveInt("sendHighWaterMark", 1000),
        receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
        ...readConnectionOptions(read),
        ...limits.socket,
        ...curveSocketOptions(curve),
      },
      limits,
      onDrop: read.hook<(info: RpcClientDropInfo) => void>("onDrop"),
      onEvent: read.hook<(event: RpcClientEvent) => void>("onEvent"),
      curve,
      instrumentation: readInstrumentation(read),
    };
  });
}

/** What a method sends besides its body, built once per method. */
interface MethodWire {
  readonly frame: Buffer;
  /** The end of its headers frame: `}` or `,"idempotent":true}`. */
  readonly headersEnd: string;
  /** The attempts of its calls are recorded and may be retried. */
  readonly retried: boolean;
  /** The request schema's validator and where a failure is reported. */
  readonly request: Validator;
  readonly requestPlace: PayloadPlace;
  /** The response schema's validator and where a failure is reported. */
  readonly response: Validator;
  readonly responsePlace: PayloadPlace;
  /** `RpcClient.call("contract/method")`, for its errors: built once, not per call. */
  readonly where: string;
}

/** What a {@link Call} is made of. */
interface CallInit {
  readonly method: string;
  readonly wire: MethodWire;
  readonly body: Uint8Array;
  readonly where: string;
  /** Local time (`Date.now()`) of the call's overall deadline. */
  readonly deadlineAt: number;
  /** `performance.now()` when the call was made, for `stats.latency`. */
  readonly startedAt: number;
  /** The record of its attempts; only for calls that may be retried. */
  readonly log: AttemptLog | undefined;
  /** The trace context for its headers frame (`"traceparent":"…",`), or `""`. */
  readonly trace: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The call's whole budget, for its {@link TimeoutError}. */
  readonly timeoutMs: number;
}

/** One call, across its attempts. */
interface Call extends CallInit, PendingCall, DeadlineEntry {
  /** Correlation id of the current attempt. */
  id: number;
  /** The link of the current (or last) attempt; undefined until one was sent. */
  link: RpcLink | undefined;
  /** Which of `link`'s connections the attempt was sent on. */
  connection: number;
  /** `sent`: on `link`, awaiting its reply; `waiting`: for a live link (since `waitingSince`); `backoff`: before its next attempt. */
  state: "waiting" | "sent" | "backoff";
  waitingSince: number;
  /** The attempt timer or the backoff timer. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The batch frame of the call batch the current attempt went in; undefined when it went alone. */
  batchFrame: Buffer | undefined;
  /** Removes the signal listener, if the call has a signal. */
  disarmDeadline: () => void;
  /** The client's shared deadline timer, which holds this call until it settles. */
  readonly deadlines: DeadlineTimer<Call>;
}

/**
 * Builds a {@link Call}: every field written in one literal, in one order, so that all calls share one shape (an
 * object spread here cost about a tenth of the client's CPU time with 100 calls in flight, in allocation and GC).
 */
function newCall(init: CallInit, deadlines: DeadlineTimer<Call>): Call {
  return {
    method: init.method,
    wire: init.wire,
    body: init.body,
    where: init.where,
    deadlineAt: init.deadlineAt,
    startedAt: init.startedAt,
    log: init.log,
    trace: init.trace,
    resolve: init.resolve,
    reject: init.reject,
    timeoutMs: init.timeoutMs,
    deadlineKey: 0,
    deadlineSeq: 0,
    heapIndex: -1,
    deadlines,
    id: 0,
    link: undefined,
    connection: 0,
    state: "waiting",
    waitingSince: 0,
    timer: undefined,
    batchFrame: undefined,
    disarmDeadline: noop,
    disarm: disarmCall,
  };
}

/** Clears every timer and listener of the call (as `call.disarm()`). */
function disarmCall(this: Call): void {
  this.deadlines.remove(this);
  this.disarmDeadline();
  if (this.timer !== undefined) clearTimeout(this.timer);
  this.timer = undefined;
}

function noop(): void {
  // Nothing to disarm yet.
}

/**
 * Calls the methods of an RPC contract on one or more {@link RpcServer}s (or any peer speaking the protocol), or on
 * a service behind Majordomo brokers.
 *
 * Uses one DEALER socket per endpoint (ZMTP heartbeats; calls only on completed handshakes): a call goes round-robin to an endpoint
 * whose connection is up, never into the queue of one that is down. Each request carries a correlation id, so any
 * number of calls may be pending at once and replies may arrive in any order. A call made while no server is
 * connected waits for one within its timeout, then fails with {@link NoServerError}. A call whose connection is lost
 * fails with {@link ConnectionLostError}, or is retried when its method is marked `idempotent`.
 *
 * @example
 * ```ts
 * await using client = await RpcClient.connect(server.endpoint, Greeter, { timeoutMs: 2_000 });
 * const { greeting } = await client.call("hello", { name: "Ada" });
 * ```
 */
export class RpcClient<TContract extends RpcContract> extends PatternBase<TContract> {
  readonly #links: readonly RpcLink[];
  /** The live links, in the order they came up; calls go round-robin over them. */
  readonly #live: RpcLink[] = [];
  #next = 0;
  readonly #codec: Codec;
  readonly #timeoutMs: number;
  readonly #maxMessageBytes: number;
  readonly #limits: Limits;
  readonly #retry: RetryPolicy | undefined;
  readonly #onDrop: ((info: RpcClientDropInfo) => void) | undefined;
  readonly #onEvent: ((event: RpcClientEvent) => void) | undefined;
  readonly #instrumentation: Instrumentation | undefined;
  /** The fixed start of every headers frame (after the correlation id, in broker mode), or undefined when off. */
  readonly #headersStart: string | undefined;
  /** The service frame in broker mode. */
  readonly #service: Buffer | undefined;
  readonly #pending = new PendingCalls<Call>();
  /** The overall deadlines of the pending calls, on one timer. */
  readonly #deadlines = new DeadlineTimer<Call>((call) => {
    call.disarmDeadline();
    this.#expired(call, timeoutFor({ what: call.where, endpoint: this.endpointText }, call.timeoutMs));
  });
  /** Calls waiting for a live link, in arrival order. */
  readonly #waiting = new Set<Call>();
  readonly #methods = new Map<string, MethodWire>();
  /** Keep calls in order while an asynchronous request check (outgoing) or reply check (incoming) is pending. */
  readonly #outgoing = new InOrder();
  readonly #incoming = new InOrder();
  readonly #connectWaiters = new Waiters();
  readonly #curve: CurveGuard | undefined;
  #sent = 0;
  #late = 0;
  #malformed = 0;
  #retries = 0;
  #lost = 0;
  /** The `batch` limits; undefined when the client does not batch. */
  readonly #batch: CallBatchLimits | undefined;
  /** Per link: the connection on which its server announced that it reads call batches. */
  readonly #batchReady = new Map<RpcLink, number>();
  readonly #batchers = new Map<RpcLink, CallBatcher<Call>>();
  /** Call batches sent and not answered yet, by batch id: what to resend or fail when a server cannot read them. */
  readonly #openBatches = new Map<number, { readonly link: RpcLink; readonly calls: Call[] }>();
  #nextBatch = 0;
  #batchesSent = 0;
  readonly #latency = new LatencyHistogram();

  private constructor(contract: TContract, config: ClientConfig, owner: string, endpoints: readonly string[]) {
    super(checkContract(contract, "rpc", owner));
    this.#codec = config.codec;
    this.#timeoutMs = config.timeoutMs;
    this.#maxMessageBytes = config.maxMessageBytes;
    this.#limits = config.limits;
    this.#retry = config.retry;
    this.#onDrop = config.onDrop;
    this.#onEvent = config.onEvent;
    this.#instrumentation = config.instrumentation;
    this.#batch = config.batch;
    // The links report their failed handshakes (below); the guard passes them on to the authenticator.
    this.#curve = CurveGuard.open(config.curve);
    this.#service = config.service === undefined ? undefined : Buffer.from(config.service, "utf8");
    this.#headersStart = config.headers
      ? `"version":"${PROTOCOL_VERSION}","contract":${JSON.stringify(contract.name)},"deadline":`
      : undefined;
    for (const [method, schemas] of Object.entries(contract.methods)) {
      const idempotent = schemas.idempotent === true;
      this.#methods.set(method, {
        frame: Buffer.from(method, "utf8"),
        where: `RpcClient.call("${contract.name}/${method}")`,
        headersEnd: idempotent ? ',"idempotent":true}' : "}",
        retried: idempotent && config.retry !== undefined,
        request: outgoingValidator(schemas.request, config.validateOutgoing),
        requestPlace: {
          direction: "outgoing",
          contract: contract.name,
          method,
          what: "Request to",
          schema: "request",
          hint: "Nothing was sent; fix the payload.",
        },
        response: validatorOf(schemas.response),
        responsePlace: {
          direction: "incoming",
          contract: contract.name,
          method,
          what: "Reply to",
          schema: "response",
          hint: "Server and client probably run different contract versions.",
        },
      });
    }
    const listener: LinkListener = {
      message: (link, frames) => this.#receive(link, frames),
      live: (link) => this.#linkLive(link),
      lost: (link) => this.#linkDown(link),
      drained: (link, connection) => this.#linkLost(link, connection),
      retrying: (link, attempt) =>
        this.#emit({ type: "reconnecting", endpoint: link.endpoint, attempt, state: link.status.state }),
      handshakeFailed: (link, reason) => {
        this.#curve?.failed(link.endpoint, reason);
        this.#emit({ type: "handshake-failed", endpoint: link.endpoint, reason });
      },
    };
    this.#links = endpoints.map((endpoint) => new RpcLink(endpoint, config.socket, listener));
  }

  /**
   * Creates a client connected to one or more servers (or broker frontends, with `service`). Resolves at once:
   * libzmq connects in the background, so calls made before a server is up wait (within their timeout) until one is.
   *
   * @param endpoint - One endpoint, or several to spread calls over (round-robin over those connected).
   * @param contract - The same contract the server uses.
   * @throws {@link InvalidEndpointError} for a malformed endpoint; `TypeError`/`RangeError` for bad options.
   */
  static async connect<TContract extends RpcContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: RpcClientOptions = {},
  ): Promise<RpcClient<TContract>> {
    return openPattern(
      {
        create: (owner) => new RpcClient(contract, resolveClientOptions(owner, options), owner, endpointList(endpoint, owner)),
        attach: async (client, use) => {
          for (const link of client.#links) await client.attach(link.socket, link.endpoint, "connect", use);
        },
        start: (client) => {
          for (const link of client.#links) link.start();
        },
      },
      "RpcClient",
      "connect",
    );
  }

  /** A snapshot of the counters. */
  get stats(): RpcClientStats {
    return {
      sent: this.#sent,
      pending: this.#pending.size,
      lateReplies: this.#late,
      malformedReplies: this.#malformed,
      retries: this.#retries,
      connectionsLost: this.#lost,
      batches: this.#batchesSent,
      latency: this.#latency.snapshot(),
    };
  }

  /** The endpoints whose connection is up now (their handshake done), in the order they came up. */
  get connected(): readonly string[] {
    return this.#live.map((link) => link.endpoint);
  }

  /**
   * Resolves once at least `count` endpoints are connected (see {@link RpcClient.connected}). Calls need not wait
   * for this (a call waits for a server by itself); it is for spreading the first calls over several servers, and
   * for readiness checks.
   * @param count - Connected endpoints to wait for, from 1 to the number of endpoints. @defaultValue 1
   * @param options - `timeoutMs` (default: the client's `timeoutMs`) and `signal`.
   * @throws {@link TimeoutError} when fewer are connected in time; {@link AbortedError}; {@link ClosedError}.
   */
  waitForConnected(count = 1, options: WaitOptions = {}): Promise<void> {
    const what = `RpcClient.waitForConnected(${count})`;
    if (!Number.isInteger(count) || count < 1 || count > this.#links.length) {
      return Promise.reject(
        new OutOfRangeError(`${what}: \`count\` must be an integer from 1 to ${this.#links.length} (the number of endpoints).`),
      );
    }
    if (this.closed) return Promise.reject(new ClosedError(`${what} rejected: the client is closed.`));
    return this.#connectWaiters.until(
      () => this.#live.length >= count,
      options,
      { what, endpoint: this.endpointText, waitingFor: `${count} connected endpoint${count === 1 ? "" : "s"}` },
      this.#timeoutMs,
      () => ` (${this.#live.length} connected: ${this.#links.map((l) => `${l.endpoint}: ${l.status.detail}`).join("; ")})`,
    );
  }

  /**
   * Sends one request and waits for the matching reply.
   *
   * Validates `request` against the method's request schema before sending (nothing is sent if it fails) and
   * validates the reply on arrival. Many calls may be pending at once.
   *
   * @param method - Contract method name.
   * @param request - Payload; its type is the request schema's input type.
   * @param options - `signal` cancels the call (a cancel notice is sent to the server, best effort); `timeoutMs`
   *   overrides the client's default.
   * @returns The reply, parsed by the response schema.
   * @throws {@link ContractValidationError} when the request (`direction: "outgoing"`) or the reply
   *   (`"incoming"`) breaks the contract.
   * @throws {@link RemoteCallError} when the server (or a broker) answers with an error (`code`: `INVALID_REQUEST`,
   *   `HANDLER_ERROR`, `DEADLINE_EXCEEDED`, `SERVICE_UNAVAILABLE`, an application code, ...).
   * @throws {@link TimeoutError} when a request was sent and no reply arrived within `timeoutMs`; a reply arriving
   *   later is dropped and counted in {@link RpcClient.stats}.
   * @throws {@link NoServerError} when no server was connected at any time before the deadline: nothing was sent.
   * @throws {@link ConnectionLostError} when the connection carrying the call was lost (the call may have run).
   * @throws {@link AbortedError} when `signal` fires first.
   * @throws {@link ClosedError} when the client is closed before the reply arrives.
   * @throws {@link MessageTooLargeError}, {@link MalformedMessageError}, {@link UnknownMethodError}.
   * For an idempotent method the final error also carries `attempts`, and its message says how many were made.
   * @example
   * ```ts
   * const { greeting } = await client.call("hello", { name: "Ada" }, { timeoutMs: 1_000 });
   * ```
   */
  call<TMethod extends MethodName<TContract>>(
    method: TMethod,
    request: IsUnion<TMethod> extends true
      ? TypeLevelError<"typed-zmq: call() needs one method name, not a union of them; narrow the method first (for example with a switch)">
      : InferRequest<TContract, TMethod>,
    options?: CallOptions,
  ): Promise<InferResponse<TContract, TMethod>> {
    // The reply is checked by the method's response schema in #settle, so its type is the schema's output.
    return this.#call(method, request, options);
  }

  #call(method: string, request: unknown, options: CallOptions | undefined): Promise<unknown> {
    const known = hasMethod(this.contract, method) ? this.#methods.get(method) : undefined;
    const where = known?.where ?? `RpcClient.call("${this.contract.name}/${method}")`;
    if (this.closed) {
      return Promise.reject(
        new ClosedError(`${where} rejected: the client is closed. Create a new client with RpcClient.connect().`),
      );
    }
    let timeoutMs: number;
    let wire: MethodWire;
    let checked: Validation | Promise<Validation>;
    try {
      if (known === undefined) {
        throw new UnknownMethodError(this.contract.name, method, Object.keys(this.contract.methods));
      }
      timeoutMs = checkTimeout(options?.timeoutMs, this.#timeoutMs, "timeoutMs", where);
      checkSignal(options?.signal, where);
      wire = known;
      checked = wire.request(request);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    // An asynchronous check (or one still pending before this call) keeps the calls in the order they were made;
    // the deadline starts once the request is checked.
    if (checked instanceof Promise || this.#outgoing.busy) {
      return this.#outgoing.after(detached(checked), (done) =>
        this.#start(method, wire, request, done, timeoutMs, options, where),
      );
    }
    return this.#start(method, wire, request, checked, timeoutMs, options, where);
  }

  /** Encodes a checked request and sends it as a new call. */
  #start(
    method: string,
    wire: MethodWire,
    request: unknown,
    checked: Validation,
    timeoutMs: number,
    options: CallOptions | undefined,
    where: string,
  ): Promise<unknown> {
    let body: Uint8Array;
    try {
      if (!checked.ok) throw validationError(checked, wire.requestPlace);
      if (this.closed) {
        throw new ClosedError(`${where} rejected: the client was closed while the request was being checked.`);
      }
      // The original value is sent, not the parsed one: the server parses it again, so transforms run once.
      body = encodeBody(this.#codec, request, `Request to "${this.contract.name}/${method}"`);
      if (body.length > this.#maxMessageBytes) {
        throw new MessageTooLargeError(`Request to "${this.contract.name}/${method}"`, body.length, this.#maxMessageBytes);
      }
    } catch (err) {
      emitValidationFailed(this.#onEvent, err);
      return Promise.reject(toError(err));
    }
    const now = Date.now();
    const span = this.#instrumentation === undefined ? undefined : this.#startSpan(method);
    return new Promise<unknown>((settled, failed) => {
      const log = wire.retried ? new AttemptLog(now) : undefined;
      let trace = "";
      let resolve = settled;
      let reject = failed;
      if (span !== undefined) {
        if (this.#headersStart !== undefined) trace = traceFragment(span);
        resolve = (value) => {
          endSpan(span);
          settled(value);
        };
        reject = (error) => {
          endSpan(span, spanError(error));
          failed(toError(error));
        };
      }
      const startedAt = performance.now();
      const init = { method, wire, body, where, deadlineAt: now + timeoutMs, startedAt, log, trace, resolve, reject, timeoutMs };
      const call = newCall(init, this.#deadlines);
      call.id = this.#pending.add(call);
      // One timer for every call's deadline (internal/deadline-timer.ts); a listener only for a call with a signal.
      this.#deadlines.add(call, timeoutMs);
      const signal = options?.signal;
      if (signal !== undefined) {
        call.disarmDeadline = watchAbort(signal, where, (error) => {
          this.#deadlines.remove(call);
          this.#expired(call, error);
        });
        if (!this.#pending.holds(call.id, call)) return; // the signal had already fired: nothing is sent
      }
      this.#dispatch(call, now);
    });
  }

  /** The client span of one call: a child of the span active where `call()` is made. */
  #startSpan(method: string): TraceSpan {
    return startSpan(this.#instrumentation!, {
      name: `${this.contract.name}/${method}`,
      kind: "client",
      attributes: {
        "rpc.system": "typed-zmq",
        "rpc.service": this.contract.name,
        "rpc.method": method,
        "server.address": this.endpointText,
      },
    });
  }

  /** Sends the call's next attempt on a live link (another than its last one when there is a choice), or parks it. */
  #dispatch(call: Call, now: number): void {
    const live = this.#live;
    if (live.length === 0) {
      call.state = "waiting";
      call.waitingSince = now;
      this.#waiting.add(call);
      return;
    }
    let link = live[this.#next++ % live.length]!;
    if (link === call.link && live.length > 1) link = live[this.#next++ % live.length]!;
    this.#send(call, link, now);
  }

  #send(call: Call, link: RpcLink, now: number): void {
    call.batchFrame = undefined;
    call.link = link;
    call.connection = link.connection;
    call.state = "sent";
    let remainingMs = call.deadlineAt - now;
    const attemptMs = this.#retry?.attemptTimeoutMs;
    if (call.log !== undefined && attemptMs !== undefined && attemptMs < remainingMs) {
      remainingMs = attemptMs;
      call.timer = setTimeout(() => this.#attemptTimedOut(call, link, attemptMs), attemptMs);
    }
    this.#sent++;
    const id = call.id;
    if (this.#batch !== undefined && this.#batchReady.get(link) === link.connection) {
      this.#batcherOf(link).add(call, id, this.#record(call, id, now, remainingMs));
      return;
    }
    link.send(this.#frames(call, id, now, remainingMs)).catch((err: unknown) => {
      if (!this.#pending.holds(id, call)) return;
      this.#finish(call, fromZmqError(err, call.where, link.endpoint));
    });
  }

  #frames(call: Call, id: number, now: number, remainingMs: number): Uint8Array[] {
    const start = this.#headersStart;
    const service = this.#service;
    if (start === undefined) return encodeRequest(id, call.wire.frame, call.body);
    const timing = `${now + remainingMs},"remainingMs":${remainingMs}${call.wire.headersEnd}`;
    if (service === undefined) {
      // A batching client asks each server whether it reads call batches, until it has said so (1.4).
      const ask = this.#batch === undefined ? "" : '"batch":true,';
      return encodeRequest(id, call.wire.frame, call.body, Buffer.from(`{${ask}${call.trace}${start}${timing}`));
    }
    const headers = Buffer.from(`{"correlationId":"${id}",${call.trace}${start}${timing}`);
    return encodeClientRequest(service, [call.wire.frame, call.body, headers]);
  }

  /** One call's record in a call batch: `[id, method, body, headers]`, the headers as an unbatched request's. */
  #record(call: Call, id: number, now: number, remainingMs: number): Buffer {
    const timing = `${now + remainingMs},"remainingMs":${remainingMs}${call.wire.headersEnd}`;
    // Batching requires headers (resolveClientOptions), so the headers start is set.
    return encodeBatchCallRecord(id, call.wire.frame, call.body, `{${call.trace}${this.#headersStart!}${timing}`);
  }

  #batcherOf(link: RpcLink): CallBatcher<Call> {
    let batcher = this.#batchers.get(link);
    if (batcher === undefined) {
      batcher = new CallBatcher(this.#batch!, (calls, ids, records) => this.#sendBatch(link, calls, ids, records));
      this.#batchers.set(link, batcher);
    }
    return batcher;
  }

  /** Sends the calls still waiting (a call may have timed out, been aborted or retried since) as one call batch. */
  #sendBatch(link: RpcLink, calls: Call[], ids: number[], records: Buffer[]): void {
    const kept: Call[] = [];
    const keptRecords: Buffer[] = [];
    let bytes = 0;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      if (!this.#pending.holds(ids[i]!, call)) continue;
      kept.push(call);
      keptRecords.push(records[i]!);
      bytes += records[i]!.length;
    }
    if (kept.length === 0) return;
    const batchId = this.#nextBatch;
    this.#nextBatch = batchId === 0xffff_ffff ? 0 : batchId + 1;
    // 5 bytes ("b" and a 32-bit counter), so that a reply to the batch is told apart from a call's (4 bytes).
    const frame = Buffer.allocUnsafe(5);
    frame[0] = 0x62;
    frame.writeUInt32BE(batchId, 1);
    for (const call of kept) call.batchFrame = frame;
    if (this.#openBatches.size >= 1_024) this.#sweepBatches();
    this.#openBatches.set(batchId, { link, calls: kept });
    this.#batchesSent++;
    link.send(encodeBatch([frame], keptRecords, bytes)).catch((err: unknown) => {
      this.#openBatches.delete(batchId);
      for (const call of kept) {
        if (call.batchFrame === frame && this.#pending.holds(call.id, call))
          this.#finish(call, fromZmqError(err, call.where, link.endpoint));
      }
    });
  }

  /** Forgets the open batches none of whose calls is still waiting (their server never answered the batch as one). */
  #sweepBatches(): void {
    for (const [id, batch] of this.#openBatches) {
      if (!batch.calls.some((call) => this.#pending.holds(call.id, call))) this.#openBatches.delete(id);
    }
  }

  #receive(link: RpcLink, frames: Buffer[]): void {
    const over = tooManyFrames(this.#limits, frames, `${this.contract.name} from ${link.endpoint}`);
    if (over !== undefined) {
      this.#malformed++;
      this.#drop({ reason: "malformed-reply", message: over });
      return;
    }
    if (this.#batch !== undefined && frames[0]?.length === 5) {
      this.#receiveBatch(link, frames);
      return;
    }
    this.#onReply(link, this.#service === undefined ? parseReply(frames) : this.#parseServiceReply(frames));
  }

  /**
   * A message for a call batch: a reply batch (`[batch, "", "$batch", replies]`), or one reply to the whole batch:
   * `UNKNOWN_METHOD` from a server that cannot read batches (its calls are sent again one by one, and this link
   * batches no more until its server says it can), or another error, which fails the batch's calls.
   */
  #receiveBatch(link: RpcLink, frames: Buffer[]): void {
    const head = frames[0]!;
    const batchId = head.readUInt32BE(1);
    const batch = this.#openBatches.get(batchId);
    this.#openBatches.delete(batchId);
    const [, delimiter, status, body] = frames;
    const replies =
      status !== undefined && body !== undefined && status.equals(BATCH_FRAME) ? parseBatchReplies(body) : undefined;
    if (
      delimiter?.length !== 0 ||
      status === undefined ||
      body === undefined ||
      (status.equals(BATCH_FRAME) && replies === undefined)
    ) {
      this.#malformed++;
      this.#drop({
        reason: "malformed-reply",
        message: `${this.contract.name}: received a ${frames.length}-frame answer to call batch #${batchId} from ${link.endpoint} that is not [batch, "", "$batch", replies].`,
      });
      return;
    }
    if (replies !== undefined) {
      for (const reply of replies) this.#onReply(link, reply);
      return;
    }
    const whole = parseReply([correlationFrame(0), delimiter, status, body, ...frames.slice(4)]);
    const calls = (batch?.calls ?? []).filter(
      (call) => call.batchFrame?.equals(head) === true && this.#pending.holds(call.id, call),
    );
    let error: TypedZmqError;
    try {
      if (whole.kind === "malformed")
        throw new MalformedMessageError(`${this.contract.name}: ${whole.reason} from ${link.endpoint}.`);
      if (whole.ok) throw new MalformedMessageError(`${this.contract.name}: a server answered a call batch with one "ok" reply.`);
      // An error reply: #settle throws its RemoteCallError (or a MalformedMessageError for a body it cannot read).
      void this.#settle(calls[0]?.method ?? "$batch", false, whole.body);
      throw new MalformedMessageError(`${this.contract.name}: an error reply to a call batch that could not be read.`);
    } catch (err) {
      error = err instanceof TypedZmqError ? err : new MalformedMessageError(toError(err).message);
    }
    if (error instanceof RemoteCallError && error.code === ErrorCode.UNKNOWN_METHOD) {
      // A server that cannot read batches (an older one behind a proxy that mixes versions): send them alone.
      this.#batchReady.delete(link);
      const now = Date.now();
      for (const call of calls) this.#send(call, link, now);
      return;
    }
    for (const call of calls) this.#finish(call, error);
  }

  #onReply(link: RpcLink, reply: ReplyParse): void {
    if (reply.kind === "malformed") {
      const message = `${this.contract.name}: received ${reply.reason} from ${link.endpoint}.`;
      const call = reply.id === undefined ? undefined : this.#pending.get(reply.id);
      if (call !== undefined) {
        this.#finish(
          call,
          new MalformedMessageError(`${message} Check that the server speaks typed-zmq RPC protocol 1.1 (docs/protocol.md).`),
        );
        return;
      }
      this.#malformed++;
      this.#drop({ reason: "malformed-reply", message });
      return;
    }
    // A 1.4 server answers the `"batch": true` header it was asked: this link's calls may travel in batches now.
    if (this.#batch !== undefined && reply.headers?.batch === true) this.#batchReady.set(link, link.connection);
    const call = this.#pending.get(reply.id);
    if (call === undefined) {
      this.#late++;
      this.#drop({
        reason: "late-reply",
        message: `${this.contract.name}: dropped a reply for call #${reply.id}, which is no longer waiting (timed out, aborted, retried or unknown).`,
      });
      return;
    }
    let checked: Validation | Promise<Validation>;
    try {
      checked = this.#settle(call.method, reply.ok, reply.body);
    } catch (err) {
      emitValidationFailed(this.#onEvent, err);
      if (err instanceof RemoteCallError && err.code === ErrorCode.UNAVAILABLE) this.#retryOrFinish(call, err);
      else {
        this.#latency.since(call.startedAt);
        this.#finish(call, toError(err));
      }
      return;
    }
    // An asynchronous check (or one still pending before this reply) settles the calls in the order replies came.
    if (checked instanceof Promise || this.#incoming.busy) {
      void this.#incoming.after(detached(checked), (done) => {
        if (this.#pending.holds(call.id, call)) this.#resolveReply(call, done); // else its deadline or another reply came first
      });
      return;
    }
    this.#resolveReply(call, checked);
  }

  #resolveReply(call: Call, checked: Validation): void {
    this.#latency.since(call.startedAt);
    if (!checked.ok) {
      const error = validationError(checked, call.wire.responsePlace);
      emitValidationFailed(this.#onEvent, error);
      this.#finish(call, error);
      return;
    }
    this.#pending.take(call.id);
    call.resolve(checked.value);
  }

  #parseServiceReply(frames: Buffer[]): ReplyParse {
    const reply = parseClientReply(frames);
    return reply.kind === "malformed"
      ? { kind: "malformed", id: undefined, reason: reply.reason }
      : parseServiceReply(reply.body);
  }

  /** Checks a reply's body with the response schema; throws for an error reply or a body that cannot be decoded. */
  #settle(method: string, ok: boolean, body: Buffer): Validation | Promise<Validation> {
    const where = `Reply from "${this.contract.name}/${method}"`;
    if (ok) return this.#methods.get(method)!.response(decodeBody(this.#codec, body, where));
    const errorBody = asErrorBody(decodeBody(this.#codec, body, `Error ${where.toLowerCase()}`));
    if (errorBody === undefined) {
      throw new MalformedMessageError(
        `${where}: the error body is not { code: string, message: string }. Check that the server speaks typed-zmq RPC protocol 1.1.`,
      );
    }
    throw new RemoteCallError(this.contract.name, method, errorBody);
  }

  /** The call's overall deadline passed, or its signal fired (`error` says which). */
  #expired(call: Call, error: TypedZmqError): void {
    if (error instanceof AbortedError) this.#cancel(call);
    const final =
      // NoServerError says nothing was sent: only when no attempt of this call ever went out.
      error instanceof TimeoutError && call.state === "waiting" && (call.log === undefined || call.log.count === 0)
        ? new NoServerError(
            call.where,
            Date.now() - call.waitingSince,
            this.#links.map((link) => link.status),
          )
        : error;
    if (this.#onEvent !== undefined && error instanceof TimeoutError) {
      this.#emit({
        type: "timed-out",
        what: "call",
        method: call.method,
        afterMs: error.timeoutMs,
        endpoint: this.#attemptEndpoint(call),
        sent: final === error,
      });
    }
    this.#finish(call, final);
  }

  /** The attempt on `link` had no reply within `attemptTimeoutMs`. */
  #attemptTimedOut(call: Call, link: RpcLink, attemptMs: number): void {
    call.timer = undefined;
    if (!this.#pending.holds(call.id, call) || call.state !== "sent") return;
    this.#cancel(call);
    this.#emit({
      type: "timed-out",
      what: "attempt",
      method: call.method,
      afterMs: attemptMs,
      endpoint: link.endpoint,
      sent: true,
    });
    this.#retryOrFinish(call, new TimeoutError(`${call.where} (one attempt)`, attemptMs, link.endpoint));
  }

  /** Retries the call if its method is idempotent, the failure retryable, and attempts and time are left; else fails it. */
  #retryOrFinish(call: Call, error: TypedZmqError): void {
    const log = call.log;
    const policy = this.#retry;
    const now = Date.now();
    const failed = (log?.count ?? 0) + 1;
    const delayMs = policy === undefined ? 0 : backoffDelay(policy, failed);
    if (
      log === undefined ||
      policy === undefined ||
      !isRetryable(error.code) ||
      this.closed ||
      failed >= policy.attempts ||
      now + delayMs >= call.deadlineAt
    ) {
      this.#finish(call, error);
      return;
    }
    const from = this.#attemptEndpoint(call);
    log.record(from, error.code, now);
    // A new correlation id: a late reply to the attempt that failed is dropped, never taken for this one's.
    this.#pending.forget(call.id);
    call.id = this.#pending.add(call);
    if (call.timer !== undefined) clearTimeout(call.timer);
    call.state = "backoff";
    this.#retries++;
    this.#emit({ type: "retried", method: call.method, attempt: failed + 1, code: error.code, endpoint: from, delayMs });
    call.timer = setTimeout(() => {
      call.timer = undefined;
      if (this.#pending.holds(call.id, call)) this.#dispatch(call, Date.now());
    }, delayMs);
  }

  /**
   * Settles a call with an error, for good. The error of a call that may be retried records every attempt, this one
   * last, and its message says how many were made, where, over how long.
   */
  #finish(call: Call, error: Error): void {
    this.#pending.take(call.id);
    this.#waiting.delete(call);
    const log = call.log;
    if (log !== undefined && error instanceof TypedZmqError) {
      const now = Date.now();
      log.record(this.#attemptEndpoint(call), error.code, now);
      log.attach(error, now);
    }
    call.reject(error);
  }

  #attemptEndpoint(call: Call): string {
    return call.state === "waiting" || call.link === undefined ? this.endpointText : call.link.endpoint;
  }

  /** The best-effort cancel notice for the attempt in flight, if there is one. */
  #cancel(call: Call): void {
    const link = call.link;
    if (call.state !== "sent" || link === undefined || !link.live) return;
    const frames =
      this.#service !== undefined
        ? encodeClientRequest(this.#service, cancelBody(Buffer.from(`{"correlationId":"${call.id}"}`)))
        : call.batchFrame === undefined
          ? encodeCancel(call.id)
          : encodeBatchedCancel(call.batchFrame, correlationFrame(call.id));
    link.send(frames).catch(noop);
  }

  #linkLive(link: RpcLink): void {
    if (this.closed || this.#live.includes(link)) return;
    this.#live.push(link);
    this.#emit({ type: "connected", endpoint: link.endpoint });
    this.#connectWaiters.check();
    if (this.#waiting.size === 0) return;
    const now = Date.now();
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const call of waiting) this.#dispatch(call, now);
  }

  #linkDown(link: RpcLink): void {
    const at = this.#live.indexOf(link);
    if (at >= 0) this.#live.splice(at, 1);
    if (this.closed) return;
    this.#lost++;
    this.#emit({ type: "disconnected", endpoint: link.endpoint, inFlight: this.#inFlightOn(link, link.connection).length });
  }

  /** Calls still waiting for a reply from `link`'s lost connection get none: retry or fail them. */
  #linkLost(link: RpcLink, connection: number): void {
    if (this.closed) return;
    for (const [id, batch] of this.#openBatches) if (batch.link === link) this.#openBatches.delete(id);
    for (const call of this.#inFlightOn(link, connection)) {
      const hint = call.wire.retried ? "It was retried as far as its attempts and deadline allowed." : undefined;
      this.#retryOrFinish(call, new ConnectionLostError(call.where, link.endpoint, hint === undefined ? {} : { hint }));
    }
  }

  #inFlightOn(link: RpcLink, connection: number): Call[] {
    return this.#pending.snapshot().filter((c) => c.state === "sent" && c.link === link && c.connection === connection);
  }

  #drop(info: RpcClientDropInfo): void {
    callHook(this.#onDrop, info);
    if (this.#onEvent !== undefined) this.#emit({ type: "dropped", ...info });
  }

  #emit(event: RpcClientEvent): void {
    callHook(this.#onEvent, event);
  }

  /**
   * Rejects every pending call with {@link ClosedError} and closes the sockets. Idempotent.
   * Calls made after `close()` reject with {@link ClosedError} at once.
   */
  protected override async shutdown(): Promise<void> {
    this.#waiting.clear();
    this.#connectWaiters.rejectAll(new ClosedError("RpcClient.waitForConnected() rejected: the client was closed."));
    this.#pending.rejectAll(
      (call) =>
        new ClosedError(
          `RpcClient.call("${this.contract.name}/${call.method}") rejected: the client was closed while the call was pending. ` +
            `Await calls before close(), or pass a signal to cancel them.`,
        ),
    );
    this.#deadlines.clear();
    for (const batcher of this.#batchers.values()) batcher.clear();
    this.#openBatches.clear();
    this.#live.length = 0;
    await Promise.all(this.#links.map((link) => link.close()));
    this.#curve?.release();
  }
}
