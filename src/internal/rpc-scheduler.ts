/**
 * @packageDocumentation
 * The RPC broker's scheduler: which server gets the next request, capacities, in-flight bookkeeping, departures,
 * and what to answer when a server is gone. Pure: no sockets, no timers. Every input (a message from a client or a
 * server, a failed send, close) returns the actions the broker must take, in order; the broker performs them on
 * its sockets and reports failed sends back. docs/protocol.md "Broker" describes the wire.
 *
 * Frames after the body (the protocol 1.1 headers frame, and anything after it) are never inspected: requests and
 * replies pass through with every frame they arrived with.
 * @internal
 */
import type { Codec } from "../codec.js";
import { ErrorCode, type RpcErrorBody } from "../errors/index.js";
import type { RpcBrokerEvent, RpcBrokerStats } from "../rpc-broker.js";
import {
  DELIMITER,
  READY_FRAME,
  STATUS_ERROR,
  STATUS_ERROR_FRAME,
  STATUS_OK_FRAME,
  STATUS_READY,
  delimiterIndex,
} from "./wire.js";

/** A request sent to a server and not answered yet. Opaque to the broker, which hands it back on a failed send. */
export interface Ticket {
  readonly server: string;
  readonly key: string;
  readonly request: Buffer[];
}

/** What the broker must do, in the order given. */
export type SchedulerAction =
  /** Send `frames` (`[server-id, ...request]`) on the backend; on failure call {@link RpcScheduler.dispatchFailed}. */
  | { readonly kind: "dispatch"; readonly frames: Buffer[]; readonly ticket: Ticket }
  /** Send `frames` on the backend (a greeting or an acknowledgement); a failure needs no report. */
  | { readonly kind: "to-server"; readonly frames: Buffer[] }
  /** Send `frames` on the frontend (a reply, or the broker's own error reply); on failure call {@link RpcScheduler.replyFailed}. */
  | { readonly kind: "to-client"; readonly frames: Uint8Array[] }
  /** Report `event` to `onEvent`. */
  | { readonly kind: "event"; readonly event: RpcBrokerEvent };

/** Settings of a {@link RpcScheduler}, already checked. */
export interface SchedulerConfig {
  /** Encodes the broker's own error bodies and decodes servers' error bodies (to spot `UNAVAILABLE`). */
  readonly codec: Codec;
  /** Requests held while every server is busy; beyond it they are answered `UNAVAILABLE`. */
  readonly maxQueued: number;
}

interface Server {
  readonly id: Buffer;
  readonly name: string;
  capacity: number;
  /** Requests in flight here, by envelope key; a list, because two requests may share an envelope (plain DEALERs). */
  readonly requests: Map<string, Ticket[]>;
  inFlight: number;
  /** Dispatch count when it last got a request: among equally busy servers, the least recently used goes first. */
  lastUsed: number;
  /** It said it is leaving (capacity 0, or answered `UNAVAILABLE`): no new work; forgotten once its requests are answered. */
  leaving: boolean;
  /** A send to it found its queue full: no new work until it answers something. */
  stalled: boolean;
}

/** The frames before `to`, from `from`, as a map key. */
function envelopeKey(frames: readonly Buffer[], from: number, to: number): string {
  let key = "";
  for (let i = from; i < to; i++) key += `${frames[i]?.toString("hex") ?? ""}.`;
  return key;
}

/** Capacity announced in a ready frame: a decimal count (0 = leaving); missing or unreadable counts as 1. */
function parseCapacity(frame: Buffer | undefined): number {
  const text = frame?.toString("utf8") ?? "";
  return /^\d{1,9}$/.test(text) ? Number(text) : 1;
}

/** Messages the broker answers itself. */
export const REASONS = {
  closing: "the broker is shutting down and takes no new requests. Retry later.",
  closedQueued: "the broker closed before a server took the request.",
  serverGone: "the server handling the request went away before answering; it may or may not have run. Retry if that is safe.",
  queueFull: (max: number) => `every server is busy and ${max} requests already wait at the broker (maxQueued). Retry later.`,
  drainTimeout: (ms: number) => `the broker closed before the server answered (drainTimeoutMs ${ms}).`,
} as const;

/**
 * The bookkeeping of one RPC broker. See the package documentation above.
 * @internal
 */
export class RpcScheduler {
  readonly #codec: Codec;
  readonly #maxQueued: number;
  readonly #servers = new Map<string, Server>();
  #queue: Buffer[][] = [];
  #closing = false;
  #dispatches = 0;
  #inFlight = 0;
  #forwarded = 0;
  #returned = 0;
  #rejected = 0;
  #dropped = 0;

  constructor(config: SchedulerConfig) {
    this.#codec = config.codec;
    this.#maxQueued = config.maxQueued;
  }

  /** A snapshot of the counters. */
  get stats(): RpcBrokerStats {
    return {
      forwarded: this.#forwarded,
      returned: this.#returned,
      queued: this.#queue.length,
      servers: this.#servers.size,
      inFlight: this.#inFlight,
      rejected: this.#rejected,
      dropped: this.#dropped,
    };
  }

  /** True once {@link close} was called and no request is in flight any more. */
  get drained(): boolean {
    return this.#closing && this.#inFlight === 0;
  }

  /** A message read on the frontend: `[client-id, ...envelope, "", ...payload]`. Never control, whatever it holds. */
  fromClient(frames: Buffer[]): SchedulerAction[] {
    const d = delimiterIndex(frames);
    if (d < 1) return this.#drop(`a ${frames.length}-frame request with no envelope delimiter`);
    const method = frames[d + 1];
    if (method !== undefined && (method.equals(STATUS_OK_FRAME) || method.equals(STATUS_ERROR_FRAME))) {
      // A reply sent as a request: a server never answers one (no loops), so passing it on would hold a server's slot
      // for ever. The client gets the MALFORMED reply a server would give to any other bad request.
      return this.#reject(
        frames,
        `the method frame is "${method.toString("latin1")}", a reply status; a server never answers a reply. Send [method, body] after the delimiter.`,
        ErrorCode.MALFORMED,
      );
    }
    if (this.#closing) return this.#reject(frames, REASONS.closing);
    if (this.#queue.length >= this.#maxQueued) return this.#reject(frames, REASONS.queueFull(this.#maxQueued));
    this.#queue.push(frames);
    return this.#dispatch();
  }

  /**
   * A message read on the backend: `[server-id, ...]`. An empty second frame starts a control message (a greeting
   * `[id, ""]` or `[id, "", "ready", capacity]`); anything else is a reply `[id, ...envelope, "", status, body, ...]`,
   * passed to its client unchanged.
   */
  fromServer(frames: Buffer[]): SchedulerAction[] {
    const id = frames[0];
    if (id === undefined || frames.length < 2) return this.#drop("a backend message with no frame after the routing id");
    const name = id.toString("hex");
    if (frames[1]?.length === 0) return this.#control(id, name, frames);
    const server = this.#servers.get(name);
    const d = delimiterIndex(frames);
    const ticket = d < 0 || server === undefined ? undefined : this.#settle(server, envelopeKey(frames, 1, d));
    if (server === undefined || ticket === undefined) {
      return this.#drop("a reply that matches no request in flight (already answered, or not from a registered server)");
    }
    server.stalled = false;
    const actions: SchedulerAction[] = [];
    if (!this.#closing && this.#isUnavailable(frames, d)) {
      // The server is shutting down and did not run it: send it to another server instead.
      server.leaving = true;
      this.#forwarded--;
      this.#queue.unshift(ticket.request);
    } else {
      this.#returned++;
      actions.push({ kind: "to-client", frames: frames.slice(1) });
    }
    actions.push(...this.#forgetIfDone(server), ...this.#dispatch());
    return actions;
  }

  /**
   * A dispatch failed. `unreachable` (EHOSTUNREACH): the server is gone, so it is forgotten and its other requests
   * are answered `UNAVAILABLE`. Otherwise its queue is full: it gets no new work until it answers. Either way this
   * request was not delivered, so it goes to another server (or is answered, when the broker is closing).
   */
  dispatchFailed(ticket: Ticket, unreachable: boolean): SchedulerAction[] {
    const server = this.#servers.get(ticket.server);
    const list = server?.requests.get(ticket.key);
    const at = list?.indexOf(ticket) ?? -1;
    if (server === undefined || list === undefined || at < 0) return []; // already answered (the server was forgotten)
    list.splice(at, 1);
    if (list.length === 0) server.requests.delete(ticket.key);
    server.inFlight--;
    this.#inFlight--;
    this.#forwarded--;
    const actions: SchedulerAction[] = [];
    if (unreachable) actions.push(...this.#forget(server));
    else server.stalled = true;
    if (this.#closing) return [...actions, ...this.#reject(ticket.request, REASONS.closedQueued)];
    this.#queue.unshift(ticket.request);
    return [...actions, ...this.#dispatch()];
  }

  /** A reply or error reply could not be sent to its client (it is gone). */
  replyFailed(): SchedulerAction[] {
    return this.#drop("a reply for a client that is gone");
  }

  /** Takes no new requests from now on, and answers the queued ones `UNAVAILABLE`. */
  close(): SchedulerAction[] {
    this.#closing = true;
    const queued = this.#queue;
    this.#queue = [];
    return queued.flatMap((frames) => this.#reject(frames, REASONS.closedQueued));
  }

  /** Answers every request still in flight `UNAVAILABLE` (the drain timed out) and forgets them. */
  abandon(drainTimeoutMs: number): SchedulerAction[] {
    const actions: SchedulerAction[] = [];
    for (const server of this.#servers.values()) {
      for (const list of server.requests.values()) {
        for (const ticket of list) actions.push(...this.#reject(ticket.request, REASONS.drainTimeout(drainTimeoutMs)));
      }
      server.requests.clear();
      server.inFlight = 0;
    }
    this.#inFlight = 0;
    return actions;
  }

  #control(id: Buffer, name: string, frames: Buffer[]): SchedulerAction[] {
    if (frames.length === 2) return [{ kind: "to-server", frames: [id, DELIMITER] }]; // its greeting: greet back
    if (frames[2]?.toString("utf8") !== STATUS_READY) {
      return this.#drop("a backend message with an empty envelope that is not a ready announcement");
    }
    const server = this.#servers.get(name);
    const capacity = parseCapacity(frames[3]);
    if (capacity === 0) {
      // Leaving: acknowledge (everything sent before the ack reaches the server first) and send no more work.
      const ack: SchedulerAction = { kind: "to-server", frames: [id, DELIMITER, READY_FRAME, Buffer.from("0")] };
      if (server === undefined) return [ack];
      server.leaving = true;
      return [ack, ...this.#forgetIfDone(server)];
    }
    const actions: SchedulerAction[] = [];
    if (server !== undefined) {
      server.capacity = capacity; // a repeated announcement: nothing new to report
    } else {
      this.#servers.set(name, {
        id,
        name,
        capacity,
        requests: new Map(),
        inFlight: 0,
        lastUsed: 0,
        leaving: false,
        stalled: false,
      });
      actions.push({ kind: "event", event: { type: "server:ready", server: name, capacity } });
    }
    return [...actions, ...this.#dispatch()];
  }

  /** Sends queued requests to the least busy servers with a free slot. */
  #dispatch(): SchedulerAction[] {
    const actions: SchedulerAction[] = [];
    while (this.#queue.length > 0) {
      const server = this.#pick();
      if (server === undefined) break;
      const request = this.#queue.shift()!;
      const key = envelopeKey(request, 0, delimiterIndex(request));
      const ticket: Ticket = { server: server.name, key, request };
      const list = server.requests.get(key);
      if (list === undefined) server.requests.set(key, [ticket]);
      else list.push(ticket);
      server.inFlight++;
      server.lastUsed = ++this.#dispatches;
      this.#inFlight++;
      this.#forwarded++;
      actions.push({ kind: "dispatch", frames: [server.id, ...request], ticket });
    }
    return actions;
  }

  /** The server with the lowest share of its capacity in use and a free slot; the least recently used among equals. */
  #pick(): Server | undefined {
    let best: Server | undefined;
    let bestLoad = Infinity;
    for (const s of this.#servers.values()) {
      if (s.leaving || s.stalled || s.inFlight >= s.capacity) continue;
      const load = s.inFlight / s.capacity;
      if (best === undefined || load < bestLoad || (load === bestLoad && s.lastUsed < best.lastUsed)) {
        best = s;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Removes and returns the oldest request in flight at `server` with this envelope. */
  #settle(server: Server, key: string): Ticket | undefined {
    const list = server.requests.get(key);
    const ticket = list?.shift();
    if (ticket === undefined) return undefined;
    if (list?.length === 0) server.requests.delete(key);
    server.inFlight--;
    this.#inFlight--;
    return ticket;
  }

  /** True when an error reply says `UNAVAILABLE` (the server is shutting down): the request can go elsewhere. */
  #isUnavailable(frames: readonly Buffer[], d: number): boolean {
    const body = frames[d + 2];
    if (body === undefined || frames[d + 1]?.toString("utf8") !== STATUS_ERROR) return false;
    try {
      const decoded: unknown = this.#codec.decode(body);
      return typeof decoded === "object" && decoded !== null && Reflect.get(decoded, "code") === ErrorCode.UNAVAILABLE;
    } catch {
      return false;
    }
  }

  #forgetIfDone(server: Server): SchedulerAction[] {
    return server.leaving && server.inFlight === 0 ? this.#forget(server) : [];
  }

  /** Drops a server; its unanswered requests are answered `UNAVAILABLE` (they may or may not have run). */
  #forget(server: Server): SchedulerAction[] {
    if (!this.#servers.delete(server.name)) return [];
    const lost = [...server.requests.values()].flat();
    server.requests.clear();
    this.#inFlight -= server.inFlight;
    server.inFlight = 0;
    const actions: SchedulerAction[] = [
      { kind: "event", event: { type: "server:gone", server: server.name, lost: lost.length } },
    ];
    for (const ticket of lost) actions.push(...this.#reject(ticket.request, REASONS.serverGone));
    return actions;
  }

  /** The broker's own reply: `[...envelope, "", "error", {code, message}]` (UNAVAILABLE by default), the RPC reply shape. */
  #reject(request: readonly Buffer[], why: string, code: string = ErrorCode.UNAVAILABLE): SchedulerAction[] {
    this.#rejected++;
    const body: RpcErrorBody = { code, message: `Broker: ${why}` };
    const envelope = request.slice(0, delimiterIndex(request) + 1);
    return [
      { kind: "event", event: { type: "request:rejected", reason: why } },
      { kind: "to-client", frames: [...envelope, STATUS_ERROR_FRAME, this.#codec.encode(body)] },
    ];
  }

  #drop(reason: string): SchedulerAction[] {
    this.#dropped++;
    return [{ kind: "event", event: { type: "message:dropped", reason } }];
  }
}
