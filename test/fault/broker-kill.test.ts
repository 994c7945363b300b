import { afterEach, describe, expect, test } from "vitest";
import { count, callsOf, execsOf, expectSound, printCounts } from "./harness/counts.js";
import { KILL_ALL_MS, RoleSet, is } from "./harness/role.js";
import { SERVICE, aboutWorker, clientDone, inFlightAt, startBrokerPool, startClient } from "./harness/scenario.js";

// An MDP broker with two workers, both at capacity (25 handlers each, 100 ms a call, 600 calls/s offered: more than
// the 500/s they can serve, so every credit is in use and a few requests queue), and one worker killed with SIGKILL.
// The broker must evict it within heartbeatMs × liveness + 1 s (or drop it sooner, when its connection is seen gone), and re-dispatch its idempotent requests to the
// other worker: every call succeeds, none hangs.

const roles = new RoleSet();
afterEach(() => roles.killAll(), KILL_ALL_MS);

const heartbeatMs = 500;
const liveness = 3;

describe("broker with two workers at capacity, one killed with SIGKILL", () => {
  test("the dead worker is evicted in time, its idempotent requests succeed on the other, none hangs", async () => {
    const { broker, frontend, w1, w2 } = await startBrokerPool(roles, { heartbeatMs, liveness, concurrency: 25 });
    const settings = {
      endpoints: [frontend],
      service: SERVICE,
      method: "work",
      rate: 600,
      handlerMs: 100,
      durationMs: 3_500,
      timeoutMs: 8_000,
    } as const;
    const client = await startClient(roles, settings);
    await client.waitFor(is.made(800), 10_000, "800 calls made");
    // At capacity: every credit of both workers in use when w1 dies (the broker's own view, just before the kill).
    broker.send("services");
    const services = await broker.waitFor(is.stats, 5_000, "broker.services()");
    const killedAt = await w1.kill();
    // The broker removes a dead worker at the latest when it has been silent for heartbeatMs × liveness
    // (`worker:evicted`), or earlier, when a send to it fails because its connection is gone (`worker:gone`).
    const removed = is.event(["worker:evicted", "worker:gone"], aboutWorker("w1"));
    const evicted = await broker.waitFor(removed, 10_000, "w1 evicted or gone");
    await clientDone(client, settings);

    const counts = count(client, [w1, w2]);
    const calls = callsOf(client);
    const inFlight = inFlightAt(calls, killedAt);
    const ranOnW1 = new Set(execsOf(w1).map((e) => e.id));
    const bound = heartbeatMs * liveness + 1_000;
    printCounts("broker, worker SIGKILL at capacity", counts, {
      "evicted after (ms)": evicted.t - killedAt,
      "bound (ms)": bound,
      "in flight at the kill": inFlight.length,
      "started on w1 and answered by w2": calls.filter((c) => ranOnW1.has(c.id) && c.server === "w2").length,
      "broker event": evicted.event,
      "broker.services() before the kill": services.stats,
    });
    const workers = (services.stats as Array<{ workers: Array<{ capacity: number; inFlight: number }> }>).flatMap(
      (s) => s.workers,
    );
    expect(workers.length).toBe(2);
    expect(
      workers.every((w) => w.inFlight === w.capacity),
      "the workers were not at capacity before the kill",
    ).toBe(true);
    expectSound(counts);
    expect(evicted.t - killedAt, "eviction after the kill (ms)").toBeLessThanOrEqual(bound);
    expect(inFlight.length).toBeGreaterThanOrEqual(20);
    expect(counts.failed, "idempotent requests failed although w2 was up").toEqual({});
    expect(counts.succeeded).toBe(counts.made);
  }, 60_000);
});
