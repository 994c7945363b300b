/**
 * @packageDocumentation
 * `RpcBroker`: a Majordomo Protocol 0.1 broker (rfc.zeromq.org 7/MDP, with 8/MMI) between clients and workers.
 * Clients (MDP clients, `RpcClient`s, plain REQ sockets, v1 RPC clients) connect to a ROUTER frontend; workers
 * (`RpcServer.connect`, or any MDP 0.1 worker) connect to a ROUTER backend and register for a service. Every
 * scheduling decision is made by the pure core in `internal/mdp-broker.ts`; this file owns the sockets, the read
 * loops, the one heartbeat timer and shutdown.
 */
import { randomBytes } from "node:crypto";
import * as zmq from "zeromq";
import type { Codec } from "./codec.js";
import type { CurveAllow, CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import { ClosedError, InvalidArgumentError } from "./errors/index.js";
import { callHook } from "./internal/hooks.js";
import { BACKEND, FRONTEND, watchConnections } from "./internal/socket-events.js";
import type { BrokerConnectionEvent } from "./events.js";
import type { LatencyStats } from "./internal/latency.js";
import { readBackendLimits, readLimits, tooManyFrames, type LimitOptions, type Limits } from "./internal/limits.js";
import { MdpBroker, type BrokerAction } from "./internal/mdp-broker.js";
import { resolveOptions as resolve } from "./internal/options.js";
import { readInstrumentation } from "./internal/trace.js";
import { readLoop } from "./internal/read-loop.js";
import { SendQueue } from "./internal/send-queue.js";
import { settleWithin, signalled } from "./internal/timing.js";
import { TwoSided } from "./internal/two-sided.js";
import { Waiters } from "./internal/waiters.js";
import { MMI_PREFIX, readServiceName } from "./protocol/mdp.js";
import type { WaitOptions } from "./signal.js";
import type { InstrumentationOptions } from "./tracing.js";

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

/**
 * Something an {@link RpcBroker} did, as reported to `onEvent`. Workers are named by their service and a readable
 * name: their routing id when it is printable text (typed-zmq workers set one), else `service#n`.
 */
export type RpcBrokerEvent =
  /**
   * A peer connected to a face, or its connection was lost, or its handshake failed without CURVE (a CURVE failure
   * is the `handshake-failed` below): `face` says which socket (`frontend`: clients; `backend`: workers).
   */
  | BrokerConnectionEvent
  /** A worker registered (READY) for `service` and takes up to `capacity` requests at once. */
  | { readonly type: "worker:ready"; readonly service: string; readonly worker: string; readonly capacity: number }
  /**
   * A worker missed its heartbeats for `silentMs` and was evicted: `redispatched` of its requests in flight (those
   * marked idempotent) went back to the front of the queue, `lost` were answered `UNAVAILABLE`.
   */
  | {
      readonly type: "worker:evicted";
      readonly service: string;
      readonly worker: string;
      readonly silentMs: number;
      readonly redispatched: number;
      readonly lost: number;
    }
  /** A worker announced its departure (the typed-zmq extension): it gets no new work; `inFlight` are still its own. */
  | { readonly type: "worker:left"; readonly service: string; readonly worker: string; readonly inFlight: number }
  /**
   * A worker went away without leaving first (DISCONNECT, unreachable, or a protocol error, in `reason`); its
   * requests in flight were handled as for an eviction.
   */
  | {
      readonly type: "worker:gone";
      readonly service: string;
      readonly worker: string;
      readonly reason: string;
      readonly redispatched: number;
      readonly lost: number;
    }
  /** A queued request's deadline passed before any worker took it: answered `DEADLINE_EXCEEDED`, never dispatched. */
  | { readonly type: "request:expired"; readonly service: string; readonly reason: string }
  /** The broker answered a request itself with the error `code` (`UNAVAILABLE`, `SERVICE_UNAVAILABLE`, `MALFORMED`...). */
  | { readonly type: "request:rejected"; readonly code: string; readonly reason: string }
  /** A message could not be passed on: malformed, a reply to no request in flight, or its peer was gone. */
  | { readonly type: "message:dropped"; readonly reason: string }
  /**
   * A CURVE handshake failed on one face (`face`): a client or worker that is not on that face's list, has no key,
   * or has the wrong server key. Nothing from it reached the broker.
   */
  | {
      readonly type: "handshake-failed";
      readonly face: "frontend" | "backend";
      readonly endpoint: string;
      readonly reason: string;
    };

/** One worker of a service, as listed by {@link RpcBroker.services} and the `mmi.services` query. */
export interface WorkerInfo {
  /** Readable name: the worker's routing id when it is printable text, else `service#n`. */
  readonly name: string;
  /** Requests it takes at once (announced in READY; 1 for a plain MDP worker or a strict broker). */
  readonly capacity: number;
  /** Requests it holds now. */
  readonly inFlight: number;
}

/** One service known to an {@link RpcBroker}: its live workers and the requests waiting for one. */
export interface ServiceInfo {
  /** The MDP service name. */
  readonly service: string;
  /** Workers that take new work (not leaving). */
  readonly workers: readonly WorkerInfo[];
  /** Requests waiting in the broker for this service. */
  readonly queued: number;
}

/** Counters of an {@link RpcBroker}. */
export interface RpcBrokerStats {
  /** Requests passed to a worker (a request re-dispatched after its worker was lost counts again). */
  readonly forwarded: number;
  /** Replies passed back to clients. */
  readonly returned: number;
  /** Requests waiting for a worker with free credit, over all services. */
  readonly queued: number;
  /** Workers registered and not leaving, over all services. */
  readonly workers: number;
  /**
   * Same as {@link RpcBrokerStats.workers}.
   * @deprecated Use `workers` instead.
   */
  readonly servers: number;
  /** Requests in flight at workers. */
  readonly inFlight: number;
  /**
   * Requests the broker answered itself: `UNAVAILABLE` (queue full, closing, worker lost, drain timeout),
   * `SERVICE_UNAVAILABLE`, `DEADLINE_EXCEEDED` or `MALFORMED`.
   */
  readonly rejected: number;
  /** Messages that could not be passed on: malformed, a reply to no request in flight, or the peer was gone. */
  readonly dropped: number;
  /** Workers evicted for missing their heartbeats. */
  readonly evicted: number;
  /** Requests sent to another worker after theirs was lost (only methods marked idempotent). */
  readonly redispatched: number;
  /** Queued requests whose deadline passed before a worker took them (answered `DEADLINE_EXCEEDED`). */
  readonly expired: number;
  /** Cancel notices that found their request (queued: dropped; in flight: passed to its typed worker). */
  readonly cancelled: number;
  /** Requests whose absolute deadline was later than their remaining time allows: the sender's clock is ahead. */
  readonly senderAhead: number;
  /**
   * From a request's arrival at the broker to its worker's reply being passed to the client: queueing, the worker's
   * time and both hops. Only requests answered by a worker count (not those the broker answered itself).
   */
  readonly latency: LatencyStats;
}

/**
 * Options of {@link RpcBroker.bind}. The limits (`hardMaxMessageBytes`, `maxFrames`, `backlog`) are the frontend's,
 * where clients connect; the backend's follow from them (see `backendHardMaxMessageBytes`).
 */
export interface RpcBrokerOptions extends LimitOptions, InstrumentationOptions {
  /**
   * Codec of the error bodies the broker itself sends, which must match the clients'.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Heartbeat interval both ways, in milliseconds: the broker sends a HEARTBEAT to a worker it has sent nothing to
   * for this long, and expects to hear from each worker as often. RFC 7 sets no value; this is the Guide's.
   * @defaultValue 2500
   */
  readonly heartbeatMs?: number;
  /**
   * Heartbeats a worker may miss: a worker silent for `heartbeatMs × liveness` is evicted.
   * @defaultValue 3
   */
  readonly liveness?: number;
  /**
   * Strict MDP 0.1: ignore typed-zmq's two extensions, the READY capacity (every worker gets one request at a time)
   * and the acknowledged departure (HEARTBEAT `"leaving"`).
   * @defaultValue false
   */
  readonly strict?: boolean;
  /**
   * Service of a request without the `MDPC01` frame (a typed-zmq v1 client or a plain REQ peer speaking the RPC
   * frames). Without it, such requests go to the only service that has a live (not leaving) worker at that moment;
   * while none has, they wait (`serviceWaitMs`) for the first service that gets one; while several have, they are
   * answered `SERVICE_UNAVAILABLE`.
   */
  readonly defaultService?: string;
  /**
   * How long a request for a service that no worker serves waits for one, in milliseconds, before it is answered
   * `SERVICE_UNAVAILABLE`; never past the request's deadline.
   * @defaultValue 5000
   */
  readonly serviceWaitMs?: number;
  /**
   * Requests held while no worker has free credit, over all services. Beyond it, requests are answered `UNAVAILABLE`.
   * @defaultValue 10000
   */
  readonly maxQueued?: number;
  /**
   * How long `close()` waits for requests in flight at workers to be answered.
   * @defaultValue 5000
   */
  readonly drainTimeoutMs?: number;
  /** `ZMQ_SNDHWM` and `ZMQ_RCVHWM` of both sockets. @defaultValue 1000 */
  readonly highWaterMark?: number;
  /**
   * Honour a request's absolute `deadline` header; false keeps only `remainingMs` (counted from when the broker read
   * the request), for senders whose clocks cannot be trusted.
   * @defaultValue true
   */
  readonly absoluteDeadlines?: boolean;
  /** Called for every event worth a log line. Errors it throws are ignored. */
  readonly onEvent?: (event: RpcBrokerEvent) => void;
  /**
   * The hard limit of the backend, where servers connect (`ZMQ_MAXMSGSIZE`): at least the frontend's
   * `hardMaxMessageBytes` (a smaller value is refused), so that a server's reply to the largest request the frontend
   * lets through never makes the broker cut that server off. The rule on a broker's links: the frontend's hard
   * limit bounds what clients can send; servers connected as workers keep the default hard limit on their links,
   * so a request the broker forwards reaches them and is answered `MESSAGE_TOO_LARGE` by their `maxMessageBytes`;
   * lower a server's `hardMaxMessageBytes` only to a value at least this broker's frontend limit. The backend's
   * `maxFrames` is the frontend's plus the 8 frames of the MDP envelope.
   * @defaultValue the frontend's `hardMaxMessageBytes`
   */
  readonly backendHardMaxMessageBytes?: number;
  /**
   * CURVE on both faces, which are CURVE servers: the broker's keys (`certificate`, or `secretKey`). Who may connect
   * is said per face, in `frontendAllow` and `backendAllow` (both required with `curve`), so that a client allowed on
   * the frontend cannot join the backend and answer other clients' requests. `curve.allow` is refused here.
   * @defaultValue none: plaintext on both faces
   */
  readonly curve?: Omit<CurveOptions, "allow" | "zapDomain" | "serverKey">;
  /** With `curve`: the clients allowed on the frontend (Z85 public keys, `{ dir }` of public certificates, or `"any"`). */
  readonly frontendAllow?: CurveAllow;
  /** With `curve`: the servers (MDP workers) allowed to join the backend. */
  readonly backendAllow?: CurveAllow;
}

/** Options of {@link RpcBroker.waitForServers}. */
export interface WaitForServersOptions extends WaitOptions {
  /** Count only the workers of this service. */
  readonly service?: string;
}

const OWNER = "RpcBroker.bind";

function resolveOptions(options: RpcBrokerOptions) {
  return resolve(OWNER, options, (read) => {
    const defaultService = read.optionalString("defaultService");
    if (defaultService !== undefined) {
      const name = readServiceName(Buffer.from(defaultService, "utf8"));
      if (typeof name !== "string" || name.startsWith(MMI_PREFIX)) {
        throw new InvalidArgumentError(
          `${OWNER}: \`defaultService\` must be a service name (1 to 255 bytes of text, not mmi.*), got ${JSON.stringify(defaultService)}.`,
        );
      }
    }
    const heartbeatMs = read.positiveInt("heartbeatMs", 2_500);
    const frontendLimits = readLimits(read, { derive: false });
    return {
      frontendLimits,
      backendLimits: readBackendLimits(read, frontendLimits),
      codec: read.codec("codec"),
      heartbeatMs,
      liveness: read.positiveInt("liveness", 3),
      strict: read.flag("strict", false),
      defaultService,
      serviceWaitMs: read.nonNegativeMs("serviceWaitMs", 5_000),
      maxQueued: read.positiveInt("maxQueued", 10_000),
      drainTimeoutMs: read.nonNegativeMs("drainTimeoutMs", 5_000),
      highWaterMark: read.positiveInt("highWaterMark", 1000),
      absoluteDeadlines: read.flag("absoluteDeadlines", true),
      onEvent: read.hook<(event: RpcBrokerEvent) => void>("onEvent"),
      frontendCurve: readCurveOptions(read, "curve", { allowKey: "frontendAllow" }),
      backendCurve: readCurveOptions(read, "curve", { allowKey: "backendAllow" }),
      // The timer's period: a quarter of the heartbeat, within 5 to 50 ms, so deadlines and waits are kept closely.
      tickMs: Math.max(5, Math.min(50, Math.floor(heartbeatMs / 4))),
      instrumentation: readInstrumentation(read),
    };
  });
}

type RpcBrokerConfig = ReturnType<typeof resolveOptions>;

function errorCode(err: unknown): unknown {
  return typeof err === "object" && err !== null ? Reflect.get(err, "code") : undefined;
}

/**
 * A Majordomo (MDP 0.1) broker for RPC. Make one with {@link RpcBroker.bind}.
 *
 * Workers register for a service; each service has its own FIFO. A request goes to a worker of its service with
 * free credit (its announced capacity minus its requests in flight: the least loaded, then the least recently used);
 * when none has, it waits, up to `maxQueued` in all. A request for a service nobody serves waits `serviceWaitMs`
 * (never past its deadline) and is then answered `SERVICE_UNAVAILABLE`. A queued request whose deadline passes is
 * answered `DEADLINE_EXCEEDED` and never dispatched.
 *
 * Heartbeats go both ways every `heartbeatMs`; a worker silent for `heartbeatMs × liveness` is evicted. Its requests
 * in flight marked idempotent go to another worker; the others are answered `UNAVAILABLE` (never silently lost).
 * Bodies pass through untouched: the broker reads only the protocol 1.1 headers frame (deadline, idempotency,
 * correlation). It answers the MMI queries `mmi.service` (`200`/`404`) and `mmi.services` (JSON), and `501` for any
 * other `mmi.*` service. Requests without the `MDPC01` frame (v1 clients) go to `defaultService` or the only service.
 *
 * `close()` stops taking new requests, answers queued ones `UNAVAILABLE`, waits up to `drainTimeoutMs` for requests
 * in flight, answers what is left `UNAVAILABLE`, sends every worker DISCONNECT, then closes both sockets.
 *
 * @example
 * ```ts
 * await using broker = await RpcBroker.bind({ frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" });
 * await using server = await RpcServer.connect(broker.backend, Greeter, handlers);
 * await broker.waitForServers(1, { service: Greeter.name });
 * await using client = await RpcClient.connect(broker.frontend, Greeter, { service: Greeter.name });
 * ```
 */
export class RpcBroker extends TwoSided {
  /** Which kind of broker or device this is: always `"rpc"`. */
  readonly kind = "rpc" as const;
  readonly #config: RpcBrokerConfig;
  readonly #core: MdpBroker;
  readonly #front: zmq.Router;
  readonly #back: zmq.Router;
  readonly #frontQueue: SendQueue;
  readonly #backQueue: SendQueue;
  readonly #serverWaiters = new Waiters();
  #loops: Promise<void>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;
  readonly #curve: readonly (CurveGuard | undefined)[];

  private constructor(config: RpcBrokerConfig) {
    super();
    this.#config = config;
    this.#core = new MdpBroker(config, randomBytes(4).readUInt32BE(0));
    const hwm = config.highWaterMark;
    // Mandatory routing and no send timeout: a send to a peer that is gone fails at once (and is reported) instead
    // of blocking the queue.
    const common = { linger: 0, sendHighWaterMark: hwm, receiveHighWaterMark: hwm, mandatory: true, sendTimeout: 0 };
    this.#front = new zmq.Router({ ...common, ...config.frontendLimits.socket, ...curveSocketOptions(config.frontendCurve) });
    this.#back = new zmq.Router({ ...common, ...config.backendLimits.socket, ...curveSocketOptions(config.backendCurve) });
    const failed = (face: "frontend" | "backend") => (failure: { endpoint: string; reason: string }) =>
      callHook(config.onEvent, { type: "handshake-failed", face, ...failure });
    // Each face registers its own ZAP domain: its own allow-list.
    this.#curve = [
      CurveGuard.open(config.frontendCurve, failed("frontend")),
      CurveGuard.open(config.backendCurve, failed("backend")),
    ];
    this.#curve[0]?.watch(this.#front);
    this.#curve[1]?.watch(this.#back);
    watchConnections(this.#front, config.onEvent, { extra: FRONTEND, guardReports: this.#curve[0] !== undefined });
    watchConnections(this.#back, config.onEvent, { extra: BACKEND, guardReports: this.#curve[1] !== undefined });
    this.#frontQueue = new SendQueue(this.#front);
    this.#backQueue = new SendQueue(this.#back);
  }

  /**
   * Binds an MDP broker. Clients connect to `frontend`; workers (`RpcServer.connect`, or any MDP 0.1 worker)
   * connect to `backend`. Options are checked before any socket exists.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; `TypeError`/`RangeError` for bad options.
   */
  static override async bind(endpoints: BrokerEndpoints, options: RpcBrokerOptions = {}): Promise<RpcBroker> {
    const broker = new RpcBroker(resolveOptions(options));
    try {
      await broker.bindBoth(broker.#front, broker.#back, endpoints, OWNER);
    } catch (err) {
      for (const guard of broker.#curve) guard?.release();
      throw err;
    }
    const core = broker.#core;
    const { frontendLimits, backendLimits } = broker.#config;
    broker.#loops = [
      readLoop(
        broker.#front,
        broker.#checked(frontendLimits, "frontend", (frames, now) => core.fromClient(frames, now)),
      ),
      readLoop(
        broker.#back,
        broker.#checked(backendLimits, "backend", (frames, now) => core.fromWorker(frames, now)),
      ),
    ];
    broker.#timer = setInterval(() => broker.#perform(core.tick(Date.now())), broker.#config.tickMs);
    broker.#timer.unref();
    return broker;
  }

  /** A receive path with the frame-count check first: a message over `maxFrames` is dropped (`message:dropped`). */
  #checked(limits: Limits, face: string, handle: (frames: Buffer[], now: number) => readonly BrokerAction[]) {
    return (frames: Buffer[]): void => {
      const over = tooManyFrames(limits, frames, `RpcBroker ${face}`);
      this.#perform(over === undefined ? handle(frames, Date.now()) : this.#core.dropMessage(over));
    };
  }

  /** A snapshot of the counters. */
  get stats(): RpcBrokerStats {
    return this.#core.stats;
  }

  /**
   * Every service the broker knows, with its live workers (name, capacity, requests in flight) and its queue: the
   * same data as the answer to an `mmi.services` query.
   */
  services(): ServiceInfo[] {
    return this.#core.services();
  }

  /**
   * Waits until at least `count` workers (of `options.service`, or of any service) are registered and not leaving.
   * @throws {@link TimeoutError} after `timeoutMs` (default 10 000 ms); {@link AbortedError}; {@link ClosedError}.
   */
  waitForServers(count: number, options: WaitForServersOptions = {}): Promise<void> {
    const { service } = options;
    const what = `RpcBroker.waitForServers(${count}${service === undefined ? "" : `, { service: "${service}" }`})`;
    if (this.closed) return Promise.reject(new ClosedError(`${what} rejected: the broker is closed.`));
    const place = {
      what,
      endpoint: this.backend,
      waitingFor: `workers${service === undefined ? "" : ` of "${service}"`} to connect to ${this.backends.join(", ")}`,
      hint: "Check that the servers use RpcServer.connect() with this backend endpoint and service, or raise { timeoutMs }.",
    };
    const workers = (): number => this.#core.liveWorkers(service);
    return this.#serverWaiters.until(
      () => workers() >= count,
      options,
      place,
      10_000,
      () => ` (${workers()} ready)`,
    );
  }

  /** Carries out what the core decided (one read loop per socket and the timer feed it). */
  #perform(actions: readonly BrokerAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case "to-worker": {
          const { token, frames } = action;
          this.#backQueue.send(frames).catch((err: unknown) => {
            if (this.#back.closed) return;
            const unreachable = errorCode(err) === "EHOSTUNREACH";
            if (token !== undefined) this.#perform(this.#core.dispatchFailed(token, unreachable, Date.now()));
            else if (unreachable && frames[0] !== undefined) {
              this.#perform(this.#core.workerUnreachable(Buffer.from(frames[0]), Date.now()));
            }
          });
          break;
        }
        case "to-client":
          this.#frontQueue.send(action.frames).catch(() => this.#perform(this.#core.replyFailed()));
          break;
        case "event":
          callHook(this.#config.onEvent, action.event);
          break;
      }
    }
    if (actions.length > 0) this.#serverWaiters.check();
    if (this.#core.drained) this.#drained?.();
  }

  /**
   * Stops taking new requests (answered `UNAVAILABLE`), answers queued ones `UNAVAILABLE`, waits up to
   * `drainTimeoutMs` for requests in flight at workers, answers the rest `UNAVAILABLE`, sends DISCONNECT to every
   * worker, then closes both sockets.
   */
  protected override async shutdown(): Promise<void> {
    const drained = signalled();
    this.#drained = drained.resolve;
    this.#perform(this.#core.close());
    if (!this.#core.drained) {
      await settleWithin(drained.promise, this.#config.drainTimeoutMs);
      this.#perform(this.#core.abandon(this.#config.drainTimeoutMs));
    }
    clearInterval(this.#timer);
    this.#perform(this.#core.farewell());
    await settleWithin(Promise.all([this.#frontQueue.idle(), this.#backQueue.idle()]), 1_000);
    this.#front.close();
    this.#back.close();
    for (const guard of this.#curve) guard?.release();
    await Promise.all(this.#loops);
    this.#serverWaiters.rejectAll(new ClosedError("RpcBroker.waitForServers() rejected: the broker was closed."));
  }
}
