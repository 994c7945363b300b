/**
 * @packageDocumentation
 * `RpcBroker`: a load-balancing queue between `RpcClient`s and `RpcServer`s. Clients connect to a ROUTER frontend;
 * servers connect (with `RpcServer.connect`) to a ROUTER backend, greet it and announce their capacity, and the
 * broker only sends a server as many requests as it can run at once. Every scheduling decision is made by the pure
 * scheduler in `internal/rpc-scheduler.ts`; this file owns the sockets, the read loops and shutdown.
 */
import * as zmq from "zeromq";
import { jsonCodec, type Codec } from "./codec.js";
import { ClosedError } from "./errors/index.js";
import { checkCodec } from "./internal/codec-io.js";
import { callHook } from "./internal/hooks.js";
import { checkNonNegative, checkPositiveInt } from "./internal/options.js";
import { RpcScheduler, type SchedulerAction } from "./internal/rpc-scheduler.js";
import { SendQueue } from "./internal/send-queue.js";
import { settleWithin, signalled } from "./internal/timing.js";
import { readLoop } from "./internal/read-loop.js";
import { TwoSided } from "./internal/two-sided.js";
import { Waiters } from "./internal/waiters.js";
import type { WaitOptions } from "./signal.js";

/**
 * Where an {@link RpcBroker}, a {@link PubSubForwarder} or a {@link PipelineStreamer} listens: the frontend faces
 * clients, publishers or sources; the backend servers, subscribers or workers. Both are bound.
 */
export interface BrokerEndpoints {
  /** Bound for clients (rpc), publishers (pub-sub) or sources (pipeline): one endpoint or several. */
  readonly frontend: string | readonly string[];
  /** Bound for servers (rpc), subscribers (pub-sub) or workers (pipeline): one endpoint or several. */
  readonly backend: string | readonly string[];
}

/** Something an {@link RpcBroker} did, as reported to `onEvent`. */
export type RpcBrokerEvent =
  | { readonly type: "server:ready"; readonly server: string; readonly capacity: number }
  | { readonly type: "server:gone"; readonly server: string; readonly lost: number }
  | { readonly type: "request:rejected"; readonly reason: string }
  | { readonly type: "message:dropped"; readonly reason: string };

/** Counters of an {@link RpcBroker}. */
export interface RpcBrokerStats {
  /** Requests passed to a server (a request retried on another server counts once). */
  readonly forwarded: number;
  /** Replies passed back to clients. */
  readonly returned: number;
  /** Requests waiting for a server with free capacity. */
  readonly queued: number;
  /** Servers that announced themselves and are not known to be gone. */
  readonly servers: number;
  /** Requests in flight at servers. */
  readonly inFlight: number;
  /**
   * Requests the broker answered itself: `UNAVAILABLE` (queue full, closing, server gone, drain timeout), or
   * `MALFORMED` for a request whose method frame is `ok` or `error`.
   */
  readonly rejected: number;
  /** Messages that could not be passed on: malformed, a reply to no request in flight, or the peer was gone. */
  readonly dropped: number;
}

/** Options of {@link RpcBroker.bind}. */
export interface RpcBrokerOptions {
  /**
   * Codec of the error replies the broker itself sends, which must match the clients'. The broker also decodes
   * servers' error replies with it, to send a request refused `UNAVAILABLE` by a closing server elsewhere.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Requests held while every server is busy. Beyond it, requests are answered `UNAVAILABLE`.
   * @defaultValue 10000
   */
  readonly maxQueued?: number;
  /**
   * How long `close()` waits for requests in flight at servers to be answered.
   * @defaultValue 5000
   */
  readonly drainTimeoutMs?: number;
  /** `ZMQ_SNDHWM` and `ZMQ_RCVHWM` of both sockets. @defaultValue 1000 */
  readonly highWaterMark?: number;
  /** Called for every event worth a log line. Errors it throws are ignored. */
  readonly onEvent?: (event: RpcBrokerEvent) => void;
}

interface RpcBrokerConfig {
  readonly codec: Codec;
  readonly maxQueued: number;
  readonly drainTimeoutMs: number;
  readonly highWaterMark: number;
  readonly onEvent: ((event: RpcBrokerEvent) => void) | undefined;
}

const OWNER = "RpcBroker.bind";

function resolveOptions(options: RpcBrokerOptions): RpcBrokerConfig {
  return Object.freeze({
    codec: options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec"),
    maxQueued: checkPositiveInt(options.maxQueued, 10_000, "maxQueued", OWNER),
    drainTimeoutMs: checkNonNegative(options.drainTimeoutMs, 5_000, "drainTimeoutMs", OWNER),
    highWaterMark: checkPositiveInt(options.highWaterMark, 1000, "highWaterMark", OWNER),
    onEvent: options.onEvent,
  });
}

function errorCode(err: unknown): unknown {
  return typeof err === "object" && err !== null ? Reflect.get(err, "code") : undefined;
}

/**
 * An RPC queue between clients and servers. Make one with {@link RpcBroker.bind}.
 *
 * Each request goes to the least busy server that has a free slot (its announced capacity, which is the server's
 * `concurrency`); among equally busy servers, the least recently used. When none has a free slot, the request waits
 * in the broker, up to `maxQueued`. Requests and replies pass through unchanged, with every frame they carry
 * (including the protocol 1.1 headers frame and anything after it), so typed and plain peers mix freely; the broker
 * never reads a client's message as control. Its own refusals are ordinary RPC error replies,
 * `[...envelope, "", "error", { code: "UNAVAILABLE", message }]`.
 *
 * `close()` stops taking new requests, answers queued ones `UNAVAILABLE`, waits up to `drainTimeoutMs` for requests in
 * flight, answers what is left `UNAVAILABLE`, then closes both sockets.
 *
 * @example
 * ```ts
 * await using broker = await RpcBroker.bind({ frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" });
 * await using server = await RpcServer.connect(broker.backend, Greeter, handlers);
 * await broker.waitForServers(1);
 * await using client = await RpcClient.connect(broker.frontend, Greeter);
 * ```
 */
export class RpcBroker extends TwoSided {
  /** Which kind of broker or device this is: always `"rpc"`. */
  readonly kind = "rpc" as const;
  readonly #config: RpcBrokerConfig;
  readonly #scheduler: RpcScheduler;
  readonly #front: zmq.Router;
  readonly #back: zmq.Router;
  readonly #frontQueue: SendQueue;
  readonly #backQueue: SendQueue;
  readonly #serverWaiters = new Waiters();
  #loops: Promise<void>[] = [];
  #drained: (() => void) | undefined;

  private constructor(config: RpcBrokerConfig) {
    super();
    this.#config = config;
    this.#scheduler = new RpcScheduler({ codec: config.codec, maxQueued: config.maxQueued });
    const hwm = config.highWaterMark;
    // Mandatory routing and no send timeout: a send to a peer that is gone fails at once (and is counted) instead of
    // blocking the queue.
    const common = { linger: 0, sendHighWaterMark: hwm, receiveHighWaterMark: hwm, mandatory: true, sendTimeout: 0 };
    this.#front = new zmq.Router(common);
    this.#back = new zmq.Router({ ...common, probeRouter: true });
    this.#frontQueue = new SendQueue(this.#front);
    this.#backQueue = new SendQueue(this.#back);
  }

  /**
   * Binds an RPC broker. `RpcClient`s (or REQ/DEALER peers) connect to `frontend`; `RpcServer`s connect to `backend`
   * with `RpcServer.connect`. Options are checked before any socket exists.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; `TypeError`/`RangeError` for bad options.
   */
  static override async bind(endpoints: BrokerEndpoints, options: RpcBrokerOptions = {}): Promise<RpcBroker> {
    const broker = new RpcBroker(resolveOptions(options));
    await broker.bindBoth(broker.#front, broker.#back, endpoints, OWNER);
    broker.#loops = [
      readLoop(broker.#front, (frames) => broker.#perform(broker.#scheduler.fromClient(frames))),
      readLoop(broker.#back, (frames) => broker.#perform(broker.#scheduler.fromServer(frames))),
    ];
    return broker;
  }

  /** A snapshot of the counters. */
  get stats(): RpcBrokerStats {
    return this.#scheduler.stats;
  }

  /**
   * Waits until at least `count` servers have announced themselves.
   * @throws {@link TimeoutError} after `timeoutMs` (default 10 000 ms); {@link AbortedError}; {@link ClosedError}.
   */
  waitForServers(count: number, options: WaitOptions = {}): Promise<void> {
    const what = `RpcBroker.waitForServers(${count})`;
    if (this.closed) return Promise.reject(new ClosedError(`${what} rejected: the broker is closed.`));
    const place = {
      what,
      endpoint: this.backend,
      waitingFor: `servers to connect to ${this.backends.join(", ")}`,
      hint: "Check that the servers use RpcServer.connect() with this backend endpoint, or raise { timeoutMs }.",
    };
    const servers = (): number => this.#scheduler.stats.servers;
    return this.#serverWaiters.until(
      () => servers() >= count,
      options,
      place,
      10_000,
      () => ` (${servers()} ready)`,
    );
  }

  /** Carries out what the scheduler decided for one message (one read loop per socket feeds it). */
  #perform(actions: readonly SchedulerAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case "dispatch":
          this.#backQueue.send(action.frames).catch((err: unknown) => {
            this.#perform(this.#scheduler.dispatchFailed(action.ticket, errorCode(err) === "EHOSTUNREACH"));
          });
          break;
        case "to-server":
          this.#backQueue.send(action.frames).catch(() => undefined);
          break;
        case "to-client":
          this.#frontQueue.send(action.frames).catch(() => this.#perform(this.#scheduler.replyFailed()));
          break;
        case "event":
          callHook(this.#config.onEvent, action.event);
          break;
      }
    }
    this.#serverWaiters.check();
    if (this.#scheduler.drained) this.#drained?.();
  }

  /**
   * Stops taking new requests (answered `UNAVAILABLE`), answers queued ones `UNAVAILABLE`, waits up to
   * `drainTimeoutMs` for requests in flight at servers, answers the rest `UNAVAILABLE`, then closes both sockets.
   */
  protected override async shutdown(): Promise<void> {
    const drained = signalled();
    this.#drained = drained.resolve;
    this.#perform(this.#scheduler.close());
    if (!this.#scheduler.drained) {
      await settleWithin(drained.promise, this.#config.drainTimeoutMs);
      this.#perform(this.#scheduler.abandon(this.#config.drainTimeoutMs));
    }
    await settleWithin(Promise.all([this.#frontQueue.idle(), this.#backQueue.idle()]), 1_000);
    this.#front.close();
    this.#back.close();
    await Promise.all(this.#loops);
    this.#serverWaiters.rejectAll(new ClosedError("RpcBroker.waitForServers() rejected: the broker was closed."));
  }
}
