import { afterEach, describe, expect, test } from "vitest";
import { KILL_ALL_MS, RoleSet, is } from "./harness/role.js";
import { eventsOf, startPublisher, startSubscriber } from "./roles/pubsub-start.js";

// A lossless (noDrop) publisher and its subscribers, each its own process. One subscriber is stopped with SIGSTOP
// mid-stream: its queues fill, and from then on every publish() must fail in time instead of freezing, with its
// own `timeoutMs` (TimeoutError), or with the publisher's `stallLimitMs` (SubscriberStalledError, here with a
// healthy second subscriber reading on). Then the stopped subscriber is continued and killed, and the publisher
// must publish again. Every wait is bounded; the publisher publishes at most `data` messages.

const roles = new RoleSet();
afterEach(() => roles.killAll(), KILL_ALL_MS);

/** How long after its bound a failure may come on a loaded 2-core machine. */
const SLACK_MS = 1_000;
const LIMIT_MS = 500;
/** How long the subscriber stays stopped. */
const STOP_MS = 3_000;

describe.each([
  { bound: "timeoutMs", code: "TIMEOUT", limits: { timeoutMs: LIMIT_MS }, healthy: false },
  { bound: "stallLimitMs", code: "SUBSCRIBER_STALLED", limits: { stallLimitMs: LIMIT_MS }, healthy: true },
] as const)("noDrop publisher, a subscriber stopped with SIGSTOP ($bound)", ({ bound, code, limits, healthy }) => {
  test(`publish() fails with ${code} within ${bound} while it is stopped; none freezes; it publishes again after`, async () => {
    const { pub, endpoint } = await startPublisher(roles, {
      noDrop: true,
      ...limits,
      sendHighWaterMark: 5,
      subscribers: healthy ? 2 : 1,
      topic: "ticks.a",
      data: 200_000,
      padBytes: 16 * 1024,
    });
    const subscriber = { endpoint, topics: ["ticks.a"], receiveHighWaterMark: 5, workUs: 0 } as const;
    const stuck = await startSubscriber(roles, "subscriber (to be stopped)", subscriber);
    const other = healthy ? await startSubscriber(roles, "healthy subscriber", subscriber) : undefined;
    await pub.waitFor(is.ready, 15_000, "ready (subscriptions arrived)");
    pub.send("go");
    await pub.waitFor(
      is.event("progress", (e) => Number(e["published"]) >= 300),
      15_000,
      "300 published",
    );

    const stoppedAt = stuck.signal("SIGSTOP");
    const first = await pub.waitFor(is.event("publish:failed"), 15_000, "a publish to fail while the subscriber is stopped");
    const heldUntil = stoppedAt + STOP_MS;
    while (Date.now() < heldUntil) await new Promise((resolve) => setTimeout(resolve, 50)); // the fault lasts STOP_MS
    const continuedAt = stuck.signal("SIGCONT");
    await stuck.kill();
    const killedAt = Date.now();
    const publishedAtKill = Math.max(0, ...eventsOf(pub, "progress").map((p) => Number(p.event["published"])));
    await pub.waitFor(
      is.event("progress", (e) => Number(e["published"]) >= publishedAtKill + 200),
      15_000,
      "200 more published after the stopped subscriber was killed",
    );
    pub.send("stop");
    const stats = await pub.waitFor(is.stats, 10_000, "publisher stats");

    const failures = eventsOf(pub, "publish:failed").filter((f) => f.t <= continuedAt);
    const took = failures.map((f) => Number(f.event["tookMs"]));
    const codes = [...new Set(failures.map((f) => String(f.event["code"])))];
    const counts = stats.stats as { dataSent: number; failed: Record<string, number>; publisher: { stalled: number } };
    console.log(
      `[fault] noDrop SIGSTOP (${bound} ${LIMIT_MS} ms): published ${counts.dataSent}, failed ${JSON.stringify(counts.failed)}, ` +
        `first failure ${first.t - stoppedAt} ms after SIGSTOP, failures during the stop ${failures.length} ` +
        `(longest ${Math.max(...took)} ms, codes ${codes.join(",")}), stats.stalled ${counts.publisher.stalled}, ` +
        `published again after the kill: ${Math.max(...eventsOf(pub, "progress").map((p) => Number(p.event["published"]))) - publishedAtKill} ` +
        `(kill at +${killedAt - stoppedAt} ms)`,
    );
    expect(codes).toEqual([code]);
    expect(Math.min(...took), "a failure before its bound").toBeGreaterThanOrEqual(LIMIT_MS - 5);
    expect(Math.max(...took), `a failure later than ${bound} + ${SLACK_MS} ms`).toBeLessThan(LIMIT_MS + SLACK_MS);
    // Failing every LIMIT_MS for the whole stop: the publisher never froze.
    expect(failures.length).toBeGreaterThanOrEqual(Math.floor((continuedAt - first.t) / (LIMIT_MS + SLACK_MS)));
    if (code === "SUBSCRIBER_STALLED") expect(counts.publisher.stalled).toBe(counts.failed["SUBSCRIBER_STALLED"]);
    await other?.stop();
  }, 60_000);
});
