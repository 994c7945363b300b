/**
 * @packageDocumentation
 * `RpcServer`: answers typed requests on a ROUTER socket (RPC wire protocol v1, docs/protocol.md).
 *
 * Depends on zeromq, `contract.ts`, `codec.ts`, `endpoint.ts`, `errors.ts`, `lifecycle.ts` and `internal/`.
 * Serves plain REQ peers and pipelining DEALER peers alike by echoing every envelope frame before the empty
 * delimiter. It binds (the usual case) or connects (for example to a broker's backend).
 */
import * as zmq from "zeromq";
import { checkCodec, decodeBody, encodeBody, jsonCodec, type Codec } from "./codec.js";
import {
  checkPayload,
  hasMethod,
  type InferHandlerRequest,
  type InferHandlerResponse,
  type MethodName,
  type RpcContract,
} from "./contract.js";
import {
  ClosedError,
  ContractValidationError,
  ErrorCode,
  ApplicationError,
  fromZmqError,
  toError,
  type RpcErrorBody,
} from "./errors.js";
import { InvalidArgumentError } from "./errors/index.js";
import { callHook, isThenable } from "./internal/hooks.js";
import { checkNonNegative, checkPositiveInt } from "./internal/options.js";
import { settleWithin, signalled } from "./internal/timing.js";
import { SendQueue } from "./internal/send-queue.js";
import { READY_FRAME, STATUS_ERROR_FRAME, STATUS_OK_FRAME, delimiterIndex, strictUtf8 } from "./internal/wire.js";
import { PatternBase, checkContract } from "./lifecycle.js";

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
   * Include the handler's stack trace in `HANDLER_ERROR` replies (as `details.stack`). Off by default: stacks
   * reveal internals.
   * @defaultValue false
   */
  readonly exposeStack?: boolean;
  /** `ZMQ_SNDHWM` of the ROUTER socket. @defaultValue 1000 */
  readonly sendHighWaterMark?: number;
  /** `ZMQ_RCVHWM` of the ROUTER socket. @defaultValue 1000 */
  readonly receiveHighWaterMark?: number;
  /**
   * Called for every request answered with an error and every message dropped. Errors thrown by the callback are
   * ignored. Use it for logging; the counters are in {@link RpcServer.stats}.
   */
  readonly onError?: (info: RpcServerErrorInfo) => void;
}

interface Job {
  readonly envelope: Buffer[];
  readonly method: string;
  settled: boolean;
}

/**
 * Serves an RPC contract over a ROUTER socket.
 *
 * Every request is validated against the method's request schema before the handler runs, and every response
 * against the response schema before it is sent. Bad input never stops the server: the peer gets an error reply
 * (`MALFORMED`, `UNKNOWN_METHOD`, `INVALID_REQUEST`, `MESSAGE_TOO_LARGE`), or, when the message has no envelope
 * delimiter and so cannot be answered, the drop is counted in {@link RpcServer.stats} and reported to `onError`.
 *
 * @example
 * await using server = await RpcServer.bind("tcp://127.0.0.1:0", Greeter, {
 *   hello: ({ name }) => ({ greeting: `Hello, ${name}` }),
 * });
 * console.log(server.endpoint); // tcp://127.0.0.1:41234
 */
export class RpcServer<TContract extends RpcContract> extends PatternBase<TContract> {
  readonly #socket: zmq.Router;
  readonly #queue: SendQueue;
  readonly #handlers: RpcHandlers<TContract>;
  readonly #codec: Codec;
  readonly #concurrency: number;
  readonly #drainTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #maxMessageBytes: number;
  readonly #exposeStack: boolean;
  readonly #onError: ((info: RpcServerErrorInfo) => void) | undefined;
  readonly #jobs = new Set<Job>();
  /** Aborted when close() stops waiting for running handlers: the `signal` every handler gets. */
  readonly #stop = new AbortController();
  #readLoop: Promise<void> = Promise.resolve();
  #closing = false;
  #slotWaiter: (() => void) | undefined;
  #drainWaiter: (() => void) | undefined;
  /** Brokers that greeted this server, by routing id, with the envelope to reach them. */
  readonly #brokers = new Map<string, Buffer[]>();
  #departed: (() => void) | undefined;
  #received = 0;
  #succeeded = 0;
  #dropped = 0;
  #undeliverable = 0;
  readonly #failed: Record<string, number> = {};

  private constructor(contract: TContract, handlers: RpcHandlers<TContract>, options: RpcServerOptions, owner: string) {
    super(checkContract(contract, "rpc", owner));
    const missing = Object.keys(contract.methods).filter((m) => typeof Reflect.get(handlers ?? {}, m) !== "function");
    if (missing.length > 0) {
      throw new InvalidArgumentError(`${owner}("${contract.name}"): no handler for ${missing.map((m) => `"${m}"`).join(", ")}. Pass a function for every method of the contract.`);
    }
    this.#handlers = handlers;
    this.#codec = options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec");
    this.#concurrency = checkPositiveInt(options.concurrency, 100, "concurrency", owner);
    this.#drainTimeoutMs = checkNonNegative(options.drainTimeoutMs, 5_000, "drainTimeoutMs", owner);
    this.#lingerMs = checkNonNegative(options.lingerMs, 1_000, "lingerMs", owner);
    this.#maxMessageBytes =
      options.maxMessageBytes === undefined ? Infinity : checkPositiveInt(options.maxMessageBytes, 0, "maxMessageBytes", owner);
    this.#exposeStack = options.exposeStack === true;
    this.#onError = options.onError;
    this.#socket = new zmq.Router({
      linger: this.#lingerMs,
      sendHighWaterMark: checkPositiveInt(options.sendHighWaterMark, 1000, "sendHighWaterMark", owner),
      receiveHighWaterMark: checkPositiveInt(options.receiveHighWaterMark, 1000, "receiveHighWaterMark", owner),
      // ROUTER_MANDATORY with a zero send timeout: a reply to a peer that is gone (or whose queue is full) fails at
      // once and is counted as undeliverable, instead of being dropped silently or blocking every other reply.
      mandatory: true,
      sendTimeout: 0,
      // A server that connects (to a broker's backend) greets its peer with an empty message (ZMQ_PROBE_ROUTER), so
      // the broker learns about it even when the connection was made before the broker bound (inproc).
      probeRouter: owner === "RpcServer.connect",
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
    return RpcServer.#open(new RpcServer(contract, handlers, options, "RpcServer.bind"), endpoint, "bind");
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
    return RpcServer.#open(new RpcServer(contract, handlers, options, "RpcServer.connect"), endpoint, "connect");
  }

  static async #open<TContract extends RpcContract>(
    server: RpcServer<TContract>,
    endpoint: string | readonly string[],
    mode: "bind" | "connect",
  ): Promise<RpcServer<TContract>> {
    const owner = mode === "bind" ? "RpcServer.bind" : "RpcServer.connect";
    await server.attach(server.#socket, endpoint, mode, { owner, multicast: false });
    server.#readLoop = server.#read();
    return server;
  }

  /** A snapshot of the counters. */
  get stats(): RpcServerStats {
    return {
      received: this.#received,
      succeeded: this.#succeeded,
      failed: { ...this.#failed },
      dropped: this.#dropped,
      undeliverable: this.#undeliverable,
      inFlight: this.#jobs.size,
    };
  }

  async #read(): Promise<void> {
    for (;;) {
      while (this.#jobs.size >= this.#concurrency && !this.#socket.closed) {
        await new Promise<void>((resolve) => (this.#slotWaiter = resolve));
      }
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch (err) {
        if (this.#socket.closed) return;
        this.#report({ code: ErrorCode.MALFORMED, message: `receive failed: ${toError(err).message}`, method: undefined, replied: false, cause: err });
        continue;
      }
      this.#handle(frames);
    }
  }

  #handle(frames: Buffer[]): void {
    this.#received++;
    const d = delimiterIndex(frames);
    if (d < 0) {
      this.#dropped++;
      this.#report({
        code: ErrorCode.MALFORMED,
        message: `${this.contract.name}: dropped a ${frames.length}-frame message with no empty delimiter frame: there is no envelope to reply to. Clients must send [..., "", method, body] (a REQ socket adds the delimiter itself).`,
        method: undefined,
        replied: false,
      });
      return;
    }
    const envelope = frames.slice(0, d + 1);
    if (d === 1 && frames.length === 2) {
      // A ROUTER peer with ZMQ_PROBE_ROUTER (a typed-zmq Broker backend) said hello: tell it how many requests this
      // server takes at once, so it only sends work this server can start (docs/protocol.md, "Broker").
      this.#received--;
      this.#brokers.set(frames[0]!.toString("hex"), envelope);
      if (!this.#closing) this.#send([...envelope, READY_FRAME, Buffer.from(String(this.#concurrency))], undefined);
      return;
    }
    if (d === 1 && frames.length === 4 && frames[2]!.equals(READY_FRAME) && this.#brokers.has(frames[0]!.toString("hex"))) {
      // A broker acknowledged our departure: every request it sent before has arrived.
      this.#received--;
      this.#brokers.delete(frames[0]!.toString("hex"));
      if (this.#brokers.size === 0) this.#departed?.();
      return;
    }
    if (this.#closing) {
      this.#replyError(envelope, undefined, {
        code: ErrorCode.UNAVAILABLE,
        message: `${this.contract.name}: the server is shutting down and takes no new requests. Retry on another server.`,
      });
      return;
    }
    const payload = frames.length - d - 1;
    if (payload !== 2) {
      this.#replyError(envelope, undefined, {
        code: ErrorCode.MALFORMED,
        message: `${this.contract.name}: expected 2 frames after the empty delimiter ([method, body]), got ${payload}.`,
      });
      return;
    }
    const methodFrame = frames[d + 1]!;
    const body = frames[d + 2]!;
    let method: string;
    try {
      method = strictUtf8.decode(methodFrame);
    } catch {
      this.#replyError(envelope, undefined, {
        code: ErrorCode.MALFORMED,
        message: `${this.contract.name}: the method frame (${methodFrame.length} bytes) is not valid UTF-8.`,
      });
      return;
    }
    if (method.length === 0) {
      this.#replyError(envelope, method, {
        code: ErrorCode.MALFORMED,
        message: `${this.contract.name}: the method frame is empty; send the method name as UTF-8.`,
      });
      return;
    }
    if (body.length > this.#maxMessageBytes) {
      this.#replyError(envelope, method, {
        code: ErrorCode.MESSAGE_TOO_LARGE,
        message: `${this.contract.name}/${method}: the request body is ${body.length} bytes, over this server's limit of ${this.#maxMessageBytes} bytes (maxMessageBytes).`,
        details: { size: body.length, limit: this.#maxMessageBytes },
      });
      return;
    }
    if (!hasMethod(this.contract, method)) {
      const known = Object.keys(this.contract.methods);
      this.#replyError(envelope, method, {
        code: ErrorCode.UNKNOWN_METHOD,
        message: `method "${method}" is not part of contract "${this.contract.name}"; known methods: ${known.map((m) => `"${m}"`).join(", ")}.`,
        details: { known },
      });
      return;
    }
    let request: unknown;
    try {
      const decoded = decodeBody(this.#codec, body, `Request to "${this.contract.name}/${method}"`);
      request = checkPayload(this.contract.methods[method]!.request, decoded, {
        direction: "incoming",
        contract: this.contract.name,
        method,
        what: "Request to",
        schema: "request",
        hint: "Fix the caller's payload, or check that both sides use the same contract version.",
      });
    } catch (err) {
      if (err instanceof ContractValidationError) {
        this.#replyError(envelope, method, { code: ErrorCode.INVALID_REQUEST, message: err.message, details: { issues: err.issues } }, err);
      } else {
        this.#replyError(envelope, method, { code: ErrorCode.MALFORMED, message: toError(err).message }, err);
      }
      return;
    }
    void this.#run(envelope, method, request);
  }

  async #run(envelope: Buffer[], method: MethodName<TContract>, request: unknown): Promise<void> {
    const job: Job = { envelope, method, settled: false };
    this.#jobs.add(job);
    const where = `${this.contract.name}/${method}`;
    try {
      let result: unknown;
      try {
        const handler = this.#handlers[method] as RpcHandler<TContract, typeof method>;
        // `request` is the output of the method's request schema (checked in #handle), so this cast is sound.
        const returned: unknown = handler(request as InferHandlerRequest<TContract, typeof method>, {
          contract: this.contract,
          method,
          signal: this.#stop.signal,
        });
        // A handler that answers synchronously is answered in this turn, without an extra await.
        result = isThenable(returned) ? await returned : returned;
      } catch (thrown) {
        if (job.settled) return;
        this.#replyError(envelope, method, this.#handlerErrorBody(where, thrown), thrown);
        return;
      }
      if (job.settled) return;
      let reply: Uint8Array;
      try {
        checkPayload(this.contract.methods[method]!.response, result, {
          direction: "outgoing",
          contract: this.contract.name,
          method,
          what: "Response from the handler of",
          schema: "response",
          hint: "The handler returned data that breaks the contract; fix the handler.",
        });
        // The handler's own value is sent (the response schema's input type): the client parses it, so
        // transforms run once, on the receiving side, as for requests.
        reply = encodeBody(this.#codec, result, `Response from the handler of "${where}"`);
      } catch (err) {
        const details = err instanceof ContractValidationError ? { issues: err.issues } : undefined;
        this.#replyError(envelope, method, { code: ErrorCode.INVALID_RESPONSE, message: toError(err).message, ...(details && { details }) }, err);
        return;
      }
      if (reply.length > this.#maxMessageBytes) {
        this.#replyError(envelope, method, {
          code: ErrorCode.MESSAGE_TOO_LARGE,
          message: `${where}: the response body is ${reply.length} bytes, over this server's limit of ${this.#maxMessageBytes} bytes (maxMessageBytes).`,
          details: { size: reply.length, limit: this.#maxMessageBytes },
        });
        return;
      }
      this.#send([...envelope, STATUS_OK_FRAME, reply], method, () => this.#succeeded++);
    } finally {
      job.settled = true;
      this.#jobs.delete(job);
      const wake = this.#slotWaiter;
      this.#slotWaiter = undefined;
      wake?.();
      if (this.#jobs.size === 0) this.#drainWaiter?.();
    }
  }

  #handlerErrorBody(where: string, thrown: unknown): RpcErrorBody {
    if (thrown instanceof ApplicationError) {
      return thrown.details === undefined
        ? { code: thrown.code, message: thrown.message }
        : { code: thrown.code, message: thrown.message, details: thrown.details };
    }
    const error = toError(thrown);
    const message =
      thrown instanceof Error
        ? `the handler of "${where}" threw: ${error.message}`
        : `the handler of "${where}" threw a non-Error value: ${error.message.replace(/^non-Error value thrown: /, "")}`;
    return this.#exposeStack && error.stack !== undefined
      ? { code: ErrorCode.HANDLER_ERROR, message, details: { stack: error.stack } }
      : { code: ErrorCode.HANDLER_ERROR, message };
  }

  #replyError(envelope: Buffer[], method: string | undefined, body: RpcErrorBody, cause?: unknown): void {
    let bytes: Uint8Array;
    try {
      bytes = this.#codec.encode(body);
    } catch {
      bytes = this.#codec.encode({ code: body.code, message: `${body.message} (the error details could not be encoded)` });
    }
    this.#failed[body.code] = (this.#failed[body.code] ?? 0) + 1;
    this.#report({ code: body.code, message: body.message, method, replied: true, cause });
    this.#send([...envelope, STATUS_ERROR_FRAME, bytes], method);
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
    callHook(this.#onError, info);
  }

  /**
   * Stops taking new requests (they are answered `UNAVAILABLE`), waits up to `drainTimeoutMs` for running handlers,
   * answers any still running with `UNAVAILABLE` and aborts their signals, then closes the socket.
   * Idempotent; resolves when the socket is closed.
   */
  protected override async shutdown(): Promise<void> {
    this.#closing = true;
    if (this.#brokers.size > 0) {
      // Tell each broker we are leaving (capacity 0) and wait for its acknowledgement: requests it sent before that
      // are answered UNAVAILABLE, and it sends them to another server.
      const departed = signalled();
      this.#departed = departed.resolve;
      for (const envelope of this.#brokers.values()) this.#send([...envelope, READY_FRAME, Buffer.from("0")], undefined);
      await settleWithin(departed.promise, Math.min(this.#drainTimeoutMs, 1_000));
    }
    if (this.#jobs.size > 0) {
      const drained = signalled();
      this.#drainWaiter = drained.resolve;
      await settleWithin(drained.promise, this.#drainTimeoutMs);
    }
    if (this.#jobs.size > 0) {
      this.#stop.abort(new ClosedError(`RpcServer("${this.contract.name}") closed before its handlers finished (drainTimeoutMs ${this.#drainTimeoutMs}).`));
    }
    for (const job of this.#jobs) {
      job.settled = true;
      this.#replyError(job.envelope, job.method, {
        code: ErrorCode.UNAVAILABLE,
        message: `${this.contract.name}/${job.method}: the server closed before the handler finished (it waited drainTimeoutMs = ${this.#drainTimeoutMs} ms). Retry on another server.`,
      });
    }
    await settleWithin(this.#queue.idle(), this.#lingerMs);
    this.#socket.close();
    const wake = this.#slotWaiter;
    this.#slotWaiter = undefined;
    wake?.();
    await this.#readLoop;
  }
}

