/**
 * @packageDocumentation
 * Deadlines that travel (docs/protocol.md, "Deadlines"): a request's headers carry its deadline twice, as an
 * absolute time (`deadline`, Unix milliseconds on the sender's clock) and as the time the sender had left when it
 * sent it (`remainingMs`). Pure functions, no clocks read: the caller passes the time it read the message.
 *
 * The rule: a request is expired when either says so. `remainingMs` is counted from the moment the receiver read
 * the message, so it is immune to clock skew but blind to time spent in queues before the read (a server that was
 * stopped, kernel buffers). The absolute time catches that time, but trusts the sender's clock.
 *
 * Clock-skew policy: a deadline later than the read time plus `remainingMs` (plus a tolerance) can only mean the
 * sender's clock is ahead; the remaining time governs and the skew is reported. A deadline in the past is honoured
 * (the request expired while it waited), and the error says how far in the past, so that a sender whose clock is
 * behind is easy to spot; a receiver that cannot trust its senders' clocks turns absolute deadlines off and keeps
 * the remaining time only.
 * @internal
 */
import type { MessageHeaders } from "./headers.js";

/** Tolerance for the sender-ahead check, in milliseconds: clocks kept by NTP agree far better than this. */
export const CLOCK_SKEW_TOLERANCE_MS = 1_000;

/** When a request stops being worth starting, as far as its headers say. */
export interface RequestDeadline {
  /** Local time (`Date.now()` scale) after which the request must not be started. */
  readonly expiresAt: number;
  /** Which header set `expiresAt`. */
  readonly by: "remainingMs" | "deadline";
  /** Set when the absolute deadline was later than the remaining time allows: the sender's clock is ahead by about this much. */
  readonly senderAheadMs?: number;
}

/**
 * The deadline of a request read at `readAt`, or undefined when its headers carry none.
 * @param useAbsolute - Honour the absolute `deadline` header (the default policy); false keeps `remainingMs` only.
 */
export function requestDeadline(
  headers: MessageHeaders | undefined,
  readAt: number,
  useAbsolute = true,
): RequestDeadline | undefined {
  if (headers === undefined) return undefined;
  const { remainingMs } = headers;
  const deadline = useAbsolute ? headers.deadline : undefined;
  const relative = remainingMs === undefined ? undefined : readAt + remainingMs;
  if (relative === undefined) return deadline === undefined ? undefined : { expiresAt: deadline, by: "deadline" };
  if (deadline === undefined) return { expiresAt: relative, by: "remainingMs" };
  if (deadline > relative + CLOCK_SKEW_TOLERANCE_MS) {
    return { expiresAt: relative, by: "remainingMs", senderAheadMs: deadline - relative };
  }
  return deadline < relative ? { expiresAt: deadline, by: "deadline" } : { expiresAt: relative, by: "remainingMs" };
}

/** Milliseconds left before `deadline` at `now` (negative once passed), or Infinity without a deadline. */
export function timeLeft(deadline: RequestDeadline | undefined, now: number): number {
  return deadline === undefined ? Infinity : deadline.expiresAt - now;
}

/** Why a request was not started, for the `DEADLINE_EXCEEDED` error message. */
export function expiredReason(deadline: RequestDeadline, now: number): string {
  const late = Math.max(0, Math.round(now - deadline.expiresAt));
  return deadline.by === "deadline"
    ? `its absolute deadline passed ${late} ms before it could start (it waited in a queue that long, or the sender's clock is behind this host's)`
    : `the time it had left (remainingMs) ran out ${late} ms before it could start`;
}

/** The deadline headers of a request sent now with `remainingMs` left. */
export function deadlineHeaders(now: number, remainingMs: number): { readonly deadline: number; readonly remainingMs: number } {
  return { deadline: now + remainingMs, remainingMs };
}
