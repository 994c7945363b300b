/**
 * @packageDocumentation
 * The one watcher of a socket's connection events (zeromq.js `socket.events`, in emitter mode, so that other
 * listeners of the same socket, as the CURVE guard's, share it): turns `handshake`, `disconnect` and
 * `handshake:error:*` into the public {@link ConnectionEvent}s. A `disconnect` after `connect` or `accept` with no
 * `handshake` between is a failed handshake (libzmq drops a peer of an incompatible socket type that way), the same
 * rule as an RpcClient link's (rpc-link.ts, which watches in iterator mode for its own liveness and shares
 * {@link handshakeFailureReason}).
 *
 * A class calls it only when the user gave `onEvent`: without it no monitor is started. inproc has no monitor
 * events, so an inproc socket reports none.
 * @internal
 */
import type * as zmq from "zeromq";
import type { ConnectionEvent } from "../events.js";
import { callHook } from "./hooks.js";

/** The words of a `handshake:error:*` event: `protocol error: ...`, `auth error: ...`, `other error: ...`. */
export function handshakeFailureReason(event: { readonly type: string; readonly error: Error }): string {
  return `${event.type.slice("handshake:error:".length)} error: ${event.error.message}`;
}

/** The reason of a disconnect during the handshake. */
export const CLOSED_DURING_HANDSHAKE = "the peer closed the connection during the handshake";

/** Options of {@link watchConnections}. */
export interface WatchOptions<TExtra extends object> {
  /** Fields added to every event (a broker's `face`). */
  readonly extra?: TExtra;
  /**
   * The class's CURVE guard already reports `handshake:error:*` to the same `onEvent` (RpcServer, the brokers):
   * leave those out here, so that each failure is reported once.
   */
  readonly guardReports?: boolean;
}

/**
 * Reports the connection events of `socket` to `onEvent` (what it throws is ignored); does nothing without it.
 * Call it before the socket binds or connects, so that no event is missed; the watch ends when the socket closes.
 */
export function watchConnections<TExtra extends object>(
  socket: zmq.Socket,
  onEvent: ((event: ConnectionEvent & TExtra) => void) | undefined,
  options: WatchOptions<TExtra> = {},
): void {
  if (onEvent === undefined) return;
  const { extra, guardReports = false } = options;
  const emit = (event: ConnectionEvent): void =>
    callHook(onEvent, (extra === undefined ? event : { ...event, ...extra }) as ConnectionEvent & TExtra);
  const events = socket.events;
  /** Connections (by address) that were made and have no handshake yet, with how many there are. */
  const opening = new Map<string, number>();
  const opened = (event: { readonly address: string }): void => {
    opening.set(event.address, (opening.get(event.address) ?? 0) + 1);
  };
  /** Takes one opening connection at `address` off the list; true when there was one. */
  const settle = (address: string): boolean => {
    const n = opening.get(address);
    if (n === undefined) return false;
    if (n <= 1) opening.delete(address);
    else opening.set(address, n - 1);
    return true;
  };
  /** Connections of each address whose handshake is done, so that a disconnect knows which kind it ends. */
  const live = new Map<string, number>();
  events.on("connect", opened);
  events.on("accept", opened);
  events.on("handshake", (event) => {
    settle(event.address);
    live.set(event.address, (live.get(event.address) ?? 0) + 1);
    emit({ type: "connected", endpoint: event.address });
  });
  for (const type of ["handshake:error:protocol", "handshake:error:auth", "handshake:error:other"] as const) {
    events.on(type, (event) => {
      settle(event.address);
      if (!guardReports) emit({ type: "handshake-failed", endpoint: event.address, reason: handshakeFailureReason(event) });
    });
  }
  events.on("disconnect", (event) => {
    const n = live.get(event.address) ?? 0;
    if (n > 0) {
      if (n === 1) live.delete(event.address);
      else live.set(event.address, n - 1);
      emit({ type: "disconnected", endpoint: event.address });
    } else if (settle(event.address)) {
      emit({ type: "handshake-failed", endpoint: event.address, reason: CLOSED_DURING_HANDSHAKE });
    }
  });
}

/** The `face` of a broker's frontend events. */
export const FRONTEND = { face: "frontend" } as const;
/** The `face` of a broker's backend events. */
export const BACKEND = { face: "backend" } as const;
