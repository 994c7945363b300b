/**
 * @packageDocumentation
 * One MDP 0.1 worker link (rfc.zeromq.org 7/MDP, worker side): the DEALER socket to one broker, the READY that
 * opens it, heartbeats both ways, the broker's liveness, and reconnection with backoff. `RpcServer` in worker mode
 * keeps one link per broker endpoint and only handles the REQUESTs a link hands it.
 *
 * - On open: READY `["", "MDPW01", 0x01, service(, capacity(, "batch"))]` (the capacity frame and the feature frame
 *   are typed-zmq's extensions, left out in strict mode). Every socket gets a new routing id, `${name}-${4 random hex}`, so a broker never confuses
 *   it with the socket it replaced.
 * - A HEARTBEAT goes out every `heartbeatMs` in which nothing else was sent; any message from the broker counts as
 *   life. A broker silent for `heartbeatMs × liveness` is lost: the socket is closed and, after a backoff (100 ms,
 *   doubling up to 5 s, with jitter), a new one connects and sends READY again. A DISCONNECT from the broker does the
 *   same (never a second READY on the same socket: the spec forbids it).
 * - Departure: {@link MdpWorkerLink.leave} sends HEARTBEAT + `"leaving"` and resolves on the broker's echo (typed
 *   brokers) — the caller bounds the wait, since a plain broker never answers. {@link MdpWorkerLink.close} sends
 *   DISCONNECT and closes.
 * @internal
 */
import { randomBytes } from "node:crypto";
import * as zmq from "zeromq";
import { encodeDisconnect, encodeHeartbeat, encodeReady, encodeWorkerReply, parseWorkerCommand } from "../protocol/mdp.js";
import type { ConnectionSocketOptions } from "./connection-options.js";
import type { LimitSocketOptions } from "./limits.js";
import type { CurveGuard, CurveSocketOptions } from "./curve.js";
import { readLoop } from "./read-loop.js";
import { SendQueue } from "./send-queue.js";
import { settleWithin } from "./timing.js";

/** What happened to a link, as the owner reports it (`onEvent`). @internal */
export type WorkerLinkEvent =
  /** The socket's connection to the broker is up (ZMTP handshake done, or a first message heard). */
  | { readonly type: "broker:connected"; readonly endpoint: string; readonly routingId: string }
  /** The broker was silent for `heartbeatMs × liveness`: the socket is dropped and a new one will connect. */
  | { readonly type: "broker:lost"; readonly endpoint: string; readonly silentMs: number }
  /** The broker sent DISCONNECT: the socket is dropped and a new one will connect. */
  | { readonly type: "broker:disconnected"; readonly endpoint: string }
  /** A new socket connects after `delayMs`; `attempt` counts reconnections since the broker was last heard. */
  | { readonly type: "broker:reconnecting"; readonly endpoint: string; readonly attempt: number; readonly delayMs: number };

/** Settings of a link, resolved by the owner. @internal */
export interface WorkerLinkConfig {
  readonly endpoint: string;
  readonly service: string;
  /** Routing id prefix. */
  readonly name: string;
  /** Announced in READY; undefined in strict mode (a plain MDP worker takes one request at a time). */
  readonly capacity: number | undefined;
  /**
   * Announce the `"batch"` feature after the capacity (protocol 1.3, a reliable-pipeline worker that takes several
   * tasks in one REQUEST); ignored in strict mode.
   */
  readonly batch?: boolean;
  readonly heartbeatMs: number;
  readonly liveness: number;
  /** Strict MDP: no capacity frame, no departure extension. */
  readonly strict: boolean;
  readonly lingerMs: number;
  readonly sendHighWaterMark: number;
  readonly receiveHighWaterMark: number;
  /** Heartbeats, reconnection, and the hard limit and backlog (internal/limits.ts), spread into each socket. */
  readonly connection: ConnectionSocketOptions & LimitSocketOptions;
  /** CURVE socket options of every socket of the link (none: plaintext). */
  readonly curve: Partial<CurveSocketOptions>;
  /** Where the link's failed CURVE handshakes are reported (it calls the owner's hook). */
  readonly guard: CurveGuard | undefined;
}

/** What a link hands its owner. @internal */
export interface WorkerLinkHooks {
  /** A REQUEST: `client` is the address frame to echo, `body` the frames after its empty frame. */
  readonly request: (link: MdpWorkerLink, generation: number, client: Buffer, body: Buffer[]) => void;
  readonly event: (event: WorkerLinkEvent) => void;
  /** The broker sent something that is not a worker-side MDP command (reported, ignored). */
  readonly invalid: (reason: string) => void;
  /** A send or receive on the current socket failed, or a new socket could not connect. */
  readonly failed: (err: unknown) => void;
  /**
   * The socket of `generation` was dropped (broker lost, or DISCONNECT): replies to its requests can no longer be
   * sent, and the broker has given up on them.
   */
  readonly replaced: (link: MdpWorkerLink, generation: number) => void;
}

/** Backoff of reconnections: 100 ms doubling to 5 s; each wait is drawn from its upper half (jitter). */
const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 5_000;

/** The wait before reconnection number `attempt` (0-based), with jitter. @internal */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** One socket's life: replaced on every reconnection. */
interface Session {
  readonly socket: zmq.Dealer;
  readonly queue: SendQueue;
  readonly routingId: string;
  readonly generation: number;
  loop: Promise<void>;
  connected: boolean;
}

/** The worker side of MDP 0.1 towards one broker. @internal */
export class MdpWorkerLink {
  readonly #config: WorkerLinkConfig;
  readonly #hooks: WorkerLinkHooks;
  #session: Session | undefined;
  #generation = 0;
  #lastSent = 0;
  #lastHeard = 0;
  #attempt = 0;
  #tick: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #closing = false;
  #leftAck: (() => void) | undefined;
  #heartbeat: Buffer[];
  #ipv6 = false;
  #left = false;
  /** Sockets whose handshake completed before their session existed. */
  readonly #handshaken = new WeakSet<zmq.Dealer>();

  constructor(config: WorkerLinkConfig, hooks: WorkerLinkHooks) {
    this.#config = config;
    this.#hooks = hooks;
    this.#heartbeat = encodeHeartbeat();
  }

  /** The broker endpoint. */
  get endpoint(): string {
    return this.#config.endpoint;
  }

  /** The current socket's routing id (empty once closed). */
  get routingId(): string {
    return this.#session?.routingId ?? "";
  }

  /**
   * True once the broker acknowledged this worker's departure (set in the same turn as the acknowledgement is read,
   * so a REQUEST read after it is seen as coming after it).
   */
  get left(): boolean {
    return this.#left;
  }

  /** True while the current socket has heard from (or completed a handshake with) the broker. */
  get connected(): boolean {
    return this.#session?.connected === true;
  }

  /**
   * Opens the first socket: `attach` validates and connects it (it throws for a bad endpoint and closes the socket),
   * then READY is sent. Later sockets are opened by reconnection, to the same endpoint.
   */
  async open(attach: (socket: zmq.Dealer) => Promise<void>): Promise<void> {
    const socket = this.#newSocket();
    await attach(socket);
    this.#ipv6 = socket.ipv6;
    this.#start(socket);
    this.#schedule();
  }

  /**
   * Sends a REPLY with `payload` (`[status, body, headers?]`) to the broker that sent the REQUEST, if the socket it
   * came on is still the current one; the promise is the send's. Undefined when it is not: that broker has forgotten
   * this socket, so the reply cannot be delivered.
   */
  reply(generation: number, client: Buffer, payload: Uint8Array[]): Promise<boolean> | undefined {
    const session = this.#session;
    if (session === undefined || session.generation !== generation) return undefined;
    this.#lastSent = Date.now();
    return session.queue.send(encodeWorkerReply(client, payload));
  }

  /**
   * Asks the broker for no new work (HEARTBEAT + `"leaving"`). Resolves when the broker echoes it (every REQUEST
   * sent before has arrived), at once in strict mode, or when the socket is lost; the caller bounds the wait, since
   * a plain MDP broker never answers.
   */
  leave(): Promise<void> {
    this.#closing = true;
    this.#cancelReconnect();
    const session = this.#session;
    if (this.#config.strict || session === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#leftAck = resolve;
      this.#send(session, encodeHeartbeat(true));
    });
  }

  /** Sends DISCONNECT, waits up to `lingerMs` for it to leave, and closes the socket. Stops every timer. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#cancelReconnect();
    if (this.#tick !== undefined) clearTimeout(this.#tick);
    this.#tick = undefined;
    const session = this.#session;
    this.#session = undefined;
    this.#leftAck?.();
    if (session === undefined) return;
    this.#send(session, encodeDisconnect());
    await settleWithin(session.queue.idle(), this.#config.lingerMs);
    await this.#drop(session, this.#config.lingerMs);
  }

  #newSocket(): zmq.Dealer {
    const config = this.#config;
    const socket = new zmq.Dealer({
      routingId: `${config.name}-${randomBytes(2).toString("hex")}`,
      linger: config.lingerMs,
      sendHighWaterMark: config.sendHighWaterMark,
      receiveHighWaterMark: config.receiveHighWaterMark,
      ...config.connection,
      ...config.curve,
    });
    // Watched before it connects, so that a fast handshake is not missed.
    socket.events.on("handshake", () => {
      const session = this.#session;
      if (session?.socket === socket) this.#up(session);
      else this.#handshaken.add(socket);
    });
    config.guard?.watch(socket, config.endpoint);
    return socket;
  }

  /** A reconnection: a new socket (a new routing id) to the endpoint the first one validated. */
  #connect(): void {
    const socket = this.#newSocket();
    try {
      socket.ipv6 = this.#ipv6;
      socket.connect(this.#config.endpoint);
    } catch (err) {
      socket.linger = 0;
      socket.close();
      throw err;
    }
    this.#start(socket);
  }

  #start(socket: zmq.Dealer): void {
    const config = this.#config;
    const session: Session = {
      socket,
      queue: new SendQueue(socket),
      routingId: socket.routingId ?? "",
      generation: ++this.#generation,
      loop: Promise.resolve(),
      connected: false,
    };
    this.#session = session;
    this.#lastHeard = Date.now();
    if (this.#handshaken.delete(socket)) this.#up(session);
    session.loop = readLoop(socket, (frames) => this.#receive(session, frames), {
      onError: (err) => this.#hooks.failed(err),
    });
    this.#send(session, encodeReady(config.service, config.strict ? undefined : config.capacity, config.batch === true));
  }

  #up(session: Session): void {
    if (session.connected || session !== this.#session) return;
    session.connected = true;
    this.#hooks.event({ type: "broker:connected", endpoint: this.#config.endpoint, routingId: session.routingId });
  }

  #receive(session: Session, frames: Buffer[]): void {
    if (session !== this.#session) return;
    this.#lastHeard = Date.now();
    this.#attempt = 0;
    this.#up(session);
    const command = parseWorkerCommand(frames, this.#config.strict);
    switch (command.kind) {
      case "request":
        this.#hooks.request(this, session.generation, command.client, command.body);
        return;
      case "heartbeat":
        if (command.leaving && this.#leftAck !== undefined) {
          this.#left = true;
          const ack = this.#leftAck;
          this.#leftAck = undefined;
          ack();
        }
        return;
      case "disconnect":
        this.#hooks.event({ type: "broker:disconnected", endpoint: this.#config.endpoint });
        this.#replace(session);
        return;
      case "ready":
      case "reply":
        this.#hooks.invalid(
          `the broker at ${this.#config.endpoint} sent a ${command.kind.toUpperCase()}, which only workers send`,
        );
        return;
      case "invalid":
        this.#hooks.invalid(`the broker at ${this.#config.endpoint} sent an invalid MDP/Worker command: ${command.reason}`);
        return;
    }
  }

  #send(session: Session, frames: Uint8Array[]): void {
    this.#lastSent = Date.now();
    session.queue.send(frames).catch((err: unknown) => {
      if (session === this.#session) this.#hooks.failed(err);
    });
  }

  /** The one timer: heartbeats out, liveness in. Re-armed for whichever is due first. */
  #schedule(): void {
    if (this.#closing && this.#session === undefined) return;
    const { heartbeatMs, liveness } = this.#config;
    const now = Date.now();
    const due = Math.min(this.#lastSent + heartbeatMs, this.#lastHeard + heartbeatMs * liveness);
    this.#tick = setTimeout(() => this.#onTick(), Math.max(1, due - now));
  }

  #onTick(): void {
    this.#tick = undefined;
    const session = this.#session;
    if (session === undefined) {
      if (!this.#closing) this.#schedule();
      return;
    }
    const { heartbeatMs, liveness } = this.#config;
    const now = Date.now();
    const silentMs = now - this.#lastHeard;
    if (silentMs >= heartbeatMs * liveness && !this.#closing) {
      if (session.connected) this.#hooks.event({ type: "broker:lost", endpoint: this.#config.endpoint, silentMs });
      this.#replace(session);
      return;
    }
    if (now - this.#lastSent >= heartbeatMs) this.#send(session, this.#heartbeat);
    this.#schedule();
  }

  /** Drops `session` and, unless closing, opens a new socket after the backoff. */
  #replace(session: Session): void {
    if (session !== this.#session) return;
    this.#session = undefined;
    this.#hooks.replaced(this, session.generation);
    this.#leftAck?.();
    this.#leftAck = undefined;
    if (this.#tick !== undefined) clearTimeout(this.#tick);
    this.#tick = undefined;
    void this.#drop(session, 0);
    this.#reopenLater();
  }

  /** Opens a new socket after the backoff, unless closing. */
  #reopenLater(): void {
    if (this.#closing) return;
    const delayMs = reconnectDelay(this.#attempt);
    this.#attempt++;
    this.#hooks.event({ type: "broker:reconnecting", endpoint: this.#config.endpoint, attempt: this.#attempt, delayMs });
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      if (this.#closing) return;
      try {
        this.#connect();
      } catch (err) {
        this.#hooks.failed(err);
        this.#reopenLater();
        return;
      }
      this.#schedule();
    }, delayMs);
  }

  #cancelReconnect(): void {
    if (this.#reconnect !== undefined) clearTimeout(this.#reconnect);
    this.#reconnect = undefined;
  }

  async #drop(session: Session, lingerMs: number): Promise<void> {
    session.socket.linger = lingerMs;
    session.socket.close();
    await session.loop;
  }
}
