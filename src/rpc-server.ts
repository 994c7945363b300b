/**
 * @packageDocumentation
 * `RpcServer`: answers typed requests on a ROUTER socket (RPC protocol 1.1, docs/protocol.md).
 *
 * Thin: framing comes from `protocol/rpc.ts`, validation and error shapes from `internal/dispatch.ts`, the
 * concurrency limit from `internal/handler-pool.ts`. Serves plain REQ peers and pipelining DEALER peers alike by
 * echoing every envelope frame up to the empty delimiter. It binds (the usual case) or connects (to a broker's
 * backend, where it also speaks the broker handshake: control traffic exists only on that link).
 */
import * as zmq from "zeromq";
import type { Codec } from "./codec.js";
import { type InferHandlerRequest, type InferHandlerResponse, type MethodName, type RpcContract } from "./contract.js";
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
  type Outcome,
} from "./internal/dispatch.js";
import { HandlerPool } from "./internal/handler-pool.js";
import { callHook, callHookOrLog, isThenable } from "./internal/hooks.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { readLoop } from "./internal/read-loop.js";
import { SendQueue } from "./internal/send-queue.js";
import { settleWithin, signalled } from "./internal/timing.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { encodeHeaders, type MessageHeaders } from "./protocol/headers.js";
import { encodeReady, encodeReply, parseBrokerControl, parseRequest } from "./protocol/rpc.js";

/** What a handler gets besides the request. */
export interface HandlerContext<TContract extends RpcContract, TMethod extends MethodName<TContract>> {
  /** The contract being served. */
  readonly contract: TContract;
  /** The method being called. */
  readonly method: TMethod;
  /**
   * Aborted when the server stops waiting for this handler: on `close()`, once `drainTimeoutMs` has passed.
   * Pass it on to whatever the handler awaits.
   */
  readonly signal: AbortSignal;
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
  /** The wire code of the error reply, or `MALFORMED` for a dropped message. */
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
  /** Messages dropped because no reply was possible (no empty delimiter frame, so no envelope to answer). */
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
}

/** Options of {@link RpcServer.bind} and {@link RpcServer.connect}. */
export interface RpcServerOptions {
  /**
   * Body codec. Both ends must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Most handlers running at once. When reached, the server stops reading new requests (they wait in ZeroMQ's queues)
   * until one finishes.
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
   * Responses over the limit are answered `MESSAGE_TOO_LARGE` too.
   * @defaultValue no limit
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
}

/** Options resolved and checked before any socket exists. */
interface ServerConfig {
  readonly policy: DispatchPolicy;
  readonly concurrency: number;
  readonly drainTimeoutMs: number;
  readonly lingerMs: number;
  readonly sendHighWaterMark: number;
  readonly receiveHighWaterMark: number;
  readonly onError: ((info: RpcServerErrorInfo) => void) | undefined;
}

function resolveServerOptions(owner: string, options: RpcServerOptions): ServerConfig {
  return resolveOptions(owner, options, (read) => {
    return {
      policy: readDispatchPolicy(read, read.optionalPositiveInt("maxMessageBytes") ?? Infinity),
      concurrency: read.positiveInt("concurrency", 100),
      drainTimeoutMs: read.nonNegativeMs("drainTimeoutMs", 5_000),
      lingerMs: read.nonNegativeMs("lingerMs", 1_000),
      sendHighWaterMark: read.positiveInt("sendHighWaterMark", 1000),
      receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
      onError: read.hook<(info: RpcServerErrorInfo) => void>("onError"),
    };
  });
}

/** The dispatch steps of every method, built once. */
function stepsFor(contract: RpcContract): ReadonlyMap<string, DispatchStep> {
  const steps = new Map<string, DispatchStep>();
  for (const [method, schemas] of Object.entries(contract.methods)) {
    const label = `${contract.name}/${method}`;
    steps.set(method, {
      input: schemas.request,
      output: schemas.response,
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

/** A request being handled: settled once answered (by the handler, or by close() with `UNAVAILABLE`). */
interface Job {
  readonly envelope: Buffer[];
  readonly method: string;
  readonly replyHeaders: Uint8Array | undefined;
  settled: boolean;
}

/**
 * Serves an RPC contract over a ROUTER socket.
 *
 * Every request is validated against the method's request schema before the handler runs, and every response
 * against the response schema before it is sent. Bad input never stops the server: every message that has an empty
 * delimiter frame gets exactly one reply (`MALFORMED`, `UNKNOWN_METHOD`, `INVALID_REQUEST`, `MESSAGE_TOO_LARGE`, ...).
 * A message with no delimiter cannot be answered, and a reply (`ok`/`error`) sent to a server must not be: both are
 * dropped, counted in {@link RpcServer.stats} and reported to `onError`.
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
  readonly #socket: zmq.Router;
  readonly #queue: SendQueue;
  readonly #handlers: RpcHandlers<TContract>;
  readonly #config: ServerConfig;
  readonly #steps: ReadonlyMap<string, DispatchStep>;
  readonly #pool: HandlerPool;
  readonly #connectMode: boolean;
  readonly #jobs = new Set<Job>();
  #readLoop: Promise<void> = Promise.resolve();
  #closing = false;
  /** Brokers that greeted this server (connect mode only), by routing id, with the envelope to reach them. */
  readonly #brokers = new Map<string, Buffer[]>();
  #departed: (() => void) | undefined;
  #received = 0;
  #succeeded = 0;
  #dropped = 0;
  #strayReplies = 0;
  #undeliverable = 0;
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
    this.#config = resolveServerOptions(owner, options);
    this.#steps = stepsFor(contract);
    this.#pool = new HandlerPool(this.#config.concurrency);
    this.#connectMode = mode === "connect";
    this.#socket = new zmq.Router({
      linger: this.#config.lingerMs,
      sendHighWaterMark: this.#config.sendHighWaterMark,
      receiveHighWaterMark: this.#config.receiveHighWaterMark,
      // ROUTER_MANDATORY with a zero send timeout: a reply to a peer that is gone (or whose queue is full) fails at
      // once and is counted as undeliverable, instead of being dropped silently or blocking every other reply.
      mandatory: true,
      sendTimeout: 0,
      // A server that connects (to a broker's backend) greets its peer with an empty message (ZMQ_PROBE_ROUTER), so
      // the broker learns about it even when the connection was made before the broker bound (inproc).
      probeRouter: this.#connectMode,
    });
    this.#queue = new SendQueue(this.#socket);
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
   * Connects a server to one or more endpoints (for example a broker's backend) and starts serving.
   * Resolves at once: libzmq connects in the background and reconnects when the peer restarts.
   *
   * @throws {@link InvalidEndpointError} for a malformed endpoint; `TypeError`/`RangeError` for bad options.
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
        attach: (server, use) => server.attach(server.#socket, endpoint, mode, use),
        start: (server) => {
          server.#readLoop = readLoop(server.#socket, (frames) => server.#handle(frames), {
            room: () => server.#pool.slot(),
            onError: (err) =>
              server.#report({
                code: ErrorCode.MALFORMED,
                message: `receive failed: ${toError(err).message}`,
                method: undefined,
                replied: false,
                cause: err,
              }),
          });
        },
      },
      "RpcServer",
      mode,
    );
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
      inFlight: this.#jobs.size,
    };
  }

  #handle(frames: Buffer[]): void {
    if (this.#connectMode && this.#control(frames)) return;
    this.#received++;
    const name = this.contract.name;
    const message = parseRequest(frames);
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
        this.#report({
          code: ErrorCode.MALFORMED,
          message: `${name}: dropped a message whose method frame is "${message.status}": that is a reply, and a server never answers a reply (two servers wired to each other would loop). Connect clients, not servers, to this server.`,
          method: undefined,
          replied: false,
        });
        return;
      case "malformed":
        this.#replyError(message.envelope, message.method, undefined, {
          code: ErrorCode.MALFORMED,
          message: `${name}: ${message.reason}.`,
        });
        return;
      case "request":
        break;
    }
    const { envelope, method, headers } = message;
    const replyHeaders = replyHeadersFor(headers);
    if (this.#closing) {
      this.#replyError(envelope, method, replyHeaders, {
        code: ErrorCode.UNAVAILABLE,
        message: `${name}: the server is shutting down and takes no new requests. Retry on another server.`,
      });
      return;
    }
    if (headers?.contract !== undefined && headers.contract !== name) {
      this.#replyError(envelope, method, replyHeaders, {
        code: ErrorCode.CONTRACT_MISMATCH,
        message: `the request was written for contract "${headers.contract}", but this server serves "${name}". Connect to a server for "${headers.contract}", or use the same contract version on both sides.`,
        details: { expected: name, received: headers.contract },
      });
      return;
    }
    const step = this.#steps.get(method);
    if (step === undefined) {
      const known = [...this.#steps.keys()];
      this.#replyError(envelope, method, replyHeaders, {
        code: ErrorCode.UNKNOWN_METHOD,
        message: `method "${method}" is not part of contract "${name}"; known methods: ${known.map((m) => `"${m}"`).join(", ")}.`,
        details: { known },
      });
      return;
    }
    const input = decodeInput(step, this.#config.policy, message.body);
    if (!input.ok) {
      this.#fail(envelope, method, replyHeaders, input.failure);
      return;
    }
    const job: Job = { envelope, method, replyHeaders, settled: false };
    this.#jobs.add(job);
    this.#pool.begin();
    // The handler map is exhaustive over the contract's methods and `method` is one of them (its step exists).
    const handler = this.#handlers[method as MethodName<TContract>] as RpcHandler<TContract, MethodName<TContract>>;
    const outcome = runHandler(step, this.#config.policy, () =>
      // `input.value` is the output of the method's request schema, which is what the handler is typed to receive.
      handler(input.value as InferHandlerRequest<TContract, MethodName<TContract>>, {
        contract: this.contract,
        method: method,
        signal: this.#pool.signal,
      }),
    );
    if (isThenable(outcome)) void outcome.then((done) => this.#finish(job, done));
    else this.#finish(job, outcome);
  }

  /** The broker handshake, on a connecting server's link to its broker. True when `frames` was control traffic. */
  #control(frames: Buffer[]): boolean {
    const control = parseBrokerControl(frames, (id) => this.#brokers.has(id));
    if (control === undefined) return false;
    if (control.kind === "greeting") {
      // The broker said hello (ZMQ_PROBE_ROUTER): tell it how many requests this server takes at once, so it only
      // sends work this server can start (docs/protocol.md, "Broker").
      this.#brokers.set(control.broker, control.envelope);
      if (!this.#closing) this.#send(encodeReady(control.envelope, this.#config.concurrency), undefined);
    } else {
      // A broker acknowledged our departure: every request it sent before has arrived.
      this.#brokers.delete(control.broker);
      if (this.#brokers.size === 0) this.#departed?.();
    }
    return true;
  }

  #finish(job: Job, outcome: Outcome): void {
    this.#jobs.delete(job);
    this.#pool.end();
    if (job.settled) return;
    job.settled = true;
    if (outcome.ok)
      this.#send(encodeReply(job.envelope, true, outcome.body, job.replyHeaders), job.method, () => this.#succeeded++);
    else this.#fail(job.envelope, job.method, job.replyHeaders, outcome.failure);
  }

  #fail(envelope: Buffer[], method: string, replyHeaders: Uint8Array | undefined, failure: Failure): void {
    this.#replyError(envelope, method, replyHeaders, failure.body, failure);
  }

  #replyError(
    envelope: Buffer[],
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
    this.#send(encodeReply(envelope, false, encodeError(this.#config.policy.codec, body), replyHeaders), method);
  }

  #send(frames: Uint8Array[], method: string | undefined, onSent?: () => void): void {
    this.#queue.send(frames).then(onSent, (err: unknown) => {
      this.#undeliverable++;
      const error = fromZmqError(err, "RpcServer reply", this.endpoint);
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
  }

  /**
   * Stops taking new requests (they are answered `UNAVAILABLE`), waits up to `drainTimeoutMs` for running handlers,
   * answers any still running with `UNAVAILABLE` and aborts their signals, then closes the socket.
   * Idempotent; resolves when the socket is closed.
   */
  protected override async shutdown(): Promise<void> {
    this.#closing = true;
    const { drainTimeoutMs, lingerMs } = this.#config;
    if (this.#brokers.size > 0) {
      // Tell each broker we are leaving (capacity 0) and wait for its acknowledgement: requests it sent before that
      // are answered UNAVAILABLE, and it sends them to another server.
      const departed = signalled();
      this.#departed = departed.resolve;
      for (const envelope of this.#brokers.values()) this.#send(encodeReady(envelope, 0), undefined);
      await settleWithin(departed.promise, Math.min(drainTimeoutMs, 1_000));
    }
    await this.#pool.drain(
      drainTimeoutMs,
      () =>
        new ClosedError(
          `RpcServer("${this.contract.name}") closed before its handlers finished (drainTimeoutMs ${drainTimeoutMs}).`,
        ),
    );
    for (const job of this.#jobs) {
      job.settled = true;
      this.#replyError(job.envelope, job.method, job.replyHeaders, {
        code: ErrorCode.UNAVAILABLE,
        message: `${this.contract.name}/${job.method}: the server closed before the handler finished (it waited drainTimeoutMs = ${drainTimeoutMs} ms). Retry on another server.`,
      });
    }
    await settleWithin(this.#queue.idle(), lingerMs);
    this.#socket.close();
    this.#pool.release();
    await this.#readLoop;
  }
}

/**
 * The headers of a reply: only when the request carried headers and there is something to echo (its
 * `correlationId`). A v1 request gets a v1 reply, `[...envelope, "", status, body]`, so v1 peers never see a frame
 * they do not expect.
 */
function replyHeadersFor(headers: MessageHeaders | undefined): Uint8Array | undefined {
  if (headers?.correlationId === undefined) return undefined;
  return encodeHeaders({ correlationId: headers.correlationId });
}
