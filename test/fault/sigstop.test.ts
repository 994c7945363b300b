import { afterEach, describe, expect, test } from "vitest";
import { count, callsOf, execsOf, expectSound, printCounts } from "./harness/counts.js";
import { KILL_ALL_MS, RoleSet, is } from "./harness/role.js";
import { SERVICE, aboutWorker, clientDone, holdFault, startBrokerPool, startClient, startServer } from "./harness/scenario.js";

// A direct server stopped with SIGSTOP for 3 s under load, with 1 s call deadlines. ZMTP heartbeats are off on the
// client, so its connection stays up and the calls made during the stop wait in kernel buffers and time out at the
// client (TIMEOUT). After SIGCONT the server reads them all: it must not start one whose deadline has passed (it is
// caught by the absolute deadline, whatever the remaining time says). The load goes on after SIGCONT, and those
// calls succeed.

const roles = new RoleSet();
afterEach(() => roles.killAll(), KILL_ALL_MS);

const STOP_MS = 3_000;

describe("server stopped with SIGSTOP for 3 s", () => {
  test("calls whose deadline passed are not executed after SIGCONT; none hangs", async () => {
    // Heartbeats off on both sides: the connection must survive the stop, so that the requests wait in its buffers.
    const a = await startServer(roles, "A", { heartbeatIntervalMs: 0 });
    const settings = {
      endpoints: [a.endpoint],
      method: "workOnce",
      retry: false,
      rate: 500,
      handlerMs: 20,
      durationMs: 6_000,
      timeoutMs: 1_000,
      heartbeatIntervalMs: 0,
    } as const;
    const client = await startClient(roles, settings);
    await client.waitFor(is.made(500), 10_000, "500 calls made");
    const stoppedAt = a.role.signal("SIGSTOP");
    await holdFault(stoppedAt, STOP_MS);
    const continuedAt = a.role.signal("SIGCONT");
    await clientDone(client, settings);
    a.role.send("stop");
    const stats = await a.role.waitFor(is.stats, 10_000, "server stats");

    const counts = count(client, [a.role], { server: a.role, stoppedAt, continuedAt });
    const calls = callsOf(client);
    const expiredDuringStop = calls.filter((c) => c.deadline > stoppedAt && c.deadline < continuedAt);
    const execsAfterCont = execsOf(a.role).filter((e) => e.t >= continuedAt);
    printCounts("direct SIGSTOP 3 s", counts, {
      "deadlines that passed during the stop": expiredDuringStop.length,
      "executions after SIGCONT": execsAfterCont.length,
      "succeeded after SIGCONT": calls.filter((c) => c.outcome === "ok" && c.sent >= continuedAt).length,
      "server stats": stats.stats,
    });
    expectSound(counts);
    expect(
      expiredDuringStop.filter((c) => c.outcome !== "ok").length,
      "calls failed during the stop (the test measures nothing without them)",
    ).toBeGreaterThan(500);
    expect(
      calls.filter((c) => c.outcome === "ok" && c.sent >= continuedAt).length,
      "the server serves again after SIGCONT",
    ).toBeGreaterThan(0);
  }, 40_000);

  test("a worker stopped for 3 s: evicted on silence, its expired requests never run after SIGCONT, re-admitted", async () => {
    const heartbeatMs = 500;
    const liveness = 3;
    const { broker, frontend, w1, w2 } = await startBrokerPool(roles, { heartbeatMs, liveness, concurrency: 20 });
    const settings = {
      endpoints: [frontend],
      service: SERVICE,
      method: "work",
      rate: 300,
      handlerMs: 50,
      durationMs: 7_000,
      timeoutMs: 1_000,
    } as const;
    const client = await startClient(roles, settings);
    await client.waitFor(is.made(300), 10_000, "300 calls made");
    const stoppedAt = w1.signal("SIGSTOP");
    const evicted = await broker.waitFor(is.event("worker:evicted", aboutWorker("w1")), 10_000, "w1 evicted");
    await holdFault(stoppedAt, STOP_MS);
    const continuedAt = w1.signal("SIGCONT");
    const readmitted = await broker.waitFor(
      (m) => is.event("worker:ready", aboutWorker("w1"))(m) && m.t >= continuedAt,
      10_000,
      "w1 ready again after SIGCONT",
    );
    await clientDone(client, settings);

    const counts = count(client, [w1, w2], { server: w1, stoppedAt, continuedAt });
    const calls = callsOf(client);
    const stuck = calls.filter((c) => c.outcome !== "ok" && c.sent >= stoppedAt - settings.handlerMs && c.sent < continuedAt);
    const bound = heartbeatMs * liveness + 1_000;
    printCounts("worker SIGSTOP 3 s through the broker", counts, {
      "evicted after the stop (ms)": evicted.t - stoppedAt,
      "bound (ms)": bound,
      "re-admitted after SIGCONT (ms)": readmitted.t - continuedAt,
      "calls made during the stop that failed": stuck.length,
      "w1 executions after SIGCONT": execsOf(w1).filter((e) => e.t >= continuedAt).length,
      "w1 executions after re-admission": execsOf(w1).filter((e) => e.t >= readmitted.t).length,
      "broker event": evicted.event,
    });
    expectSound(counts);
    expect(evicted.t - stoppedAt, "eviction after the stop (ms)").toBeLessThanOrEqual(bound);
    expect(execsOf(w1).filter((e) => e.t >= readmitted.t).length, "w1 re-admitted but got no work").toBeGreaterThan(0);
  }, 60_000);
});
