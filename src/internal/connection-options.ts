/**
 * @packageDocumentation
 * The connection options every request-reply socket shares: ZMTP heartbeats (RFC 37, `ZMQ_HEARTBEAT_*`) and the
 * reconnect intervals, read once with an {@link OptionReader} and turned into zeromq.js socket options.
 *
 * ZMTP heartbeats are on by default: a PING every `heartbeatIntervalMs`, and a connection whose peer has sent
 * nothing for `heartbeatTimeoutMs` is closed, so a frozen or cut-off peer shows up as a disconnect (and its calls
 * fail over) instead of as a slow one. libzmq rounds these to deciseconds and ignores values under 100 ms
 * (docs/protocol.md, "Connections"). They apply to connection-oriented transports (tcp, ipc); inproc has no wire.
 * @internal
 */
import type { OptionReader } from "./options.js";

/** The options, as users write them. Mixed into the options of `RpcClient` and `RpcServer`. */
export interface ConnectionOptions {
  /**
   * ZMTP heartbeat interval (`ZMQ_HEARTBEAT_IVL`), in milliseconds; `0` turns heartbeats off. libzmq rounds it to
   * deciseconds; under 100 ms it has no effect.
   * @defaultValue 1000
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * How long without any traffic from the peer before the connection is closed (`ZMQ_HEARTBEAT_TIMEOUT`).
   * @defaultValue 3 × `heartbeatIntervalMs`
   */
  readonly heartbeatTimeoutMs?: number;
  /**
   * Asks the peer to close the connection when it hears nothing from this side for this long (`ZMQ_HEARTBEAT_TTL`).
   * @defaultValue `heartbeatTimeoutMs`
   */
  readonly heartbeatTimeToLiveMs?: number;
  /**
   * First wait before reconnecting a lost connection (`ZMQ_RECONNECT_IVL`).
   * @defaultValue 100
   */
  readonly reconnectIntervalMs?: number;
  /**
   * Longest wait between reconnection attempts: the wait doubles up to this (`ZMQ_RECONNECT_IVL_MAX`).
   * @defaultValue 2000
   */
  readonly reconnectMaxIntervalMs?: number;
}

/** The zeromq.js socket options the connection options become. */
export interface ConnectionSocketOptions {
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  readonly heartbeatTimeToLive: number;
  readonly reconnectInterval: number;
  readonly reconnectMaxInterval: number;
}

/** The defaults, in one place (documented on {@link ConnectionOptions}). @internal */
export const CONNECTION_DEFAULTS = { heartbeatIntervalMs: 1_000, reconnectIntervalMs: 100, reconnectMaxIntervalMs: 2_000 };

/** Reads {@link ConnectionOptions} from `read` (the owner's options) into socket options. @internal */
export function readConnectionOptions(read: OptionReader): ConnectionSocketOptions {
  const heartbeatInterval = Math.round(read.nonNegativeMs("heartbeatIntervalMs", CONNECTION_DEFAULTS.heartbeatIntervalMs));
  const heartbeatTimeout = Math.round(read.nonNegativeMs("heartbeatTimeoutMs", 3 * heartbeatInterval));
  const heartbeatTimeToLive = Math.round(read.nonNegativeMs("heartbeatTimeToLiveMs", heartbeatTimeout));
  const reconnectInterval = Math.round(read.nonNegativeMs("reconnectIntervalMs", CONNECTION_DEFAULTS.reconnectIntervalMs));
  const reconnectMaxInterval = Math.round(
    read.nonNegativeMs("reconnectMaxIntervalMs", Math.max(reconnectInterval, CONNECTION_DEFAULTS.reconnectMaxIntervalMs)),
  );
  // libzmq keeps the TTL in deciseconds in a 16-bit field: 6553.5 s at most.
  if (heartbeatTimeToLive > 6_553_500) {
    throw read.fail("heartbeatTimeToLiveMs", "at most 6553500 ms (libzmq's limit)", heartbeatTimeToLive);
  }
  return { heartbeatInterval, heartbeatTimeout, heartbeatTimeToLive, reconnectInterval, reconnectMaxInterval };
}
