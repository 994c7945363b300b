/**
 * @packageDocumentation
 * `RpcClient`: typed calls over one DEALER socket, many in flight, correlated by an envelope frame
 * (RPC protocol 1.1, docs/protocol.md). Framing comes from `protocol/rpc.ts`, the pending-call table from
 * `internal/pending-calls.ts`.
 */
import * as zmq from "zeromq";
import type { Codec } from "./codec.js";
import type { InferRequest, InferResponse, MethodName, RpcContract, TypeLevelError } from "./contract.js";
import type { IsUnion } from "./internal/types.js";
import { ClosedError, MalformedMessageError, MessageTooLargeError, RemoteCallError, UnknownMethodError } from "./errors/index.js";
import { decodeBody, encodeBody } from "./internal/codec-io.js";
import { checkPayload, hasMethod } from "./internal/contract-check.js";
import { callHook } from "./internal/hooks.js";
import { openPattern } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { PendingCalls, type PendingCall } from "./internal/pending-calls.js";
import { readLoop } from "./internal/read-loop.js";
import { SendQueue } from "./internal/send-queue.js";
import { asErrorBody } from "./internal/wire.js";
import { fromZmqError, toError } from "./internal/zmq-errors.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { PROTOCOL_VERSION } from "./protocol/headers.js";
import { encodeRequest, parseReply } from "./protocol/rpc.js";
import { checkSignal, checkTimeout, watchDeadline } from "./internal/deadline.js";
import type { WaitOptions } from "./signal.js";

/** Options of one {@link RpcClient.call}. */
export type CallOptions = WaitOptions;

/** A reply the client dropped, as reported to `onDrop`. */
export interface RpcClientDropInfo {
  /**
   * `late-reply`: a reply for a call that had already timed out, been aborted or never existed;
   * `malformed-reply`: a message that does not follow the reply layout and matches no pending call.
   */
  readonly reason: "late-reply" | "malformed-reply";
  /** What happened, in words. */
  readonly message: string;
}

/** Counters of an {@link RpcClient}; read them through {@link RpcClient.stats}. */
export interface RpcClientStats {
  /** Calls handed to the socket. */
  readonly sent: number;
  /** Calls waiting for a reply now. */
  readonly pending: number;
  /** Replies that arrived for calls no longer waiting (timed out or aborted); dropped, never given to another call. */
  readonly lateReplies: number;
  /** Messages that could not be matched to a call because their frames were wrong; dropped. */
  readonly malformedReplies: number;
}

/** Options of {@link RpcClient.connect}. */
export interface RpcClientOptions {
  /**
   * Body codec. Both ends must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Default time a call waits for its reply, in milliseconds; `call(…, { timeoutMs })` overrides it per call.
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
  /** `ZMQ_SNDHWM` of the DEALER socket. @defaultValue 1000 */
  readonly sendHighWaterMark?: number;
  /** `ZMQ_RCVHWM` of the DEALER socket. @defaultValue 1000 */
  readonly receiveHighWaterMark?: number;
  /** Called for every reply the client drops (they are counted in {@link RpcClient.stats} too). Errors it throws are ignored. */
  readonly onDrop?: (info: RpcClientDropInfo) => void;
  /**
   * Send protocol 1.1's headers frame with every request: the protocol version, the contract's name (a server for
   * another contract answers `CONTRACT_MISMATCH` instead of misreading the call) and the call's deadline
   * (`deadline`, `remainingMs`). Off by default: the extra frame and its JSON cost about 15 % of RPC throughput with
   * 100 calls in flight (`npm run bench`), and a foreign 1.0 server may insist on exactly `[method, body]`.
   * @defaultValue false
   */
  readonly headers?: boolean;
}

/** Options resolved and checked before any socket exists. */
interface ClientConfig {
  readonly codec: Codec;
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
  readonly lingerMs: number;
  readonly sendHighWaterMark: number;
  readonly receiveHighWaterMark: number;
  readonly headers: boolean;
  readonly onDrop: ((info: RpcClientDropInfo) => void) | undefined;
}

function resolveClientOptions(owner: string, options: RpcClientOptions): ClientConfig {
  return resolveOptions(owner, options, (read) => ({
    codec: read.codec(),
    // A timeout must be at least 1 ms (0 would time out every call): the same check as call()'s.
    timeoutMs: checkTimeout(read.raw("timeoutMs") as number | undefined, 5_000, "timeoutMs", owner),
    maxMessageBytes: read.optionalPositiveInt("maxMessageBytes") ?? Infinity,
    lingerMs: read.nonNegativeMs("lingerMs", 0),
    sendHighWaterMark: read.positiveInt("sendHighWaterMark", 1000),
    receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
    headers: read.flag("headers", false),
    onDrop: read.hook<(info: RpcClientDropInfo) => void>("onDrop"),
  }));
}

/**
 * Calls the methods of an RPC contract on one or more {@link RpcServer}s (or any peer speaking the protocol).
 *
 * Uses one DEALER socket; each request carries a 4-byte correlation frame in its envelope, so any number of calls
 * may be pending at once and replies may arrive in any order. With several endpoints, calls are spread round-robin
 * over the connected servers.
 *
 * @example
 * ```ts
 * await using client = await RpcClient.connect(server.endpoint, Greeter, { timeoutMs: 2_000 });
 * const { greeting } = await client.call("hello", { name: "Ada" });
 * ```
 */
export class RpcClient<TContract extends RpcContract> extends PatternBase<TContract> {
  readonly #socket: zmq.Dealer;
  readonly #queue: SendQueue;
  readonly #codec: Codec;
  readonly #timeoutMs: number;
  readonly #maxMessageBytes: number;
  readonly #onDrop: ((info: RpcClientDropInfo) => void) | undefined;
  /** The fixed start of every headers frame, or undefined when headers are off. */
  readonly #headersPrefix: string | undefined;
  readonly #pending = new PendingCalls();
  readonly #methodFrames = new Map<string, Buffer>();
  #readLoop: Promise<void> = Promise.resolve();
  #sent = 0;
  #late = 0;
  #malformed = 0;

  private constructor(contract: TContract, config: ClientConfig, owner: string) {
    super(checkContract(contract, "rpc", owner));
    this.#codec = config.codec;
    this.#timeoutMs = config.timeoutMs;
    this.#maxMessageBytes = config.maxMessageBytes;
    this.#onDrop = config.onDrop;
    this.#headersPrefix = config.headers
      ? `{"version":"${PROTOCOL_VERSION}","contract":${JSON.stringify(contract.name)},"deadline":`
      : undefined;
    for (const method of Object.keys(contract.methods)) this.#methodFrames.set(method, Buffer.from(method, "utf8"));
    const { lingerMs: linger, sendHighWaterMark, receiveHighWaterMark } = config;
    this.#socket = new zmq.Dealer({ linger, sendHighWaterMark, receiveHighWaterMark });
    this.#queue = new SendQueue(this.#socket);
  }

  /**
   * Creates a client connected to one or more servers. Resolves at once: libzmq connects in the background, so
   * calls made before a server is up wait (within their timeout) until it is.
   *
   * @param endpoint - One endpoint, or several to spread calls over (round-robin).
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
        create: (owner) => new RpcClient(contract, resolveClientOptions(owner, options), owner),
        attach: (client, use) => client.attach(client.#socket, endpoint, "connect", use),
        start: (client) => {
          client.#readLoop = readLoop(client.#socket, (frames) => client.#receive(frames));
        },
      },
      "RpcClient",
      "connect",
    );
  }

  /** A snapshot of the counters. */
  get stats(): RpcClientStats {
    return { sent: this.#sent, pending: this.#pending.size, lateReplies: this.#late, malformedReplies: this.#malformed };
  }

  /**
   * Sends one request and waits for the matching reply.
   *
   * Validates `request` against the method's request schema before sending (nothing is sent if it fails) and
   * validates the reply on arrival. Many calls may be pending at once.
   *
   * @param method - Contract method name.
   * @param request - Payload; its type is the request schema's input type.
   * @param options - `signal` cancels the call; `timeoutMs` overrides the client's default.
   * @returns The reply, parsed by the response schema.
   * @throws {@link ContractValidationError} when the request (`direction: "outgoing"`) or the reply
   *   (`"incoming"`) breaks the contract.
   * @throws {@link RemoteCallError} when the server answers with an error (`code`: `INVALID_REQUEST`,
   *   `HANDLER_ERROR`, an application code, ...).
   * @throws {@link TimeoutError} when no reply arrives within `timeoutMs`; a reply arriving later is dropped and
   *   counted in {@link RpcClient.stats}.
   * @throws {@link AbortedError} when `signal` fires first.
   * @throws {@link ClosedError} when the client is closed before the reply arrives.
   * @throws {@link MessageTooLargeError}, {@link MalformedMessageError}, {@link UnknownMethodError}.
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
    return this.#call(method, request, options) as Promise<InferResponse<TContract, TMethod>>;
  }

  #call(method: string, request: unknown, options: CallOptions | undefined): Promise<unknown> {
    const where = `RpcClient.call("${this.contract.name}/${method}")`;
    if (this.closed) {
      return Promise.reject(
        new ClosedError(`${where} rejected: the client is closed. Create a new client with RpcClient.connect().`),
      );
    }
    let body: Uint8Array;
    let timeoutMs: number;
    try {
      if (!hasMethod(this.contract, method)) {
        throw new UnknownMethodError(this.contract.name, String(method), Object.keys(this.contract.methods));
      }
      timeoutMs = checkTimeout(options?.timeoutMs, this.#timeoutMs, "timeoutMs", where);
      checkSignal(options?.signal, where);
      checkPayload(this.contract.methods[method]!.request, request, {
        direction: "outgoing",
        contract: this.contract.name,
        method,
        what: "Request to",
        schema: "request",
        hint: "Nothing was sent; fix the payload.",
      });
      // The original value is sent, not the parsed one: the server parses it again, so transforms run once.
      body = encodeBody(this.#codec, request, `Request to "${this.contract.name}/${method}"`);
      if (body.length > this.#maxMessageBytes) {
        throw new MessageTooLargeError(`Request to "${this.contract.name}/${method}"`, body.length, this.#maxMessageBytes);
      }
    } catch (err) {
      return Promise.reject(toError(err));
    }
    const headers =
      this.#headersPrefix === undefined
        ? undefined
        : Buffer.from(`${this.#headersPrefix}${Date.now() + timeoutMs},"remainingMs":${timeoutMs}}`);
    return new Promise<unknown>((resolve, reject) => {
      const pending: PendingCall = { method, resolve, reject, disarm: () => undefined };
      const id = this.#pending.add(pending);
      pending.disarm = watchDeadline(timeoutMs, options?.signal, { what: where, endpoint: this.endpointText }, (error) => {
        this.#pending.forget(id);
        reject(error);
      });
      if (!this.#pending.holds(id, pending)) return; // the signal had already fired: nothing is sent
      this.#sent++;
      this.#queue.send(encodeRequest(id, this.#methodFrames.get(method)!, body, headers)).catch((err: unknown) => {
        if (this.#pending.take(id) === undefined) return;
        reject(fromZmqError(err, where, this.endpointText));
      });
    });
  }

  #receive(frames: Buffer[]): void {
    const reply = parseReply(frames);
    if (reply.kind === "malformed") {
      const message = `${this.contract.name}: received ${reply.reason}.`;
      const pending = reply.id === undefined ? undefined : this.#pending.take(reply.id);
      if (pending !== undefined) {
        pending.reject(
          new MalformedMessageError(`${message} Check that the server speaks typed-zmq RPC protocol 1.1 (docs/protocol.md).`),
        );
        return;
      }
      this.#malformed++;
      this.#drop({ reason: "malformed-reply", message });
      return;
    }
    const pending = this.#pending.take(reply.id);
    if (pending === undefined) {
      this.#late++;
      this.#drop({
        reason: "late-reply",
        message: `${this.contract.name}: dropped a reply for call #${reply.id}, which is no longer waiting (timed out, aborted or unknown).`,
      });
      return;
    }
    try {
      pending.resolve(this.#settle(pending.method, reply.ok, reply.body));
    } catch (err) {
      pending.reject(err);
    }
  }

  #settle(method: string, ok: boolean, body: Buffer): unknown {
    const where = `Reply from "${this.contract.name}/${method}"`;
    if (ok) {
      return checkPayload(this.contract.methods[method]!.response, decodeBody(this.#codec, body, where), {
        direction: "incoming",
        contract: this.contract.name,
        method,
        what: "Reply to",
        schema: "response",
        hint: "Server and client probably run different contract versions.",
      });
    }
    const errorBody = asErrorBody(decodeBody(this.#codec, body, `Error ${where.toLowerCase()}`));
    if (errorBody === undefined) {
      throw new MalformedMessageError(
        `${where}: the error body is not { code: string, message: string }. Check that the server speaks typed-zmq RPC protocol 1.1.`,
      );
    }
    throw new RemoteCallError(this.contract.name, method, errorBody);
  }

  #drop(info: RpcClientDropInfo): void {
    callHook(this.#onDrop, info);
  }

  /**
   * Rejects every pending call with {@link ClosedError} and closes the socket. Idempotent.
   * Calls made after `close()` reject with {@link ClosedError} at once.
   */
  protected override async shutdown(): Promise<void> {
    this.#pending.rejectAll(
      (call) =>
        new ClosedError(
          `RpcClient.call("${this.contract.name}/${call.method}") rejected: the client was closed while the call was pending. ` +
            `Await calls before close(), or pass a signal to cancel them.`,
        ),
    );
    this.#socket.close();
    await this.#readLoop;
  }
}
