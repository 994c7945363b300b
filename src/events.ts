/**
 * @packageDocumentation
 * The event shapes the pattern classes share, as given to their `onEvent` option. Each class's own event type
 * (`RpcClientEvent`, `SubscriberEvent`, ...) is a union of some of these and of its own, discriminated on `type`.
 * Events are additive: the older hooks (`onDrop`, `onError`, `onGap`, `onSubscription`) keep being called, and an
 * error thrown by `onEvent` is ignored. With no `onEvent`, nothing is built or watched.
 */
import type { ValidationIssue } from "./errors/index.js";

/** A peer connected and its ZMTP handshake is done (zeromq.js `handshake` socket event). */
export interface ConnectedEvent {
  /** Discriminant. */
  readonly type: "connected";
  /** The endpoint of the connection, as libzmq reports it (for a bound socket, the bound address). */
  readonly endpoint: string;
}

/** A connection whose handshake was done was lost (zeromq.js `disconnect` socket event). */
export interface DisconnectedEvent {
  /** Discriminant. */
  readonly type: "disconnected";
  /** The endpoint of the connection, as libzmq reports it (for a bound socket, the bound address). */
  readonly endpoint: string;
}

/**
 * A peer accepted or made a connection and the ZMTP handshake failed: wrong socket type, wrong or missing CURVE
 * keys, or a peer that closed during the handshake. Nothing it sent reached the class.
 */
export interface HandshakeFailedEvent {
  /** Discriminant. */
  readonly type: "handshake-failed";
  /** The endpoint of the connection, as libzmq reports it. */
  readonly endpoint: string;
  /** What failed, in words (`protocol error: ...`, `auth error: ...`, `the peer closed the connection ...`). */
  readonly reason: string;
}

/** The connection events of a socket: {@link ConnectedEvent}, {@link DisconnectedEvent}, {@link HandshakeFailedEvent}. */
export type ConnectionEvent = ConnectedEvent | DisconnectedEvent | HandshakeFailedEvent;

/**
 * The connection events of a broker, which has two sockets: `face` says which one (`frontend`: clients or sources;
 * `backend`: workers).
 */
export type BrokerConnectionEvent = ConnectionEvent & {
  /** The socket the event happened on. */
  readonly face: "frontend" | "backend";
};

/**
 * A payload broke its schema: an outgoing one was refused before it was sent (the call, publish or push also
 * throws a `ContractValidationError`), or an incoming one was dropped or answered with an error.
 */
export interface ValidationFailedEvent {
  /** Discriminant. */
  readonly type: "validation-failed";
  /** `outgoing`: about to be sent; `incoming`: just received. */
  readonly direction: "outgoing" | "incoming";
  /** The contract's name (and version), for example `orders.v1`. */
  readonly contract: string;
  /** The method (RPC), topic (pub-sub) or job kind (pipeline: `task` or `result`) the payload belongs to. */
  readonly method: string;
  /** The problems the schema found. */
  readonly issues: readonly ValidationIssue[];
}

/**
 * A message was dropped: the same information as the class's `onDrop` hook (whose `reason` and `message` it
 * carries), with `type: "dropped"`.
 */
export type DroppedEvent<TInfo extends { readonly reason: string }> = {
  /** Discriminant. */
  readonly type: "dropped";
} & TInfo;

/** A call of an `RpcClient` (or one attempt of it) ran out of time: which, and after how long. */
export interface TimedOutEvent {
  /** Discriminant. */
  readonly type: "timed-out";
  /**
   * What timed out: `call` (a whole call, `timeoutMs`) or `attempt` (one attempt of an idempotent call,
   * `attemptTimeoutMs`; it is retried when time and attempts are left).
   */
  readonly what: "call" | "attempt";
  /** The RPC method of the call. */
  readonly method: string;
  /** How long it had waited, in milliseconds. */
  readonly afterMs: number;
  /** The endpoint it was waiting on (all of the client's endpoints when it was never sent). */
  readonly endpoint: string;
  /** False when nothing was ever sent because no server was connected in time (the call fails with `NoServerError`). */
  readonly sent: boolean;
}

/**
 * A `publish()` (with `noDrop`) or a `push()` waited its `timeoutMs` and gave up: the call rejected with a
 * `TimeoutError`, and the message was not sent (a reliable push: the broker did not answer in time; it may still
 * have stored the task, see `PipelineSource.push`).
 */
export interface SendTimedOutEvent {
  /** Discriminant. */
  readonly type: "timed-out";
  /** `publish` (Publisher) or `push` (PipelineSource). */
  readonly what: "publish" | "push";
  /** The topic published, or `task` for a push. */
  readonly target: string;
  /** The call's `timeoutMs`. */
  readonly afterMs: number;
}

/**
 * A request reached an `RpcServer` after its deadline (protocol 1.2 headers): it was answered `DEADLINE_EXCEEDED`
 * and its handler never ran.
 */
export interface RequestExpiredEvent {
  /** Discriminant. */
  readonly type: "timed-out";
  /** Always `request`. */
  readonly what: "request";
  /** The RPC method of the request. */
  readonly method: string;
  /** How long after its deadline the server came to start it, in milliseconds. */
  readonly lateMs: number;
}

/**
 * A reliable `PipelineSource` sent tasks again that the broker had not answered: on a new connection to the broker,
 * or after `resendMs` without an answer. The broker keeps one copy of each id, so a resend is never a duplicate task.
 */
export interface ResentEvent {
  /** Discriminant. */
  readonly type: "retried";
  /** Always `push`. */
  readonly what: "push";
  /** How many tasks were sent again in this round. */
  readonly count: number;
}
