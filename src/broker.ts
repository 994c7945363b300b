/**
 * @packageDocumentation
 * `Broker`: a device between many peers and many peers, for the three patterns, passing frames through unchanged.
 *
 * - RPC queue: clients connect to a ROUTER frontend; `RpcServer`s connect (with `RpcServer.connect`) to a ROUTER
 *   backend. The backend greets each server (ZMQ_PROBE_ROUTER), the server answers with its capacity, and the broker
 *   only sends a server as many requests as it can run at once: a busy server gets no new work, a gone one none at all.
 * - Pub-sub forwarder: XSUB frontend for publishers, XPUB backend for subscribers; subscriptions flow upstream.
 * - Pipeline streamer: PULL frontend for sources, PUSH backend for workers.
 *
 * Depends on zeromq, `codec.ts`, `endpoint.ts`, `errors.ts`, `lifecycle.ts`, `signal.ts` and `internal/`.
 */
import * as zmq from "zeromq";
import { checkCodec, jsonCodec, type Codec } from "./codec.js";
import { attachEndpoints } from "./endpoint.js";
import { ClosedError, ErrorCode, type RpcErrorBody } from "./errors.js";
import { InvalidArgumentError } from "./errors/index.js";
import { callHook } from "./internal/hooks.js";
import { checkNonNegative, checkPositiveInt } from "./internal/options.js";
import { SendQueue } from "./internal/send-queue.js";
import { Waiters } from "./internal/waiters.js";
import { settleWithin, signalled } from "./internal/timing.js";
import { READY_FRAME, STATUS_ERROR, STATUS_ERROR_FRAME, STATUS_READY, delimiterIndex } from "./internal/wire.js";
import { Closable } from "./lifecycle.js";
import type { WaitOptions } from "./signal.js";

/** Which pattern a {@link Broker} serves. */
export type BrokerKind = "rpc" | "pubsub" | "pipeline";

/** Where a broker listens: the frontend faces clients/publishers/sources, the backend servers/subscribers/workers. */
export interface BrokerEndpoints {
  /** Bound for clients (rpc), publishers (pubsub) or sources (pipeline). */
  readonly frontend: string | readonly string[];
  /** Bound for servers (rpc), subscribers (pubsub) or workers (pipeline). */
  readonly backend: string | readonly string[];
}

/** Something a broker did, as reported to `onEvent`. */
export type BrokerEvent =
  | { readonly type: "server:ready"; readonly server: string; readonly capacity: number }
  | { readonly type: "server:gone"; readonly server: string; readonly lost: number }
  | { readonly type: "request:rejected"; readonly reason: string }
  | { readonly type: "message:dropped"; readonly reason: string };

/** Counters of a {@link Broker}. */
export interface BrokerStats {
  /** Messages passed from frontend to backend (requests, publications, tasks). */
  readonly forwarded: number;
  /** Messages passed from backend to frontend (rpc replies; pubsub subscriptions). */
  readonly returned: number;
  /** Requests waiting for a server with free capacity (rpc). */
  readonly queued: number;
  /** Servers that announced themselves and are not known to be gone (rpc). */
  readonly servers: number;
  /** Requests in flight at servers (rpc). */
  readonly inFlight: number;
  /** Requests answered `UNAVAILABLE` by the broker itself (queue full, or closing). */
  readonly rejected: number;
  /** Messages that could not be passed on (malformed, or the peer was gone). */
  readonly dropped: number;
}

/** Options of the {@link Broker} factories. */
export interface BrokerOptions {
  /**
   * Codec of the error replies the broker itself sends (rpc), which must match the clients'.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Requests held while every server is busy (rpc). Beyond it, requests are answered `UNAVAILABLE`.
   * @defaultValue 10000
   */
  readonly maxQueued?: number;
  /**
   * How long `close()` waits for requests in flight at servers to be answered (rpc).
   * @defaultValue 5000
   */
  readonly drainTimeoutMs?: number;
  /** `ZMQ_SNDHWM` and `ZMQ_RCVHWM` of both sockets. @defaultValue 1000 */
  readonly highWaterMark?: number;
  /** Called for every event worth a log line. Errors it throws are ignored. */
  readonly onEvent?: (event: BrokerEvent) => void;
}

interface Server {
  readonly id: Buffer;
  readonly name: string;
  capacity: number;
  /** Requests sent to this server and not answered yet, by envelope. */
  readonly requests: Map<string, Buffer[]>;
  /** Dispatch count when it last got a request: among equally busy servers, the least recently used goes first. */
  lastUsed: number;
  /** The server said it is leaving (capacity 0): no new work; forgotten once its requests are answered. */
  leaving: boolean;
  /** A send to it found its queue full: no new work until it answers something. */
  stalled: boolean;
}

/** A request's envelope (the frames before the delimiter) as a map key. */
function envelopeKey(frames: readonly Buffer[], from: number, to: number): string {
  let key = "";
  for (let i = from; i < to; i++) key += `${frames[i]?.toString("hex") ?? ""}.`;
  return key;
}

function errorCode(err: unknown): unknown {
  return typeof err === "object" && err !== null ? Reflect.get(err, "code") : undefined;
}

/**
 * A broker for one pattern. Make one with {@link Broker.rpc}, {@link Broker.pubsub} or {@link Broker.pipeline}.
 *
 * Frames pass through unchanged, so typed and plain peers mix freely. `close()` stops taking new work, waits up to
 * `drainTimeoutMs` for requests in flight (rpc), answers what is left `UNAVAILABLE`, then closes both sockets.
 *
 * @example
 * await using broker = await Broker.rpc({ frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" });
 * await using server = await RpcServer.connect(broker.backend, Greeter, handlers);
 * await using client = await RpcClient.connect(broker.frontend, Greeter);
 */
export class Broker extends Closable {
  /** The pattern this broker serves. */
  readonly kind: BrokerKind;
  /** Frontend socket: read requests, publications or tasks. */
  readonly #front: zmq.Socket & zmq.Readable;
  /** Backend socket: write them on. */
  readonly #back: zmq.Socket & zmq.Writable;
  /** The backend as a readable socket (replies, subscriptions); undefined for a pipeline streamer. */
  readonly #backIn: (zmq.Socket & zmq.Readable) | undefined;
  /** Sends on the frontend (replies, subscriptions); undefined for a pipeline streamer. */
  readonly #frontQueue: SendQueue | undefined;
  readonly #backQueue: SendQueue;
  readonly #codec: Codec;
  readonly #maxQueued: number;
  readonly #drainTimeoutMs: number;
  readonly #onEvent: ((event: BrokerEvent) => void) | undefined;
  readonly #frontends: string[] = [];
  readonly #backends: string[] = [];
  readonly #servers = new Map<string, Server>();
  #queue: Buffer[][] = [];
  #loops: Promise<void>[] = [];
  #closing = false;
  readonly #serverWaiters = new Waiters();
  #drained: (() => void) | undefined;
  #forwarded = 0;
  #dispatches = 0;
  #returned = 0;
  #rejected = 0;
  #dropped = 0;

  private constructor(kind: BrokerKind, options: BrokerOptions, owner: string) {
    super();
    this.kind = kind;
    this.#codec = options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec");
    this.#maxQueued = checkPositiveInt(options.maxQueued, 10_000, "maxQueued", owner);
    this.#drainTimeoutMs = checkNonNegative(options.drainTimeoutMs, 5_000, "drainTimeoutMs", owner);
    this.#onEvent = options.onEvent;
    const hwm = checkPositiveInt(options.highWaterMark, 1000, "highWaterMark", owner);
    const common = { linger: 0, sendHighWaterMark: hwm, receiveHighWaterMark: hwm };
    if (kind === "pipeline") {
      this.#front = new zmq.Pull({ linger: 0, receiveHighWaterMark: hwm });
      this.#back = new zmq.Push({ linger: 0, sendHighWaterMark: hwm });
      this.#backIn = undefined;
      this.#frontQueue = undefined;
    } else {
      const [front, back] =
        kind === "rpc"
          ? // Replies and requests to a peer that is gone fail at once (and are counted) instead of blocking.
            [
              new zmq.Router({ ...common, mandatory: true, sendTimeout: 0 }),
              new zmq.Router({ ...common, mandatory: true, sendTimeout: 0, probeRouter: true }),
            ]
          : [new zmq.XSubscriber(common), new zmq.XPublisher({ ...common, verbosity: "allSubsUnsubs" })];
      this.#front = front;
      this.#back = back;
      this.#backIn = back;
      this.#frontQueue = new SendQueue(front);
    }
    this.#backQueue = new SendQueue(this.#back);
  }

  /**
   * An RPC queue: `RpcClient`s (or REQ/DEALER peers) connect to `frontend`; `RpcServer`s connect to `backend` with
   * `RpcServer.connect`. Each request goes to the least busy server that has a free slot; when none has, it waits
   * in the broker (up to `maxQueued`). Replies find their way back by the envelope.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; `TypeError`/`RangeError` for bad options.
   */
  static async rpc(endpoints: BrokerEndpoints, options: BrokerOptions = {}): Promise<Broker> {
    return new Broker("rpc", options, "Broker.rpc").#open(endpoints, "Broker.rpc");
  }

  /**
   * A pub-sub forwarder: `Publisher`s connect to `frontend` (XSUB), `Subscriber`s to `backend` (XPUB).
   * Subscriptions flow upstream to the publishers, so filtering still happens at the publishers.
   */
  static async pubsub(endpoints: BrokerEndpoints, options: BrokerOptions = {}): Promise<Broker> {
    return new Broker("pubsub", options, "Broker.pubsub").#open(endpoints, "Broker.pubsub");
  }

  /** A pipeline streamer: `PipelineSource`s connect to `frontend` (PULL), `PipelineWorker`s to `backend` (PUSH). */
  static async pipeline(endpoints: BrokerEndpoints, options: BrokerOptions = {}): Promise<Broker> {
    return new Broker("pipeline", options, "Broker.pipeline").#open(endpoints, "Broker.pipeline");
  }

  async #open(endpoints: BrokerEndpoints, owner: string): Promise<Broker> {
    const use = { owner, multicast: false };
    try {
      this.#frontends.push(...(await attachEndpoints(this.#front, endpoints.frontend, "bind", use)));
      this.#backends.push(...(await attachEndpoints(this.#back, endpoints.backend, "bind", use)));
    } catch (err) {
      this.#front.close();
      this.#back.close();
      throw err;
    }
    this.#loops =
      this.kind === "rpc"
        ? [this.#readRequests(), this.#readReplies()]
        : [this.#pump(this.#front, this.#backQueue, "forward")];
    if (this.kind === "pubsub" && this.#backIn !== undefined && this.#frontQueue !== undefined) {
      this.#loops.push(this.#pump(this.#backIn, this.#frontQueue, "return"));
    }
    return this;
  }

  /** The first frontend endpoint, with the real port or path. */
  get frontend(): string {
    return this.#frontends[0] ?? "";
  }

  /** The first backend endpoint, with the real port or path. */
  get backend(): string {
    return this.#backends[0] ?? "";
  }

  /** Every frontend endpoint. */
  get frontends(): readonly string[] {
    return [...this.#frontends];
  }

  /** Every backend endpoint. */
  get backends(): readonly string[] {
    return [...this.#backends];
  }

  /** A snapshot of the counters. */
  get stats(): BrokerStats {
    let inFlight = 0;
    for (const s of this.#servers.values()) inFlight += s.requests.size;
    return {
      forwarded: this.#forwarded,
      returned: this.#returned,
      queued: this.#queue.length,
      servers: this.#servers.size,
      inFlight,
      rejected: this.#rejected,
      dropped: this.#dropped,
    };
  }

  /**
   * Waits until at least `count` servers have announced themselves to an RPC broker.
   * @throws {@link TimeoutError} after `timeoutMs` (default 10 000 ms); {@link AbortedError}; {@link ClosedError};
   *   `TypeError` on a pubsub or pipeline broker.
   */
  waitForServers(count: number, options: WaitOptions = {}): Promise<void> {
    const what = `Broker.waitForServers(${count})`;
    if (this.kind !== "rpc") return Promise.reject(new InvalidArgumentError(`${what}: only an RPC broker has servers; this one is ${this.kind}.`));
    if (this.closed) return Promise.reject(new ClosedError(`${what} rejected: the broker is closed.`));
    const place = {
      what,
      endpoint: this.backend,
      waitingFor: `servers to connect to ${this.#backends.join(", ")}`,
      hint: "Check that the servers use RpcServer.connect() with this backend endpoint, or raise { timeoutMs }.",
    };
    return this.#serverWaiters.until(() => this.#servers.size >= count, options, place, 10_000, () => ` (${this.#servers.size} ready)`);
  }


  #event(event: BrokerEvent): void {
    callHook(this.#onEvent, event);
  }

  // -- pubsub and pipeline: a plain pump in each direction -------------------------------------------------------

  async #pump(from: zmq.Readable & zmq.Socket, to: SendQueue, direction: "forward" | "return"): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await from.receive();
      } catch {
        return; // closed
      }
      if (direction === "forward") this.#forwarded++;
      else this.#returned++;
      // Awaiting the send is the backpressure: a streamer with no worker stops reading, so sources wait.
      await to.send(frames).catch(() => {
        this.#dropped++;
        this.#event({ type: "message:dropped", reason: "the socket closed before the message was passed on" });
      });
    }
  }

  // -- rpc: a queue with per-server capacity ----------------------------------------------------------------------

  async #readRequests(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.#front.receive();
      } catch {
        return;
      }
      const d = delimiterIndex(frames);
      if (d < 1) {
        this.#dropped++;
        this.#event({ type: "message:dropped", reason: `a ${frames.length}-frame request with no envelope delimiter` });
        continue;
      }
      if (this.#closing) {
        this.#reject(frames, d, "the broker is shutting down and takes no new requests. Retry later.");
        continue;
      }
      if (this.#queue.length >= this.#maxQueued) {
        this.#reject(frames, d, `every server is busy and ${this.#maxQueued} requests already wait at the broker (maxQueued). Retry later.`);
        continue;
      }
      this.#queue.push(frames);
      this.#dispatch();
    }
  }

  #reject(frames: Buffer[], d: number, why: string): void {
    this.#rejected++;
    this.#event({ type: "request:rejected", reason: why });
    const body: RpcErrorBody = { code: ErrorCode.UNAVAILABLE, message: `Broker: ${why}` };
    this.#frontQueue?.send([...frames.slice(0, d + 1), STATUS_ERROR_FRAME, this.#codec.encode(body)]).catch(() => {
      this.#dropped++;
    });
  }

  /** Sends queued requests to the least busy servers with a free slot. */
  #dispatch(): void {
    while (this.#queue.length > 0) {
      let best: Server | undefined;
      for (const s of this.#servers.values()) {
        if (s.leaving || s.stalled || s.requests.size >= s.capacity) continue;
        const load = s.requests.size / s.capacity;
        const bestLoad = best === undefined ? Infinity : best.requests.size / best.capacity;
        if (best === undefined || load < bestLoad || (load === bestLoad && s.lastUsed < best.lastUsed)) best = s;
      }
      if (best === undefined) return;
      const frames = this.#queue.shift()!;
      const server = best;
      const key = envelopeKey(frames, 0, delimiterIndex(frames));
      server.requests.set(key, frames);
      server.lastUsed = ++this.#dispatches;
      this.#forwarded++;
      this.#backQueue.send([server.id, ...frames]).catch((err: unknown) => {
        server.requests.delete(key);
        this.#forwarded--;
        if (errorCode(err) === "EHOSTUNREACH") this.#forget(server);
        else server.stalled = true; // its queue is full (EAGAIN): wait for one of its replies
        if (this.#closing) {
          this.#reject(frames, delimiterIndex(frames), "the broker closed before a server took the request.");
          return;
        }
        this.#queue.unshift(frames); // try another server
        this.#dispatch();
      });
    }
  }

  /** Drops a server that is gone; its unanswered requests are answered `UNAVAILABLE` (they may or may not have run). */
  #forget(server: Server): void {
    if (!this.#servers.delete(server.name)) return;
    const lost = [...server.requests.values()];
    server.requests.clear();
    this.#event({ type: "server:gone", server: server.name, lost: lost.length });
    for (const frames of lost) {
      this.#reject(frames, delimiterIndex(frames), "the server handling the request went away before answering; it may or may not have run. Retry if that is safe.");
    }
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#closing && this.stats.inFlight === 0) this.#drained?.();
  }

  /** True when an error reply from a server says `UNAVAILABLE` (it is shutting down): the request can go elsewhere. */
  #isUnavailable(frames: readonly Buffer[], d: number): boolean {
    if (frames.length !== d + 3 || frames[d + 1]?.toString("utf8") !== STATUS_ERROR) return false;
    try {
      const body: unknown = this.#codec.decode(frames[d + 2]!);
      return typeof body === "object" && body !== null && Reflect.get(body, "code") === ErrorCode.UNAVAILABLE;
    } catch {
      return false;
    }
  }

  async #readReplies(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        if (this.#backIn === undefined) return;
        frames = await this.#backIn.receive();
      } catch {
        return;
      }
      const id = frames[0]!;
      const name = id.toString("hex");
      const server = this.#servers.get(name);
      if (frames.length === 2 && frames[1]?.length === 0) {
        // A server's greeting (ZMQ_PROBE_ROUTER): greet back; it answers with "ready" and its capacity.
        void this.#backQueue.send([id, Buffer.alloc(0)]).catch(() => undefined);
        continue;
      }
      if (frames.length === 1) continue;
      if (frames[1]?.length === 0) {
        this.#control(id, name, server, frames);
        continue;
      }
      const d = delimiterIndex(frames);
      if (server !== undefined) {
        server.stalled = false;
        const key = envelopeKey(frames, 1, d < 0 ? frames.length : d);
        const request = server.requests.get(key);
        server.requests.delete(key);
        if (request !== undefined && d > 0 && this.#isUnavailable(frames, d) && !this.#closing) {
          // The server is shutting down and did not run it: send it to another server instead.
          server.leaving = true;
          this.#queue.unshift(request);
          this.#dispatch();
          this.#maybeForgetLeaving(server);
          continue;
        }
        this.#maybeForgetLeaving(server);
      }
      this.#returned++;
      this.#frontQueue?.send(frames.slice(1)).catch(() => {
        this.#dropped++;
        this.#event({ type: "message:dropped", reason: "a reply for a client that is gone" });
      });
      this.#checkDrained();
      this.#dispatch();
    }
  }

  /** `[server, "", "ready", capacity]`: a server announcing itself, or leaving (capacity 0). */
  #control(id: Buffer, name: string, server: Server | undefined, frames: Buffer[]): void {
    if (frames[2]?.toString("utf8") !== STATUS_READY) {
      this.#dropped++;
      this.#event({ type: "message:dropped", reason: "a backend message with an empty envelope that is not a ready announcement" });
      return;
    }
    const capacity = Number.parseInt(frames[3]?.toString("utf8") ?? "1", 10);
    if (capacity === 0) {
      // Leaving: acknowledge (everything sent before this ack reaches the server first), and send no more work.
      void this.#backQueue.send([id, Buffer.alloc(0), READY_FRAME, Buffer.from("0")]).catch(() => undefined);
      if (server !== undefined) {
        server.leaving = true;
        this.#maybeForgetLeaving(server);
      }
      return;
    }
    const slots = Number.isInteger(capacity) && capacity > 0 ? capacity : 1;
    if (server !== undefined) {
      server.capacity = slots; // a repeated greeting: nothing new to report
    } else {
      this.#servers.set(name, { id, name, capacity: slots, requests: new Map(), lastUsed: 0, leaving: false, stalled: false });
      this.#event({ type: "server:ready", server: name, capacity: slots });
      this.#serverWaiters.check();
    }
    this.#dispatch();
  }

  #maybeForgetLeaving(server: Server): void {
    if (server.leaving && server.requests.size === 0) this.#forget(server);
  }

  /**
   * Stops taking new requests (answered `UNAVAILABLE`), answers queued ones `UNAVAILABLE`, waits up to
   * `drainTimeoutMs` for requests in flight at servers, then closes both sockets. Idempotent.
   */
  protected override async shutdown(): Promise<void> {
    this.#closing = true;
    const queued = this.#queue;
    this.#queue = [];
    for (const frames of queued) this.#reject(frames, delimiterIndex(frames), "the broker closed before a server took the request.");
    if (this.kind === "rpc" && this.stats.inFlight > 0) {
      const drained = signalled();
      this.#drained = drained.resolve;
      await settleWithin(drained.promise, this.#drainTimeoutMs);
      for (const server of this.#servers.values()) {
        for (const frames of server.requests.values()) {
          this.#reject(frames, delimiterIndex(frames), `the broker closed before the server answered (drainTimeoutMs ${this.#drainTimeoutMs}).`);
        }
        server.requests.clear();
      }
    }
    await settleWithin(Promise.all([this.#frontQueue?.idle(), this.#backQueue.idle()]), 1_000);
    this.#front.close();
    this.#back.close();
    await Promise.all(this.#loops);
    this.#serverWaiters.rejectAll(new ClosedError("Broker.waitForServers() rejected: the broker was closed."));
  }
}
