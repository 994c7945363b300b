import { afterEach, describe, expect, test } from "vitest";
import { count, callsOf, expectSound, printCounts } from "./harness/counts.js";
import { KILL_ALL_MS, RoleSet } from "./harness/role.js";
import { clientDone, deadEndpoint, startClient, startServer } from "./harness/scenario.js";

// Connection awareness: a client given one live and one dead endpoint sends nothing to the dead one, and a client
// with no server at all fails each call with NoServerError (NO_SERVER) within its deadline, not with a TIMEOUT.
// The method is not idempotent and retries are off, so no retry can hide a call sent to the dead endpoint.

const roles = new RoleSet();
afterEach(() => roles.killAll(), KILL_ALL_MS);

describe("a client's view of its endpoints", () => {
  test("given [up, down], every call succeeds on the live server", async () => {
    const up = await startServer(roles, "up");
    const down = await deadEndpoint();
    const settings = {
      endpoints: [up.endpoint, down],
      method: "workOnce",
      retry: false,
      rate: 300,
      handlerMs: 10,
      durationMs: 2_500,
      timeoutMs: 2_000,
    } as const;
    const client = await startClient(roles, settings);
    await clientDone(client, settings);

    const counts = count(client, [up.role]);
    printCounts("client [up, down]", counts, { "dead endpoint": down });
    expectSound(counts);
    expect(counts.failed, "calls went to the dead endpoint").toEqual({});
    expect(counts.succeeded).toBe(counts.made);
    expect(callsOf(client).every((c) => c.server === "up")).toBe(true);
  }, 30_000);

  test("with no server at all, a call fails with NO_SERVER within its deadline", async () => {
    const down = await deadEndpoint();
    const settings = {
      endpoints: [down],
      method: "workOnce",
      retry: false,
      rate: 20,
      maxCalls: 20,
      handlerMs: 0,
      durationMs: 1_000,
      timeoutMs: 1_000,
    } as const;
    const client = await startClient(roles, settings);
    await clientDone(client, settings);

    const counts = count(client, []);
    const calls = callsOf(client);
    const lateBy = Math.max(...calls.map((c) => c.settled - c.deadline));
    printCounts("client, no server", counts, {
      "latest settle past the deadline (ms)": lateBy,
      message: calls[0]?.message ?? "",
    });
    expectSound(counts);
    expect(counts.failed).toEqual({ NO_SERVER: counts.made });
    // Timers fire a little after their time; a loaded 2-core machine adds some more.
    expect(lateBy, "NO_SERVER arrived well after the deadline").toBeLessThanOrEqual(250);
  }, 30_000);
});
