import { afterEach, describe, expect, test } from "vitest";
import { count, callsOf, execsOf, expectSound, printCounts } from "./harness/counts.js";
import { RoleSet, is } from "./harness/role.js";
import { aboutWorker, clientDone, inFlightAt, startBroker, startClient, startWorker } from "./harness/scenario.js";

// An MDP broker with two workers, both at capacity (25 handlers each, 100 ms a call, 550 calls/s offered: more than
// the 500/s they can serve, so every credit is in use and a few requests queue), and one worker killed with SIGKILL.
// The broker must evict it within heartbeatMs × liveness + 1 s, and re-dispatch its idempotent requests to the
// other worker: every call succeeds, none hangs.

const roles = new RoleSet();
afterEach(() => roles.killAll());

const heartbeatMs = 500;
const liveness = 3;
const service = "fault.v1";

describe("broker with two workers at capacity, one killed with SIGKILL", () => {
  test("the dead worker is evicted in time, its idempotent requests succeed on the other, none hangs", async () => {
    const broker = await startBroker(roles, { heartbeatMs, liveness });
    const worker = { broker: broker.backend, service, heartbeatMs, liveness, concurrency: 25 };
    const w1 = await startWorker(roles, broker.role, { name: "w1", ...worker });
    const w2 = await startWorker(roles, broker.role, { name: "w2", ...worker });
    const settings = {
      endpoints: [broker.frontend],
      service,
      method: "work",
      rate: 550,
      handlerMs: 100,
      durationMs: 3_500,
      timeoutMs: 8_000,
    } as const;
    const client = await startClient(roles, settings);
    await client.waitFor(is.made(800), 10_000, "800 calls made");
    const killedAt = await w1.kill();
    const evicted = await broker.role.waitFor(is.event("worker:evicted", aboutWorker("w1")), 10_000, "w1 evicted");
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
    });
    expectSound(counts);
    expect(evicted.t - killedAt, "eviction after the kill (ms)").toBeLessThanOrEqual(bound);
    expect(inFlight.length).toBeGreaterThanOrEqual(20);
    expect(counts.failed, "idempotent requests failed although w2 was up").toEqual({});
    expect(counts.succeeded).toBe(counts.made);
  }, 60_000);
});
