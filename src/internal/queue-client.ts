/**
 * @packageDocumentation
 * The link of a reliable `PipelineSource` or `PipelineSink` to one `PipelineBroker` (protocol 1.3, `TZPC01`,
 * docs/protocol.md "Reliable pipeline"): a DEALER session ({@link RpcLink}: its send queue, its read loop and its
 * connection state from the socket's monitor events), the broker's messages parsed and handed on, and, for a sink,
 * heartbeats and the broker's liveness.
 *
 * - **Connections.** Every ZMTP handshake (libzmq reconnects by itself after a lost connection) is a new peer for
 *   the broker's ROUTER, which knows nothing of what was sent on the connection before: the owner is told
 *   ({@link QueueClientHooks.up}) and starts again (a sink sends FETCH, a source resends its pending pushes). Nothing
 *   is sent while no connection is up, so nothing queued for an old connection reaches a new one ahead of that.
 * - **Heartbeats** (sinks; `heartbeatMs` set): a HEARTBEAT goes out after every `heartbeatMs` in which nothing else
 *   was sent, and a broker that has said nothing for `heartbeatMs × liveness` while connected is lost: the socket is
 *   closed and a new one (a new peer) connects after a backoff (`reconnectDelay` of the MDP worker link: 100 ms
 *   doubling to 5 s, with jitter). A DISCONNECT from the broker does the same. Sources send no heartbeats (the
 *   broker answers a HEARTBEAT from a peer that is not a sink with DISCONNECT); ZMTP heartbeats on the socket turn a
 *   dead broker into a lost connection for them.
 * @internal
 */
import type * as zmq from "zeromq";
import { InvalidArgumentError, OutOfRangeError } from "../errors/index.js";
import { encodeQueueHeartbeat, MAX_ID_BYTES, parseQueueBrokerMessage, type QueueBrokerMessage } from "../protocol/queue.js";
import type { CurveGuard } from "./curve.js";
import type { OptionReader } from "./options.js";
import { reconnectDelay } from "./mdp-worker-link.js";
import { RpcLink, type LinkListener, type LinkSocketOptions } from "./rpc-link.js";
import { settleWithin } from "./timing.js";
import { callHook } from "./hooks.js";
import type { ConnectionEvent } from "../events.js";

/** What the broker sent that the owner handles: ACCEPTED, REJECTED, RESULTS. @internal */
export type QueueReply = Extract<QueueBrokerMessage, { readonly kind: "accepted" | "rejected" | "results" }>;

/** Settings of a queue client, resolved by the owner. @internal */
export interface QueueClientConfig {
  /** The broker's frontend, as the first socket validated it. */
  readonly endpoint: string;
  /** Heartbeat interval (a sink); undefined: no heartbeats and no liveness (a source). */
  readonly heartbeatMs: number | undefined;
  /** Heartbeat intervals of broker silence after which a sink drops its socket. */
  readonly liveness: number;
  /** Options of every socket (linger, high-water marks, ZMTP heartbeats, limits, CURVE). */
  readonly socket: LinkSocketOptions;
  /** Where failed CURVE handshakes are reported. */
  readonly guard: CurveGuard | undefined;
}

/** What a queue client hands its owner; every hook runs on the event loop. @internal */
export interface QueueClientHooks {
  /** ACCEPTED, REJECTED or RESULTS. */
  readonly message: (message: QueueReply) => void;
  /** A connection to the broker is up (`count` numbers them from 1): send FETCH, or resend pending pushes. */
  readonly up: (count: number) => void;
  /** The broker sent something that is not a `TZPC01` command for a client (ignored). */
  readonly invalid: (reason: string) => void;
  /** The owner's `onEvent`, told of the current socket's connection events (`endpoint`: the broker's). */
  readonly connection?: ((event: ConnectionEvent) => void) | undefined;
}

const NOTHING = (): void => undefined;

/**
 * ZMTP heartbeats (RFC 37) on every queue-client socket: a broker that is frozen or cut off shows up as a lost
 * connection within about 3 s, also for a source, which sends no heartbeats of its own. @internal
 */
export const QUEUE_LINK_HEARTBEATS = { heartbeatInterval: 1_000, heartbeatTimeout: 3_000, heartbeatTimeToLive: 3_000 } as const;

/** What every reliable end resolves from its options: the broker's endpoint and the queue. @internal */
export interface ReliableEnd {
  readonly endpoint: string;
  readonly queue: string;
}

/**
 * Reads `mode` and, in reliable mode, the broker endpoint, `queue` (default: the contract's name) and the owner's
 * own reliable options (`extra`). Undefined in plain mode, where any of the reliable-only `keys` is refused.
 * @throws `TypeError` for reliable mode with `bind`, several endpoints, or a reliable option in plain mode;
 *   `RangeError` for a queue name that is not 1 to 255 UTF-8 bytes.
 * @internal
 */
export function readReliableMode<T extends object>(
  read: OptionReader,
  open: "bind" | "connect",
  endpoint: string | readonly string[],
  contract: { readonly name: string },
  keys: readonly string[],
  extra: (read: OptionReader) => T,
): (ReliableEnd & T) | undefined {
  const mode = read.oneOf("mode", ["plain", "reliable"], "plain");
  if (mode === "plain") {
    for (const key of ["queue", ...keys]) {
      if (read.raw(key) !== undefined) {
        throw new InvalidArgumentError(
          `${read.owner}: \`${key}\` applies only to { mode: "reliable" } (through a PipelineBroker); add \`mode: "reliable"\` or leave \`${key}\` out.`,
        );
      }
    }
    return undefined;
  }
  if (open === "bind") {
    throw new InvalidArgumentError(
      `${read.owner}: { mode: "reliable" } connects to a PipelineBroker's frontend; use ${read.owner.replace(/\.bind$/, ".connect")}(brokerFrontend, ...) instead of bind.`,
    );
  }
  const endpoints = typeof endpoint === "string" ? [endpoint] : endpoint;
  const only = endpoints[0];
  if (endpoints.length !== 1 || typeof only !== "string") {
    throw new InvalidArgumentError(
      `${read.owner}: { mode: "reliable" } connects to one PipelineBroker frontend, got ${endpoints.length} endpoints; pass one.`,
    );
  }
  const queue = read.optionalString("queue") ?? contract.name;
  const bytes = Buffer.byteLength(queue, "utf8");
  if (bytes > MAX_ID_BYTES) {
    throw new OutOfRangeError(`${read.owner}: \`queue\` must be 1 to ${MAX_ID_BYTES} bytes of UTF-8, got ${bytes}.`);
  }
  return { endpoint: only, queue, ...extra(read) };
}

/** A DEALER link to one `PipelineBroker` frontend, replaced when the broker is lost (sinks). @internal */
export class QueueClient {
  readonly #config: QueueClientConfig;
  readonly #hooks: QueueClientHooks;
  readonly #heartbeat = encodeQueueHeartbeat();
  /** Links being closed, awaited by close(). */
  readonly #closing = new Set<Promise<void>>();
  #link: RpcLink | undefined;
  #connections = 0;
  #replaced = 0;
  #lastSent = 0;
  #lastHeard = 0;
  #attempt = 0;
  #ipv6 = false;
  #closed = false;
  #tick: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;

  constructor(config: QueueClientConfig, hooks: QueueClientHooks) {
    this.#config = config;
    this.#hooks = hooks;
  }

  /** True while a connection to the broker is up: {@link QueueClient.send} sends only then. */
  get live(): boolean {
    return this.#link?.live === true;
  }

  /** Connections that came up so far (each ZMTP handshake, on any socket). */
  get connections(): number {
    return this.#connections;
  }

  /** Sockets dropped because the broker went silent or sent DISCONNECT. */
  get replaced(): number {
    return this.#replaced;
  }

  /**
   * Opens the first socket: `attach` validates and connects it (throwing for a bad endpoint); later sockets connect
   * to the same endpoint by themselves.
   */
  async open(attach: (socket: zmq.Dealer) => Promise<void>): Promise<void> {
    const link = this.#newLink();
    this.#link = link;
    await attach(link.socket);
    this.#ipv6 = link.socket.ipv6;
    this.#lastHeard = Date.now();
    link.start();
    this.#schedule();
  }

  /**
   * Sends a command on the current connection. Returns false, sending nothing, while no connection is up: the owner
   * sends it again from {@link QueueClientHooks.up}.
   */
  send(frames: Buffer[]): boolean {
    const link = this.#link;
    if (link?.live !== true) return false;
    this.#lastSent = Date.now();
    // A failed send is a lost connection, which the monitor reports; the owner resends on the next one.
    link.send(frames).catch(NOTHING);
    return true;
  }

  /**
   * Stops the timers, sends `farewell` (DISCONNECT, say) if a connection is up, waits up to `lingerMs` for it, and
   * closes every socket.
   */
  async close(lingerMs: number, farewell?: Buffer[]): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#tick);
    clearTimeout(this.#reconnect);
    const link = this.#link;
    this.#link = undefined;
    if (link !== undefined) {
      if (farewell !== undefined && link.live) await settleWithin(link.send(farewell), lingerMs);
      this.#closing.add(link.close());
    }
    await Promise.all([...this.#closing]);
  }

  #newLink(): RpcLink {
    const listener: LinkListener = {
      message: (link, frames) => this.#receive(link, frames),
      live: (link) => {
        if (link !== this.#link) return;
        this.#lastHeard = Date.now();
        this.#connections++;
        callHook(this.#hooks.connection, { type: "connected", endpoint: link.endpoint });
        this.#hooks.up(this.#connections);
      },
      lost: (link) => {
        if (link === this.#link) callHook(this.#hooks.connection, { type: "disconnected", endpoint: link.endpoint });
      },
      drained: NOTHING,
      retrying: NOTHING,
      handshakeFailed: (link, reason) => {
        // The link reads its socket's monitor as an iterator, so the guard is told here (as RpcClient does): a second
        // reader of the same monitor (CurveGuard.watch, emitter mode) fails with EBUSY and took the process down.
        this.#config.guard?.failed(this.#config.endpoint, reason);
        if (link === this.#link) callHook(this.#hooks.connection, { type: "handshake-failed", endpoint: link.endpoint, reason });
      },
    };
    return new RpcLink(this.#config.endpoint, this.#config.socket, listener);
  }

  #receive(link: RpcLink, frames: Buffer[]): void {
    if (link !== this.#link) return;
    this.#lastHeard = Date.now();
    this.#attempt = 0;
    const message = parseQueueBrokerMessage(frames);
    switch (message.kind) {
      case "heartbeat":
        return;
      case "disconnect":
        // The broker forgot this peer. A sink starts again on a new socket; a source's pushes are answered or
        // resent on the next connection (a broker that is closing sends this before its sockets go).
        if (this.#config.heartbeatMs !== undefined) this.#replace(link);
        return;
      case "malformed":
        this.#hooks.invalid(`the broker at ${this.#config.endpoint} sent a message that is not TZPC01: ${message.reason}`);
        return;
      default:
        this.#hooks.message(message);
    }
  }

  /** The one timer of a sink: heartbeats out, liveness in. */
  #schedule(): void {
    const heartbeatMs = this.#config.heartbeatMs;
    if (heartbeatMs === undefined || this.#closed) return;
    const due = Math.min(this.#lastSent + heartbeatMs, this.#lastHeard + heartbeatMs * this.#config.liveness);
    clearTimeout(this.#tick);
    this.#tick = setTimeout(() => this.#onTick(heartbeatMs), Math.max(1, Math.min(heartbeatMs, due - Date.now())));
  }

  #onTick(heartbeatMs: number): void {
    this.#tick = undefined;
    const link = this.#link;
    if (link === undefined || this.#closed) return;
    const now = Date.now();
    if (link.live) {
      if (now - this.#lastHeard >= heartbeatMs * this.#config.liveness) {
        this.#replace(link);
        return;
      }
      if (now - this.#lastSent >= heartbeatMs) this.send(this.#heartbeat);
    } else {
      // Not connected: libzmq is reconnecting by itself; silence counts only from the next handshake.
      this.#lastHeard = now;
    }
    this.#schedule();
  }

  /** Drops the current socket and connects a new one (a new peer for the broker) after the backoff. */
  #replace(link: RpcLink): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    this.#replaced++;
    clearTimeout(this.#tick);
    this.#tick = undefined;
    const closing = link.close();
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
    const delayMs = reconnectDelay(this.#attempt++);
    this.#reconnect = setTimeout(() => this.#reopen(), delayMs);
  }

  #reopen(): void {
    this.#reconnect = undefined;
    if (this.#closed) return;
    const link = this.#newLink();
    try {
      link.socket.ipv6 = this.#ipv6;
      link.socket.connect(this.#config.endpoint);
    } catch {
      // The endpoint was valid for the first socket; a failure here is transient (no file descriptors, say).
      this.#closing.add(link.close());
      this.#reconnect = setTimeout(() => this.#reopen(), reconnectDelay(this.#attempt++));
      return;
    }
    this.#link = link;
    this.#lastHeard = Date.now();
    link.start();
    this.#schedule();
  }
}
