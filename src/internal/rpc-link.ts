/**
 * @packageDocumentation
 * One link of an `RpcClient`: a DEALER socket connected to one endpoint, its read loop, its send queue, and its
 * liveness, read from the socket's monitor events (zeromq.js `socket.events`):
 * - `handshake` makes the link live; `disconnect` ends that (the ZMTP heartbeats of connection-options.ts turn a
 *   silent or frozen peer into a disconnect);
 * - `connect:retry` is a reconnection attempt: preceded by `connect:delay` or `close` (a connect that failed), the
 *   endpoint refused; with neither, libzmq could not even start one (an unresolvable host name);
 * - `handshake:error:*`, or a `disconnect` after `connect` with no `handshake` between (libzmq drops a peer of an
 *   incompatible socket type that way), is a failed handshake.
 *
 * inproc has no wire and no monitor events: an inproc link is live from the start.
 *
 * Why not `ZMQ_IMMEDIATE`: its purpose, that no call queues on the pipe of a server that is not connected, is met by
 * sending only on live links (one socket per endpoint). And it costs replies: with it, libzmq terminates the pipe
 * at once when the connection drops, discarding the messages that had arrived and were not read yet, so the
 * replies a server sends just before it closes are lost (measured here with libzmq 4.3.5: a ROUTER that replies and
 * closes, 1 to 5 replies of 10 reached an immediate DEALER, 10 of 10 without it). A message sent in the short
 * window before a disconnect is seen stays in the pipe and goes out on reconnection: its deadline header keeps a
 * server from starting it late.
 * @internal
 */
import * as zmq from "zeromq";
import type { EndpointState, EndpointStatus } from "../errors/index.js";
import { readLoop } from "./read-loop.js";
import { SendQueue } from "./send-queue.js";
import { CLOSED_DURING_HANDSHAKE, handshakeFailureReason } from "./socket-events.js";

/** What a link reports to its owner. Every callback runs on the event loop, never inside a send or receive. */
export interface LinkListener {
  /** A message arrived on the link. */
  readonly message: (link: RpcLink, frames: Buffer[]) => void;
  /** The link became live (handshake done). */
  readonly live: (link: RpcLink) => void;
  /** The link was live and its connection was lost: send nothing more on it. */
  readonly lost: (link: RpcLink) => void;
  /**
   * After {@link LinkListener.lost}: every message that had arrived on connection number `connection` has been read,
   * so calls still waiting for a reply from it will get none.
   */
  readonly drained: (link: RpcLink, connection: number) => void;
  /** libzmq is trying to (re)connect; `attempt` counts the tries since the link was last live. */
  readonly retrying: (link: RpcLink, attempt: number) => void;
  /** A peer accepted the connection and the handshake failed. */
  readonly handshakeFailed: (link: RpcLink, reason: string) => void;
}

/** The zeromq.js options of a link's DEALER socket. */
export type LinkSocketOptions = zmq.SocketOptions<zmq.Dealer>;

/** Event-loop turns a lost link waits for the messages it already received to be read. */
const DRAIN_ROUNDS = 1_000;

/** One DEALER connected to one endpoint. */
export class RpcLink {
  /** The endpoint, as given to connect. */
  readonly endpoint: string;
  /** The socket: attach it (connect) through the owner, which records the endpoint. */
  readonly socket: zmq.Dealer;
  readonly #queue: SendQueue;
  readonly #listener: LinkListener;
  readonly #inproc: boolean;
  #live = false;
  #connection = 0;
  #state: EndpointState = "nothing";
  #reason = "";
  /** Connection attempts since the link was last live. */
  #retries = 0;
  /** A TCP/IPC connection is up, and no handshake has completed on it yet. */
  #connecting = false;
  /** Since the last `connect:retry`, libzmq started a connect (`connect:delay`) or closed a failed one (`close`). */
  #triedConnect = false;
  #readLoop: Promise<void> = Promise.resolve();
  readonly #eventLoop: Promise<void>;

  /** Creates the socket and starts watching its events (before it connects, so that no event is missed). */
  constructor(endpoint: string, options: LinkSocketOptions, listener: LinkListener) {
    this.endpoint = endpoint;
    this.#listener = listener;
    this.#inproc = endpoint.startsWith("inproc://");
    this.socket = new zmq.Dealer(options);
    this.#queue = new SendQueue(this.socket);
    this.#eventLoop = this.#inproc ? Promise.resolve() : this.#watch();
  }

  /** True while the link is connected and its handshake is done: calls may be sent on it. */
  get live(): boolean {
    return this.#live;
  }

  /** Counts the connections that went live: a call sent on one is lost with it, not with a later one. */
  get connection(): number {
    return this.#connection;
  }

  /** What was last seen of the endpoint, for a {@link NoServerError}. */
  get status(): EndpointStatus {
    return { endpoint: this.endpoint, state: this.#state, detail: this.#detail() };
  }

  /** Starts reading, once the socket is connected. An inproc link is live from here. */
  start(): void {
    this.#readLoop = readLoop(this.socket, (frames) => this.#listener.message(this, frames));
    if (this.#inproc) this.#becomeLive();
  }

  /** Queues a message on the link's socket; resolves once libzmq took it, rejects with the zeromq error. */
  send(frames: Uint8Array[]): Promise<boolean> {
    return this.#queue.send(frames);
  }

  /** Closes the socket and waits for its loops to end. */
  async close(): Promise<void> {
    this.#live = false;
    this.socket.close();
    await Promise.all([this.#readLoop, this.#eventLoop]);
  }

  async #watch(): Promise<void> {
    try {
      for await (const event of this.socket.events) this.#onEvent(event);
    } catch {
      // The observer ends (or fails) when the socket closes: nothing more to watch.
    }
  }

  #onEvent(event: zmq.Event): void {
    switch (event.type) {
      case "connect:delay":
      case "close":
        this.#triedConnect = true;
        return;
      case "connect":
        this.#connecting = true;
        return;
      case "handshake":
        this.#connecting = false;
        this.#becomeLive();
        return;
      case "handshake:error:protocol":
      case "handshake:error:auth":
      case "handshake:error:other":
        this.#connecting = false;
        this.#handshakeFailed(handshakeFailureReason(event));
        return;
      case "disconnect":
        this.#onDisconnect();
        return;
      case "connect:retry":
        this.#onRetry();
        return;
      default:
        return;
    }
  }

  #becomeLive(): void {
    this.#live = true;
    this.#connection++;
    this.#state = "connected";
    this.#retries = 0;
    this.#listener.live(this);
  }

  #onDisconnect(): void {
    if (this.#live) {
      this.#live = false;
      this.#state = "lost";
      this.#listener.lost(this);
      this.#afterDrain(this.#connection);
    } else if (this.#connecting && this.#state !== "handshake-failed") {
      this.#handshakeFailed(CLOSED_DURING_HANDSHAKE);
    }
    this.#connecting = false;
  }

  /**
   * Monitor events travel apart from messages: the replies a server sent just before it closed may still wait in
   * the socket when `disconnect` is seen. Let the read loop take them first (bounded), then report the rest lost.
   */
  #afterDrain(connection: number, round = 0): void {
    setImmediate(() => {
      if (!this.socket.closed && this.socket.readable && round < DRAIN_ROUNDS) this.#afterDrain(connection, round + 1);
      else this.#listener.drained(this, connection);
    });
  }

  #onRetry(): void {
    this.#retries++;
    if (this.#triedConnect) this.#state = "refused";
    else if (this.#state === "nothing" || this.#state === "refused" || this.#state === "unresolved") this.#state = "unresolved";
    // After a lost connection or a failed handshake the state says so until a later attempt tells more.
    this.#triedConnect = false;
    this.#listener.retrying(this, this.#retries);
  }

  #handshakeFailed(reason: string): void {
    this.#state = "handshake-failed";
    this.#reason = reason;
    this.#listener.handshakeFailed(this, reason);
  }

  #detail(): string {
    const tries = this.#retries === 0 ? "" : `, ${this.#retries} reconnection attempt${this.#retries === 1 ? "" : "s"} so far`;
    switch (this.#state) {
      case "nothing":
        return this.#inproc ? "inproc, never connected" : "no connection event at all yet";
      case "refused":
        return `connection refused, retrying${tries}`;
      case "unresolved":
        return `a connection could not even be started (unresolvable host name?), retrying${tries}`;
      case "handshake-failed":
        return `connected, but the ZMTP handshake failed (${this.#reason}): wrong socket type (not a ROUTER) or mismatched security?`;
      case "lost":
        return `was connected; the connection was lost, reconnecting${tries}`;
      case "connected":
        return "connected";
    }
  }
}
