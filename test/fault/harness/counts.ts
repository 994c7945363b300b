/**
 * The counts every fault test prints, and the assertions every test shares: nothing hangs, and no call that failed
 * with TIMEOUT (or whose deadline had passed) was executed after the client gave up. All processes run on this
 * machine, so the times the client and the servers printed are on one clock.
 */
import { expect } from "vitest";
import type { RoleMessage } from "./contract.js";
import type { Role } from "./role.js";

/** A call as the client recorded it. */
export type CallRecord = Extract<RoleMessage, { type: "call" }>;
/** An execution as a server recorded it (when its handler started). */
export type ExecRecord = Extract<RoleMessage, { type: "exec" }>;

/**
 * How late after its deadline a start may still be a start the server decided on in time. Deadlines and the
 * server's check are whole milliseconds (`Date.now()`), and between the check and the handler's first line the
 * server decodes and validates the request: in a process that has just started (cold code) that took a
 * millisecond or two (seen: one call started 1 ms after its deadline, in the restart test). Starts later than this
 * are counted as failures; every late start is printed.
 */
export const START_SLACK_MS = 5;

/** What one test saw. */
export interface Counts {
  readonly made: number;
  readonly succeeded: number;
  readonly failed: Readonly<Record<string, number>>;
  /** Calls the client never saw settle (it waited well past their deadlines). */
  readonly hung: number;
  /** Calls that failed TIMEOUT at the client and whose execution started after the client gave up. */
  readonly executedAfterTimeout: number;
  /** Executions (of any call) that started after that call's deadline. */
  readonly executedAfterDeadline: number;
  /** Of those, the ones that started more than {@link START_SLACK_MS} after it. */
  readonly executedWellAfterDeadline: number;
  /** Executions seen in all (a retried call may run more than once). */
  readonly executions: number;
  /** The first few executions counted as late, with their calls, to say what happened. */
  readonly late: readonly string[];
}

/** The call records a client printed. */
export function callsOf(client: Role): CallRecord[] {
  return client.messages.filter((m): m is CallRecord => m.type === "call");
}

/** The executions servers printed. */
export function execsOf(...servers: readonly Role[]): ExecRecord[] {
  return servers.flatMap((s) => s.messages.filter((m): m is ExecRecord => m.type === "exec"));
}

/**
 * A server process frozen by the test (SIGSTOP at `stoppedAt`, SIGCONT at `continuedAt`). A single-threaded server can
 * be caught between its deadline check and its handler's first line by the freeze for at most one request: that
 * execution, if it is the server's first one after SIGCONT and starts within {@link START_SLACK_MS} of it, for a call
 * sent before the stop, is counted as starting when the freeze began (and printed as such).
 */
export interface Freeze {
  readonly server: Role;
  readonly stoppedAt: number;
  readonly continuedAt: number;
}

/** The execution a freeze caught mid-start, if any (see {@link Freeze}). */
function caughtByFreeze(freeze: Freeze, byId: ReadonlyMap<string, CallRecord>): ExecRecord | undefined {
  const first = execsOf(freeze.server).find((e) => e.t >= freeze.continuedAt);
  if (first === undefined || first.t > freeze.continuedAt + START_SLACK_MS) return undefined;
  const call = byId.get(first.id);
  return call !== undefined && call.sent < freeze.stoppedAt ? first : undefined;
}

/** Counts from a client's records (its `done` message must have arrived) and the servers' executions. */
export function count(client: Role, servers: readonly Role[], freeze?: Freeze): Counts {
  const done = client.messages.find((m) => m.type === "done");
  if (done?.type !== "done") throw new Error(`${client.label} has not finished: no counts yet\n${client.transcript()}`);
  const calls = callsOf(client);
  const failed: Record<string, number> = {};
  for (const call of calls) if (call.outcome !== "ok") failed[call.outcome] = (failed[call.outcome] ?? 0) + 1;
  const byId = new Map(calls.map((c) => [c.id, c]));
  const execs = execsOf(...servers);
  let afterDeadline = 0;
  let wellAfter = 0;
  const timedOutAndRun = new Set<string>();
  const late: string[] = [];
  const straddling = freeze === undefined ? undefined : caughtByFreeze(freeze, byId);
  if (straddling !== undefined && freeze !== undefined) {
    late.push(
      `${straddling.id} on ${straddling.server}: its handler's first line ran ${straddling.t - freeze.continuedAt} ms ` +
        `after SIGCONT, its call was sent before SIGSTOP: caught by the freeze mid-start, counted as starting at SIGSTOP`,
    );
  }
  for (const exec of execs) {
    const call = byId.get(exec.id);
    if (call === undefined) continue;
    const t = exec === straddling && freeze !== undefined ? freeze.stoppedAt : exec.t;
    const afterItsDeadline = t > call.deadline;
    // A start within START_SLACK_MS of the deadline is the server's check-to-start gap (see there), also when the
    // client's own timer fired in that gap: only later starts count as run after the client gave up.
    const wellAfterItsDeadline = t > call.deadline + START_SLACK_MS;
    const afterGivingUp = call.outcome === "TIMEOUT" && t > call.settled && wellAfterItsDeadline;
    if (afterItsDeadline) afterDeadline++;
    if (wellAfterItsDeadline) wellAfter++;
    if (afterGivingUp) timedOutAndRun.add(call.id);
    if ((afterItsDeadline || afterGivingUp) && late.length < 5) {
      late.push(
        `${exec.id} on ${exec.server}: started ${t - call.sent} ms after the call was made, deadline ` +
          `${call.deadline - call.sent} ms (the server's: ${exec.deadline === undefined ? "none" : `${exec.deadline - call.sent} ms`}), ` +
          `${call.outcome} at ${call.settled - call.sent} ms`,
      );
    }
  }
  return {
    made: done.made,
    succeeded: calls.filter((c) => c.outcome === "ok").length,
    failed,
    hung: done.hung.length,
    executedAfterTimeout: timedOutAndRun.size,
    executedAfterDeadline: afterDeadline,
    executedWellAfterDeadline: wellAfter,
    executions: execs.length,
    late,
  };
}

/** Prints the counts on one line, with the test's own figures after them. */
export function printCounts(test: string, counts: Counts, extra: Readonly<Record<string, unknown>> = {}): void {
  const failed = Object.entries(counts.failed)
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
  const more = Object.entries(extra)
    .map(([k, v]) => `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("; ");
  console.log(
    `[fault] ${test}: made ${counts.made}, succeeded ${counts.succeeded}, failed {${failed}}, hung ${counts.hung}, ` +
      `executed after deadline ${counts.executedAfterDeadline} (more than ${START_SLACK_MS} ms after: ` +
      `${counts.executedWellAfterDeadline}; failed TIMEOUT and executed afterwards ` +
      `${counts.executedAfterTimeout}), executions ${counts.executions}${more === "" ? "" : `; ${more}`}`,
  );
  for (const line of counts.late) console.log(`[fault]   late: ${line}`);
}

/** The assertions every fault test makes: every call settled, and none was run after its deadline. */
export function expectSound(counts: Counts): void {
  expect(counts.made, "the client made no calls: the test measured nothing").toBeGreaterThan(0);
  expect(counts.succeeded + Object.values(counts.failed).reduce((a, b) => a + b, 0) + counts.hung).toBe(counts.made);
  expect(counts.hung, "calls that never settled").toBe(0);
  expect(counts.executedAfterTimeout, "calls that failed TIMEOUT at the client and were executed afterwards").toBe(0);
  expect(
    counts.executedWellAfterDeadline,
    `executions that started more than ${START_SLACK_MS} ms after their call's deadline`,
  ).toBe(0);
}
