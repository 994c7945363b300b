/**
 * @packageDocumentation
 * The Majordomo (MDP 0.1, RFC 7 and 8/MMI) broker's decisions: services and their FIFOs, workers and their credit,
 * heartbeats and eviction, request tokens, deadlines, the unserved-service wait, MMI, v1 clients, cancel notices,
 * departures and close. Pure: no sockets, no timers, no clock. Every input (a message from a client or a worker, a
 * failed send, `tick(now)`, close) returns the actions the broker must take, in order; `rpc-broker.ts` performs them
 * and reports failed sends back. docs/protocol.md, "Majordomo", describes the wire.
 *
 * Bodies are opaque. The only frame ever read is the protocol 1.1 headers frame, at body index 2
 * (`[method, body, headers]`), and only when it starts with an opening brace and parses: its `deadline`, `remainingMs`, `idempotent` and
 * `correlationId` keys. A plain MDP body without it passes through untouched and has no deadline.
 *
 * The client-address frame of a REQUEST is not the client's routing id but an 8-byte token, unique per dispatch,
 * mapped back to the client in the in-flight table: a late or second reply (from an evicted worker, for example)
 * matches no token and is dropped, so no client ever gets two answers to one request.
 *
 * With an `instrumentation` (the one side effect it is given), each admitted request gets a span, ended when the
 * request is answered, and the headers frame it forwards names that span as the worker's parent.
 * @internal
 */
import { DispatchTokens } from "./dispatch-tokens.js";
import { LatencyHistogram } from "./latency.js";
import type { Codec } from "../codec.js";
import { WireErrorCode, type RpcErrorBody } from "../errors/wire.js";
import { MAX_HEADERS_BYTES, encodeHeaders, parseHeaders, type MessageHeaders } from "../protocol/headers.js";
import { readTraceContext } from "../protocol/trace-context.js";
import type { Instrumentation, TraceSpan } from "../tracing.js";
import { endSpan, safeContext, startSpan } from "./trace.js";
import {
  MMI_PREFIX,
  MMI_SERVICE,
  MMI_SERVICES,
  MmiStatus,
  encodeClientReply,
  encodeDisconnect,
  encodeHeartbeat,
  encodeWorkerRequest,
  parseClientMessage,
  parseWorkerCommand,
  readServiceName,
} from "../protocol/mdp.js";
import { expiredReason, requestDeadline, type RequestDeadline } from "../protocol/deadline.js";
import { STATUS_ERROR_FRAME, STATUS_OK_FRAME } from "../protocol/rpc.js";
import type { RpcBrokerEvent, RpcBrokerStats, ServiceInfo } from "../rpc-broker.js";

/** What the broker must do, in the order given. */
export type BrokerAction =
  /**
   * Send `frames` (`[worker-id, ...]`) on the backend. `token` is set on a REQUEST: if that send fails, call
   * {@link MdpBroker.dispatchFailed}; a failed send without a token is reported with {@link MdpBroker.workerUnreachable}.
   */
  | { readonly kind: "to-worker"; readonly frames: Uint8Array[]; readonly token?: number }
  /** Send `frames` (`[client-id, ...]`) on the frontend; on failure call {@link MdpBroker.replyFailed}. */
  | { readonly kind: "to-client"; readonly frames: Uint8Array[] }
  /** Report `event` to `onEvent`. */
  | { readonly kind: "event"; readonly event: RpcBrokerEvent };

/** Settings of an {@link MdpBroker}, already checked. */
export interface MdpBrokerConfig {
  /** Encodes the broker's own error bodies (`{ code, message, details? }`). */
  readonly codec: Codec;
  /** Requests held in all queues at once; beyond it they are answered `UNAVAILABLE`. */
  readonly maxQueued: number;
  /** Heartbeat interval, both ways. */
  readonly heartbeatMs: number;
  /** Heartbeats a worker may miss before it is evicted. */
  readonly liveness: number;
  /** Strict MDP 0.1: no capacity extension (every worker gets one request at a time), no departure extension. */
  readonly strict: boolean;
  /** Service of a v1 request (no MDPC01 frame); undefined: the only service with a live worker now. */
  readonly defaultService: string | undefined;
  /** How long a request for a service with no worker waits for one. */
  readonly serviceWaitMs: number;
  /** Honour the absolute `deadline` header (false: `remainingMs` only). */
  readonly absoluteDeadlines: boolean;
  /**
   * How often the owner calls {@link MdpBroker.tick}. An unserved request is answered two ticks before its deadline
   * at the latest, so the answer reaches the caller before it gives up.
   */
  readonly tickMs: number;
  /** Traces each routed request; undefined: none, and headers are forwarded unchanged. */
  readonly instrumentation?: Instrumentation | undefined;
}

/** Messages of the broker's own answers. */
export const REASONS = {
  closing: "the broker is shutting down and takes no new requests. Retry later.",
  closedQueued: "the broker closed before a worker took the request.",
  queueFull: (max: number) => `${max} requests already wait at the broker (maxQueued). Retry later.`,
  drainTimeout: (ms: number) => `the broker closed before the worker answered (drainTimeoutMs ${ms}).`,
  workerLost: (worker: string, service: string, how: string) =>
    `worker "${worker}" of service "${service}" ${how} while it held the request; it may or may not have run, and ` +
    `the method is not marked idempotent, so it was not sent elsewhere. Retry if that is safe.`,
  unserved: (service: string, waitedMs: number) =>
    `no worker serves "${service}" (waited ${waitedMs} ms). Start a worker with RpcServer.connect(backend, contract, ` +
    `handlers, { service: "${service}" }), or check the service name.`,
  noDefault: (services: readonly string[]) =>
    `a request without the MDPC01 frame names no service, and workers serve ${services.length} services ` +
    `(${services.join(", ")}): send ["MDPC01", service, ...body], or set the broker's defaultService.`,
  strayStatus: (status: string) =>
    `the method frame is "${status}", a reply status; a worker never answers a reply. Send [method, body] after the delimiter.`,
  expired: (reason: string) => `the request was not started: ${reason}.`,
} as const;

const CANCEL = Buffer.from("$cancel");
/** A routed request's span error when the worker answered with an error (its body is opaque to the broker). */
const WORKER_FAILED = { code: undefined, message: "the worker answered with an error reply" } as const;
const OPEN_BRACE = 0x7b;
const EMPTY = Buffer.alloc(0);
/** The pseudo-service holding v1 requests until the one service they go to is known (no MDP name is empty). */
const HOLD = "";

/** The key of a request in the cancel index: its client's routing id (length-prefixed) and its correlationId. */
function callKey(client: Buffer, correlationId: string): string {
  return `${client.length}:${client.toString("latin1")}${correlationId}`;
}

interface Service {
  readonly name: string;
  /** FIFO of requests waiting for credit. */
  queue: Pending[];
  readonly workers: Worker[];
  /** Since when no live (not leaving) worker serves it; undefined while one does. */
  unservedSince: number | undefined;
}

interface Worker {
  readonly id: Buffer;
  readonly key: string;
  readonly name: string;
  readonly service: Service;
  readonly capacity: number;
  /** It announced a capacity: a typed-zmq worker, which understands cancel notices. */
  readonly typed: boolean;
  readonly inFlight: Set<Pending>;
  lastUsed: number;
  heardAt: number;
  sentAt: number;
  leaving: boolean;
  /** A send to it found its queue full: no new work until it answers something. */
  stalled: boolean;
}

interface Pending {
  readonly client: Buffer;
  /** Frames between the routing id and the delimiter (REQ peers behind proxies). */
  readonly envelope: Buffer[];
  /** An MDP/Client request (else a v1 RPC request). */
  readonly mdp: boolean;
  /** The service name the client sent (MDP), for the reply. */
  readonly asked: string;
  service: Service;
  readonly body: Buffer[];
  readonly deadline: RequestDeadline | undefined;
  readonly idempotent: boolean;
  readonly correlationId: string | undefined;
  readonly queuedAt: number;
  /** `performance.now()` when it arrived, for `stats.latency`. */
  readonly receivedAt: number;
  token: number;
  worker: Worker | undefined;
  /** The request's span, when tracing is on. */
  readonly trace?: TraceSpan | undefined;
}

interface Loss {
  readonly type: "worker:evicted" | "worker:gone";
  readonly how: string;
}

/**
 * The bookkeeping of one MDP broker. See the package documentation above.
 * @internal
 */
export class MdpBroker {
  readonly #c: MdpBrokerConfig;
  readonly #silenceMs: number;
  readonly #services = new Map<string, Service>();
  readonly #workers = new Map<string, Worker>();
  readonly #inFlight = new Map<number, Pending>();
  /** Services with a live (not leaving) worker now, in the order they got one: a v1 request goes to the only one. */
  readonly #served = new Set<string>();
  /** Requests queued or in flight that carry a correlationId, by client and correlationId: where a cancel looks. */
  readonly #byCall = new Map<string, Pending>();
  readonly #tokens: DispatchTokens;
  /** For readable names of workers whose routing id is not printable: `service#n`. */
  #named = 0;
  #dispatches = 0;
  #queued = 0;
  /** No queued request can be due (expired or given up) before this time. */
  #dueAt = Infinity;
  #closing = false;
  #forwarded = 0;
  #returned = 0;
  #rejected = 0;
  #dropped = 0;
  #evicted = 0;
  #redispatched = 0;
  #expired = 0;
  #cancelled = 0;
  #senderAhead = 0;
  readonly #latency = new LatencyHistogram();

  constructor(config: MdpBrokerConfig, tokenEpoch: number) {
    this.#c = config;
    this.#silenceMs = config.heartbeatMs * config.liveness;
    this.#tokens = new DispatchTokens(tokenEpoch);
  }

  /** A snapshot of the counters. */
  get stats(): RpcBrokerStats {
    const workers = this.liveWorkers();
    return {
      forwarded: this.#forwarded,
      returned: this.#returned,
      queued: this.#queued,
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the old name is still filled in for its readers
      servers: workers,
      workers,
      inFlight: this.#inFlight.size,
      rejected: this.#rejected,
      dropped: this.#dropped,
      evicted: this.#evicted,
      redispatched: this.#redispatched,
      expired: this.#expired,
      cancelled: this.#cancelled,
      senderAhead: this.#senderAhead,
      latency: this.#latency.snapshot(),
    };
  }

  /** True once {@link close} was called and no request is in flight any more. */
  get drained(): boolean {
    return this.#closing && this.#inFlight.size === 0;
  }

  /** Workers that take new work (registered and not leaving), of `service` or of all services. */
  liveWorkers(service?: string): number {
    let n = 0;
    const list = service === undefined ? this.#workers.values() : (this.#services.get(service)?.workers ?? []);
    for (const w of list) if (!w.leaving) n++;
    return n;
  }

  /** Every service with its live workers, their capacity and load, and its queue (what `mmi.services` answers). */
  services(): ServiceInfo[] {
    const out: ServiceInfo[] = [];
    for (const s of this.#services.values()) {
      if (s.name === HOLD) continue;
      const workers = s.workers
        .filter((w) => !w.leaving)
        .map((w) => ({ name: w.name, capacity: w.capacity, inFlight: w.inFlight.size }));
      out.push({ service: s.name, workers, queued: s.queue.length });
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Frontend

  /** A message read on the frontend: `[client-id, ...envelope, "", ...]`. */
  fromClient(frames: Buffer[], now: number): BrokerAction[] {
    const client = frames[0];
    if (client === undefined || frames.length < 2) return this.#drop("a frontend message with nothing after the routing id");
    const parsed = parseClientMessage(frames.slice(1));
    switch (parsed.kind) {
      case "unanswerable":
        return this.#drop(`a ${frames.length}-frame client message with no empty delimiter frame`);
      case "malformed":
        return this.#answer(
          { client, envelope: parsed.envelope, mdp: true, asked: parsed.service ?? "", correlationId: undefined },
          WireErrorCode.MALFORMED,
          `Broker: ${parsed.reason}.`,
        );
      case "legacy":
        return this.#fromLegacy(client, parsed.envelope, parsed.body, now);
      case "request":
        if (parsed.service.startsWith(MMI_PREFIX)) return this.#mmi(client, parsed.envelope, parsed.service, parsed.body);
        return this.#admit(client, parsed.envelope, true, parsed.service, parsed.service, parsed.body, now);
    }
  }

  #fromLegacy(client: Buffer, envelope: Buffer[], body: Buffer[], now: number): BrokerAction[] {
    const method = body[0];
    // A cancel notice is never answered, whatever the default service is.
    if (method?.equals(CANCEL) === true) return this.#cancel(client, this.#headersOf(body)?.correlationId);
    if (method !== undefined && (method.equals(STATUS_OK_FRAME) || method.equals(STATUS_ERROR_FRAME))) {
      // A reply sent as a request: a worker never answers one, so passing it on would hold its credit for ever.
      const to = { client, envelope, mdp: false, asked: "", correlationId: this.#headersOf(body)?.correlationId };
      return this.#answer(to, WireErrorCode.MALFORMED, `Broker: ${REASONS.strayStatus(method.toString("latin1"))}`);
    }
    let service = this.#c.defaultService;
    if (service === undefined) {
      if (this.#served.size > 1) {
        const to = { client, envelope, mdp: false, asked: "", correlationId: this.#headersOf(body)?.correlationId };
        const names = [...this.#served];
        return this.#answer(to, WireErrorCode.SERVICE_UNAVAILABLE, `Broker: ${REASONS.noDefault(names)}`, { services: names });
      }
      // The only service with a live worker, or (while none has one) the hold, emptied into the next that gets one.
      service = this.#served.size === 1 ? this.#served.values().next().value! : HOLD;
    }
    return this.#admit(client, envelope, false, "", service, body, now);
  }

  /** A request (MDP or v1) for `serviceName`: a cancel notice, refused, or queued and dispatched. */
  #admit(
    client: Buffer,
    envelope: Buffer[],
    mdp: boolean,
    asked: string,
    serviceName: string,
    body: Buffer[],
    now: number,
  ): BrokerAction[] {
    const headers = this.#headersOf(body);
    const correlationId = headers?.correlationId;
    if (body[0]?.equals(CANCEL) === true) return this.#cancel(client, correlationId);
    const trace = this.#c.instrumentation === undefined ? undefined : this.#trace(serviceName, body, headers);
    const to = { client, envelope, mdp, asked, correlationId, trace };
    if (this.#closing) return this.#answer(to, WireErrorCode.UNAVAILABLE, `Broker: ${REASONS.closing}`);
    if (this.#queued >= this.#c.maxQueued) {
      return this.#answer(to, WireErrorCode.UNAVAILABLE, `Broker: ${REASONS.queueFull(this.#c.maxQueued)}`);
    }
    const deadline = requestDeadline(headers, now, this.#c.absoluteDeadlines);
    if (deadline?.senderAheadMs !== undefined) this.#senderAhead++;
    const service = this.#service(serviceName, now);
    const pending: Pending = {
      client,
      envelope,
      mdp,
      asked,
      service,
      body,
      deadline,
      idempotent: headers?.idempotent === true,
      correlationId,
      queuedAt: now,
      receivedAt: performance.now(),
      token: 0,
      worker: undefined,
      trace,
    };
    if (deadline !== undefined && deadline.expiresAt <= now) {
      this.#forgetIfEmpty(service);
      return this.#expire(pending, now);
    }
    service.queue.push(pending);
    this.#queued++;
    this.#noteDue(pending);
    if (correlationId !== undefined) this.#byCall.set(callKey(client, correlationId), pending);
    return this.#dispatch(service, now);
  }

  /**
   * Starts the span of a routed request (its parent: the caller's trace context, when the headers carry a valid
   * one) and rewrites the headers frame it forwards so that the worker's span is its child. A body without a
   * headers frame (a plain MDP client) is forwarded as it is.
   */
  #trace(serviceName: string, body: Buffer[], headers: MessageHeaders | undefined): TraceSpan {
    const method = body[0]?.toString("utf8") ?? "";
    const parent = headers === undefined ? undefined : readTraceContext(headers.traceparent, headers.tracestate);
    const options = {
      name: `${serviceName}/${method}`,
      kind: "server" as const,
      attributes: { "rpc.system": "typed-zmq", "rpc.service": serviceName, "rpc.method": method },
    };
    const span = startSpan(this.#c.instrumentation!, parent === undefined ? options : { ...options, parent });
    const context = safeContext(span);
    if (headers !== undefined && context !== undefined) {
      // The span's `tracestate` replaces the caller's; a span that gives none passes the caller's on (W3C: an
      // intermediary keeps the vendors' state). A frame that would grow past the headers limit is forwarded as it
      // came, so the worker never gets a frame it must refuse: the trace then links the worker to the caller.
      const { tracestate: callers, ...rest } = headers;
      const tracestate = context.tracestate ?? (parent === undefined ? undefined : callers);
      const frame = encodeHeaders(
        tracestate === undefined
          ? { ...rest, traceparent: context.traceparent }
          : { ...rest, traceparent: context.traceparent, tracestate },
      );
      if (frame.length <= MAX_HEADERS_BYTES) body[2] = frame;
    }
    return span;
  }

  /** The headers frame of a body, when there is one: index 2, starting with `{`, and valid. */
  #headersOf(body: readonly Buffer[]): MessageHeaders | undefined {
    const frame = body[2];
    if (frame === undefined || frame[0] !== OPEN_BRACE) return undefined;
    const parsed = parseHeaders(frame);
    return parsed.kind === "headers" ? parsed.headers : undefined;
  }

  /**
   * A cancel notice: forget the queued request, or tell the (typed) worker running it. Never answered; counted as
   * cancelled, or as dropped when it matches nothing (answered already, or not this client's call).
   */
  #cancel(client: Buffer, correlationId: string | undefined): BrokerAction[] {
    if (correlationId === undefined) return this.#drop("a $cancel notice without a correlationId header");
    const key = callKey(client, correlationId);
    const p = this.#byCall.get(key);
    const at = p === undefined || p.worker !== undefined ? -1 : p.service.queue.indexOf(p);
    if (p === undefined || (p.worker === undefined && at < 0)) {
      return this.#drop("a $cancel notice that matches no request queued or in flight (answered already?)");
    }
    this.#cancelled++;
    if (p.worker === undefined) {
      if (p.trace !== undefined) endSpan(p.trace, { code: WireErrorCode.UNAVAILABLE, message: "cancelled by its caller" });
      this.#byCall.delete(key);
      p.service.queue.splice(at, 1);
      this.#queued--;
      this.#forgetIfEmpty(p.service);
      return [];
    }
    // A plain MDP worker would take "$cancel" for a method and answer it, with this request's token.
    if (!p.worker.typed) return [];
    const headers = Buffer.from(JSON.stringify({ correlationId }), "utf8");
    return [this.#toWorker(p.worker, encodeWorkerRequest(this.#tokens.frame(p.token), [CANCEL, EMPTY, headers]))];
  }

  #mmi(client: Buffer, envelope: Buffer[], service: string, body: readonly Buffer[]): BrokerAction[] {
    let reply: Uint8Array;
    if (service === MMI_SERVICE) {
      const name = readServiceName(body[0]);
      reply = Buffer.from(typeof name === "string" && this.liveWorkers(name) > 0 ? MmiStatus.FOUND : MmiStatus.NOT_FOUND);
    } else if (service === MMI_SERVICES) {
      reply = Buffer.from(JSON.stringify({ services: this.services() }), "utf8");
    } else {
      reply = Buffer.from(MmiStatus.NOT_IMPLEMENTED);
    }
    return [{ kind: "to-client", frames: [client, ...encodeClientReply(envelope, service, [reply])] }];
  }

  // -------------------------------------------------------------------------------------------------------------
  // Backend

  /** A message read on the backend: `[worker-id, "", "MDPW01", command, ...]`. */
  fromWorker(frames: Buffer[], now: number): BrokerAction[] {
    const id = frames[0];
    if (id === undefined) return this.#drop("an empty backend message");
    const command = parseWorkerCommand(frames.slice(1), this.#c.strict);
    const key = id.toString("latin1");
    const worker = this.#workers.get(key);
    if (command.kind === "invalid") return this.#drop(`a backend message that is not MDP/Worker: ${command.reason}`);
    if (worker === undefined) {
      switch (command.kind) {
        case "ready":
          return this.#ready(id, key, command.service, command.capacity, now);
        case "disconnect":
          return [];
        default:
          // RFC 7: any command but READY from a peer the broker does not know is answered DISCONNECT.
          return [{ kind: "to-worker", frames: [id, ...encodeDisconnect()] }];
      }
    }
    worker.heardAt = now;
    // A send to it found its queue full; it is reading again if it talks, so it gets another chance.
    const unstalled = worker.stalled;
    worker.stalled = false;
    switch (command.kind) {
      case "ready":
        // RFC 7: a second READY is a protocol error.
        return [
          this.#toWorker(worker, encodeDisconnect()),
          ...this.#lose(worker, { type: "worker:gone", how: "sent a second READY" }, now),
        ];
      case "reply":
        return this.#reply(worker, command.client, command.body, now);
      case "heartbeat":
        if (!command.leaving) return unstalled ? this.#afterCredit(worker, now) : [];
        // The departure extension; a repeated one is acknowledged again (the first ack may have been lost).
        return worker.leaving ? [this.#toWorker(worker, encodeHeartbeat(true))] : this.#depart(worker, now);
      case "disconnect":
        if (worker.leaving && worker.inFlight.size === 0) {
          this.#remove(worker, now);
          return [];
        }
        return this.#lose(worker, { type: "worker:gone", how: "disconnected" }, now);
      case "request":
        // RFC 7: a valid but unexpected command is answered DISCONNECT.
        return [
          this.#toWorker(worker, encodeDisconnect()),
          ...this.#lose(worker, { type: "worker:gone", how: "sent a REQUEST, which only a broker sends" }, now),
        ];
    }
  }

  #ready(id: Buffer, key: string, serviceName: string, announced: number | undefined, now: number): BrokerAction[] {
    if (serviceName.startsWith(MMI_PREFIX)) {
      // The broker answers mmi.* itself: no worker may register for it.
      return [
        { kind: "to-worker", frames: [id, ...encodeDisconnect()] },
        ...this.#drop(`a worker asked to serve "${serviceName}"; the ${MMI_PREFIX}* services are the broker's own`),
      ];
    }
    if (this.#closing) return [{ kind: "to-worker", frames: [id, ...encodeDisconnect()] }];
    const service = this.#service(serviceName, now);
    const printable = readServiceName(id);
    const capacity = this.#c.strict ? 1 : (announced ?? 1);
    const worker: Worker = {
      id,
      key,
      name: typeof printable === "string" ? printable : `${serviceName}#${++this.#named}`,
      service,
      capacity,
      typed: announced !== undefined && !this.#c.strict,
      inFlight: new Set(),
      lastUsed: 0,
      heardAt: now,
      sentAt: now,
      leaving: false,
      stalled: false,
    };
    this.#workers.set(key, worker);
    service.workers.push(worker);
    service.unservedSince = undefined;
    this.#served.add(serviceName);
    const actions: BrokerAction[] = [
      { kind: "event", event: { type: "worker:ready", service: serviceName, worker: worker.name, capacity } },
    ];
    if (this.#c.defaultService === undefined && this.#served.size === 1) this.#release(service);
    return [...actions, ...this.#dispatch(service, now)];
  }

  /** v1 requests held until a service appeared go to the first one. */
  #release(service: Service): void {
    const hold = this.#services.get(HOLD);
    if (hold === undefined) return;
    for (const p of hold.queue) p.service = service;
    service.queue.push(...hold.queue);
    hold.queue = [];
    this.#services.delete(HOLD);
  }

  #reply(worker: Worker, token: Buffer, body: Buffer[], now: number): BrokerAction[] {
    const pending = this.#settle(token, worker);
    if (pending === undefined) {
      return [
        ...this.#drop(`a REPLY from worker "${worker.name}" that matches no request in flight (already answered, or late)`),
        ...this.#afterCredit(worker, now),
      ];
    }
    this.#returned++;
    if (pending.trace !== undefined) {
      endSpan(pending.trace, body[0]?.equals(STATUS_OK_FRAME) === true ? undefined : WORKER_FAILED);
    }
    this.#latency.since(pending.receivedAt);
    return [this.#toClient(pending, body), ...this.#afterCredit(worker, now)];
  }

  /** The departure extension: no new work, and the acknowledgement (everything sent before it has arrived). */
  #depart(worker: Worker, now: number): BrokerAction[] {
    worker.leaving = true;
    this.#markUnserved(worker.service, now);
    return [
      this.#toWorker(worker, encodeHeartbeat(true)),
      {
        kind: "event",
        event: { type: "worker:left", service: worker.service.name, worker: worker.name, inFlight: worker.inFlight.size },
      },
    ];
  }

  /** A dispatch failed: the REQUEST with this token never reached its worker, so it goes back to the front of its queue. */
  dispatchFailed(token: number, unreachable: boolean, now: number): BrokerAction[] {
    const pending = this.#inFlight.get(token);
    const worker = pending?.worker;
    if (pending === undefined || worker === undefined) return [];
    this.#inFlight.delete(token);
    worker.inFlight.delete(pending);
    pending.worker = undefined;
    pending.token = 0;
    this.#forwarded--;
    const actions: BrokerAction[] = [];
    if (unreachable) actions.push(...this.#lose(worker, { type: "worker:gone", how: "became unreachable" }, now));
    else worker.stalled = true;
    if (this.#closing)
      return [...actions, ...this.#answer(pending, WireErrorCode.UNAVAILABLE, `Broker: ${REASONS.closedQueued}`)];
    this.#requeue(pending); // after #lose: the service may have been forgotten, and is listed again
    return [...actions, ...this.#dispatch(pending.service, now)];
  }

  /** A heartbeat or DISCONNECT could not be sent to this worker: its peer is gone. */
  workerUnreachable(id: Buffer, now: number): BrokerAction[] {
    const worker = this.#workers.get(id.toString("latin1"));
    return worker === undefined ? [] : this.#lose(worker, { type: "worker:gone", how: "became unreachable" }, now);
  }

  /** A reply could not be sent to its client (it is gone). */
  replyFailed(): BrokerAction[] {
    return this.#drop("a reply for a client that is gone");
  }

  // -------------------------------------------------------------------------------------------------------------
  // Time

  /** Heartbeats due, workers silent too long (evicted), queued requests expired or unserved too long. */
  tick(now: number): BrokerAction[] {
    const actions: BrokerAction[] = [];
    for (const worker of [...this.#workers.values()]) {
      const silent = now - worker.heardAt;
      if (silent >= this.#silenceMs && worker.leaving && worker.inFlight.size === 0) {
        this.#remove(worker, now); // it left (acknowledged) and went quiet without a DISCONNECT: nothing was lost
      } else if (silent >= this.#silenceMs) {
        this.#evicted++;
        const how = `missed its heartbeats (silent ${silent} ms, limit ${this.#c.heartbeatMs} ms × ${this.#c.liveness})`;
        actions.push(
          this.#toWorker(worker, encodeDisconnect()),
          ...this.#lose(worker, { type: "worker:evicted", how }, now, silent),
        );
      } else if (now - worker.sentAt >= this.#c.heartbeatMs) {
        actions.push(this.#toWorker(worker, encodeHeartbeat()));
        worker.sentAt = now;
      }
    }
    if (now >= this.#dueAt) actions.push(...this.#sweep(now));
    return actions;
  }

  /** Answers every queued request that expired, or waited for a worker of an unserved service long enough. */
  #sweep(now: number): BrokerAction[] {
    const actions: BrokerAction[] = [];
    this.#dueAt = Infinity;
    for (const service of [...this.#services.values()]) {
      const keep: Pending[] = [];
      for (const p of service.queue) {
        if (p.deadline !== undefined && p.deadline.expiresAt <= now && service.unservedSince === undefined) {
          this.#queued--;
          actions.push(...this.#expire(p, now));
        } else if (this.#giveUpAt(p) <= now) {
          this.#queued--;
          actions.push(...this.#unserved(p, now));
        } else {
          keep.push(p);
          this.#noteDue(p);
        }
      }
      service.queue = keep;
      this.#forgetIfEmpty(service);
    }
    return actions;
  }

  /** When an unserved request is answered `SERVICE_UNAVAILABLE` (Infinity while its service has a worker). */
  #giveUpAt(p: Pending): number {
    const since = p.service.unservedSince;
    if (since === undefined) return Infinity;
    const waited = Math.max(p.queuedAt, since) + this.#c.serviceWaitMs;
    // Two ticks early: the timer may fire up to one tick late, and the answer must still beat the caller's own timer.
    return p.deadline === undefined ? waited : Math.min(waited, p.deadline.expiresAt - 2 * this.#c.tickMs);
  }

  #noteDue(p: Pending): void {
    const due = Math.min(p.deadline?.expiresAt ?? Infinity, this.#giveUpAt(p));
    if (due < this.#dueAt) this.#dueAt = due;
  }

  #expire(p: Pending, now: number): BrokerAction[] {
    this.#expired++;
    const reason = p.deadline === undefined ? "" : expiredReason(p.deadline, now);
    return [
      { kind: "event", event: { type: "request:expired", service: p.service.name, reason } },
      ...this.#answer(p, WireErrorCode.DEADLINE_EXCEEDED, `Broker: ${REASONS.expired(reason)}`, undefined, false),
    ];
  }

  #unserved(p: Pending, now: number): BrokerAction[] {
    const name = p.service.name === HOLD ? "(the default service)" : p.service.name;
    return this.#answer(p, WireErrorCode.SERVICE_UNAVAILABLE, `Broker: ${REASONS.unserved(name, now - p.queuedAt)}`, {
      service: name,
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Close

  /** Takes no new requests or workers from now on, and answers the queued requests `UNAVAILABLE`. */
  close(): BrokerAction[] {
    this.#closing = true;
    const actions: BrokerAction[] = [];
    for (const service of this.#services.values()) {
      for (const p of service.queue)
        actions.push(...this.#answer(p, WireErrorCode.UNAVAILABLE, `Broker: ${REASONS.closedQueued}`));
      service.queue = [];
    }
    this.#queued = 0;
    this.#dueAt = Infinity;
    return actions;
  }

  /** Answers every request still in flight `UNAVAILABLE` (the drain timed out). */
  abandon(drainTimeoutMs: number): BrokerAction[] {
    const actions: BrokerAction[] = [];
    for (const p of this.#inFlight.values()) {
      p.worker?.inFlight.delete(p);
      actions.push(...this.#answer(p, WireErrorCode.UNAVAILABLE, `Broker: ${REASONS.drainTimeout(drainTimeoutMs)}`));
    }
    this.#inFlight.clear();
    return actions;
  }

  /** DISCONNECT to every worker, which are then forgotten (the last step of close). */
  farewell(): BrokerAction[] {
    const actions = [...this.#workers.values()].map((w) => this.#toWorker(w, encodeDisconnect()));
    this.#workers.clear();
    for (const s of this.#services.values()) s.workers.length = 0;
    this.#served.clear();
    return actions;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Mechanics

  #service(name: string, now: number): Service {
    let service = this.#services.get(name);
    if (service === undefined) {
      service = { name, queue: [], workers: [], unservedSince: now };
      this.#services.set(name, service);
    }
    return service;
  }

  #forgetIfEmpty(service: Service): void {
    if (service.queue.length === 0 && service.workers.length === 0) this.#services.delete(service.name);
  }

  /** Sends queued requests of `service` to its workers with free credit, skipping (and answering) expired ones. */
  #dispatch(service: Service, now: number): BrokerAction[] {
    const actions: BrokerAction[] = [];
    while (service.queue.length > 0) {
      const worker = this.#pick(service);
      if (worker === undefined) break;
      const pending = service.queue.shift()!;
      this.#queued--;
      if (pending.deadline !== undefined && pending.deadline.expiresAt <= now) {
        actions.push(...this.#expire(pending, now)); // never start a request whose deadline has passed
        continue;
      }
      const token = this.#tokens.next();
      pending.token = token;
      pending.worker = worker;
      worker.inFlight.add(pending);
      worker.lastUsed = ++this.#dispatches;
      this.#inFlight.set(token, pending);
      this.#forwarded++;
      const frames = [worker.id, ...encodeWorkerRequest(this.#tokens.frame(token), pending.body)];
      worker.sentAt = now;
      actions.push({ kind: "to-worker", frames, token });
    }
    return actions;
  }

  /** The worker of `service` with free credit and the lowest share of it in use; the least recently used among equals. */
  #pick(service: Service): Worker | undefined {
    let best: Worker | undefined;
    let bestLoad = Infinity;
    for (const w of service.workers) {
      if (w.leaving || w.stalled || w.inFlight.size >= w.capacity) continue;
      const load = w.inFlight.size / w.capacity;
      if (best === undefined || load < bestLoad || (load === bestLoad && w.lastUsed < best.lastUsed)) {
        best = w;
        bestLoad = load;
      }
    }
    return best;
  }

  /** The request in flight at `worker` with this client-address frame, removed from the tables. */
  #settle(frame: Buffer, worker: Worker): Pending | undefined {
    const token = this.#tokens.read(frame);
    if (token === undefined) return undefined;
    const pending = this.#inFlight.get(token);
    if (pending === undefined || pending.worker !== worker) return undefined;
    this.#inFlight.delete(token);
    worker.inFlight.delete(pending);
    this.#unindex(pending);
    return pending;
  }

  /** A request is answered (or cancelled while queued): a cancel notice no longer finds it. */
  #unindex(p: Pick<Pending, "client" | "correlationId">): void {
    if (p.correlationId === undefined) return;
    const key = callKey(p.client, p.correlationId);
    if (this.#byCall.get(key) === p) this.#byCall.delete(key);
  }

  /** After a worker's credit was freed: more work for it (none for a leaving worker). */
  #afterCredit(worker: Worker, now: number): BrokerAction[] {
    return worker.leaving ? [] : this.#dispatch(worker.service, now);
  }

  #requeue(p: Pending): void {
    // Its service was forgotten when its last worker went (dispatchFailed): list it again, so it is swept.
    const current = this.#services.get(p.service.name);
    if (current === undefined) this.#services.set(p.service.name, p.service);
    else p.service = current;
    p.service.queue.unshift(p);
    this.#queued++;
    this.#noteDue(p);
  }

  /**
   * A worker is gone (evicted, disconnected, unreachable, protocol error): it is forgotten; its requests in flight
   * marked idempotent go back to the front of their queue, in order, and the others are answered `UNAVAILABLE`.
   */
  #lose(worker: Worker, loss: Loss, now: number, silentMs?: number): BrokerAction[] {
    if (!this.#remove(worker, now)) return [];
    const held = [...worker.inFlight];
    worker.inFlight.clear();
    const actions: BrokerAction[] = [];
    const again: Pending[] = [];
    let lost = 0;
    for (const p of held) {
      this.#inFlight.delete(p.token);
      p.worker = undefined;
      p.token = 0;
      if (p.idempotent && !this.#closing) {
        again.push(p);
      } else {
        lost++;
        actions.push(
          ...this.#answer(
            p,
            WireErrorCode.UNAVAILABLE,
            `Broker: ${REASONS.workerLost(worker.name, worker.service.name, loss.how)}`,
          ),
        );
      }
    }
    for (let i = again.length - 1; i >= 0; i--) this.#requeue(again[i]!);
    this.#redispatched += again.length;
    const base = { service: worker.service.name, worker: worker.name, redispatched: again.length, lost };
    const event: RpcBrokerEvent =
      loss.type === "worker:evicted"
        ? { type: "worker:evicted", ...base, silentMs: silentMs ?? 0 }
        : { type: "worker:gone", ...base, reason: loss.how };
    actions.unshift({ kind: "event", event });
    if (again.length > 0) actions.push(...this.#dispatch(worker.service, now));
    this.#forgetIfEmpty(worker.service);
    return actions;
  }

  /**
   * Removes a worker from the tables, and its service when nothing else holds it (the caller does that after
   * handling the requests in flight, if there are any); false if the worker was not there.
   */
  #remove(worker: Worker, now: number): boolean {
    if (!this.#workers.delete(worker.key)) return false;
    const list = worker.service.workers;
    const at = list.indexOf(worker);
    if (at >= 0) list.splice(at, 1);
    this.#markUnserved(worker.service, now);
    if (worker.inFlight.size === 0) this.#forgetIfEmpty(worker.service);
    return true;
  }

  #markUnserved(service: Service, now: number): void {
    if (service.unservedSince !== undefined || service.workers.some((w) => !w.leaving)) return;
    service.unservedSince = now;
    this.#served.delete(service.name);
    for (const p of service.queue) this.#noteDue(p);
  }

  #toWorker(worker: Worker, frames: Uint8Array[]): BrokerAction {
    return { kind: "to-worker", frames: [worker.id, ...frames] };
  }

  /** A reply body (a worker's, or the broker's own) framed for its client: MDP or v1. */
  #toClient(to: Pick<Pending, "client" | "envelope" | "mdp" | "asked">, body: readonly Uint8Array[]): BrokerAction {
    const frames = to.mdp ? encodeClientReply(to.envelope, to.asked, body) : [...to.envelope, EMPTY, ...body];
    return { kind: "to-client", frames: [to.client, ...frames] };
  }

  /**
   * The broker's own answer, an RPC error reply body `["error", {code, message, details?}, headers{correlationId}?]`.
   * `service` overrides the service frame of an MDP reply (for a malformed request, when it was readable).
   */
  #answer(
    to: Pick<Pending, "client" | "envelope" | "mdp" | "asked" | "correlationId" | "trace">,
    code: string,
    message: string,
    details?: unknown,
    event = true,
  ): BrokerAction[] {
    this.#rejected++;
    if (to.trace !== undefined) endSpan(to.trace, { code, message });
    this.#unindex(to);
    const error: RpcErrorBody = details === undefined ? { code, message } : { code, message, details };
    const body: Uint8Array[] = [STATUS_ERROR_FRAME, this.#c.codec.encode(error)];
    if (to.correlationId !== undefined) body.push(Buffer.from(JSON.stringify({ correlationId: to.correlationId }), "utf8"));
    const reply = this.#toClient(to, body);
    if (!event) return [reply];
    return [{ kind: "event", event: { type: "request:rejected", code, reason: message } }, reply];
  }

  /** A message the owner refused before parsing (over a limit): counted as dropped and reported. */
  dropMessage(reason: string): BrokerAction[] {
    return this.#drop(reason);
  }

  #drop(reason: string): BrokerAction[] {
    this.#dropped++;
    return [{ kind: "event", event: { type: "message:dropped", reason } }];
  }
}
