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
