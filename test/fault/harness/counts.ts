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
  /** Executions seen in all (a retried call may run more than once). */
  readonly executions: number;
}

/** The call records a client printed. */
export function callsOf(client: Role): CallRecord[] {
  return client.messages.filter((m): m is CallRecord => m.type === "call");
}

/** The executions servers printed. */
export function execsOf(...servers: readonly Role[]): ExecRecord[] {
  return servers.flatMap((s) => s.messages.filter((m): m is ExecRecord => m.type === "exec"));
}

/** Counts from a client's records (its `done` message must have arrived) and the servers' executions. */
export function count(client: Role, servers: readonly Role[]): Counts {
  const done = client.messages.find((m) => m.type === "done");
  if (done?.type !== "done") throw new Error(`${client.label} has not finished: no counts yet\n${client.transcript()}`);
  const calls = callsOf(client);
  const failed: Record<string, number> = {};
  for (const call of calls) if (call.outcome !== "ok") failed[call.outcome] = (failed[call.outcome] ?? 0) + 1;
  const byId = new Map(calls.map((c) => [c.id, c]));
  const execs = execsOf(...servers);
  let afterTimeout = 0;
  let afterDeadline = 0;
  const timedOutAndRun = new Set<string>();
  for (const exec of execs) {
    const call = byId.get(exec.id);
    if (call === undefined) continue;
    if (exec.t > call.deadline) afterDeadline++;
    if (call.outcome === "TIMEOUT" && exec.t > call.settled) timedOutAndRun.add(call.id);
  }
  afterTimeout = timedOutAndRun.size;
  return {
    made: done.made,
    succeeded: calls.filter((c) => c.outcome === "ok").length,
    failed,
    hung: done.hung.length,
    executedAfterTimeout: afterTimeout,
    executedAfterDeadline: afterDeadline,
    executions: execs.length,
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
      `executed after deadline ${counts.executedAfterDeadline} (failed TIMEOUT and executed afterwards ` +
      `${counts.executedAfterTimeout}), executions ${counts.executions}${more === "" ? "" : `; ${more}`}`,
  );
}

/** The assertions every fault test makes: every call settled, and none was run after its deadline. */
export function expectSound(counts: Counts): void {
  expect(counts.made, "the client made no calls: the test measured nothing").toBeGreaterThan(0);
  expect(counts.succeeded + Object.values(counts.failed).reduce((a, b) => a + b, 0) + counts.hung).toBe(counts.made);
  expect(counts.hung, "calls that never settled").toBe(0);
  expect(counts.executedAfterTimeout, "calls that failed TIMEOUT at the client and were executed afterwards").toBe(0);
  expect(counts.executedAfterDeadline, "executions that started after their call's deadline").toBe(0);
}
