/**
 * Honest pub-sub flow control with real sockets: a lossless (`noDrop`) publish gives up in time when a subscriber
 * does not read (its own `timeoutMs` or `signal`, or the publisher's `stallLimitMs`), and a message that gave up was
 * not sent. The stuck subscriber is one that never reads, with small high-water marks on both sides.
 */
import { describe, expect, test } from "vitest";
import * as z from "zod";
import {
  AbortedError,
  Publisher,
  Subscriber,
  SubscriberStalledError,
  TimeoutError,
  defineTopics,
  isSubscriberStalledError,
} from "../../src/index.js";
import { TRANSPORTS, endpointFor } from "../helpers/endpoints.js";

const Flow = defineTopics("flow.v1", { ticks: z.object({ n: z.number().int(), pad: z.string() }) });

/** Large enough that a few hundred fill tcp's kernel buffers too. */
const PAD = "x".repeat(64 * 1024);
/** Publishes before the queue is full, at most: every loop is bounded. */
const MAX_FILL = 5_000;
const WAIT_MS = 3_000;
/** Slack for timers on a loaded 2-core machine (the send queue backs off up to 8 ms between attempts). */
const SLACK_MS = 400;

async function stuckPair(transport: (typeof TRANSPORTS)[number], options: { stallLimitMs?: number } = {}) {
  const pub = await Publisher.bind(endpointFor(transport), Flow, { noDrop: true, sendHighWaterMark: 2, lingerMs: 0, ...options });
  const sub = await Subscriber.connect(pub.endpoint, Flow, { topics: ["ticks"], receiveHighWaterMark: 2 });
  await pub.waitForSubscribers(1, { timeoutMs: WAIT_MS });
  return { pub, sub };
}

/**
 * Publishes `ticks` 0, 1, 2, ... with `options(n)` until one fails; returns how many were sent, the error and how long
 * the failing call took.
 */
async function fillUntilFailure(
  pub: Publisher<typeof Flow>,
  options: () => { timeoutMs?: number; signal?: AbortSignal } | undefined,
): Promise<{ sent: number; error: unknown; tookMs: number }> {
  for (let n = 0; n < MAX_FILL; n++) {
    const started = performance.now();
    try {
      await pub.publish("ticks", { n, pad: PAD }, options());
    } catch (error) {
      return { sent: n, error, tookMs: performance.now() - started };
    }
  }
  throw new Error(`${MAX_FILL} noDrop publishes went through to a subscriber that does not read`);
}

/** Reads what the subscriber got, until nothing more comes for a while; returns the `n` of each. */
async function drain(sub: Subscriber<typeof Flow>, expected: number): Promise<number[]> {
  const got: number[] = [];
  while (got.length < expected + 1) {
    try {
      got.push((await sub.receive({ timeoutMs: got.length < expected ? WAIT_MS : 300 })).data.n);
    } catch (err) {
      if (err instanceof TimeoutError) break;
      throw err;
    }
  }
  return got;
}

describe.each(TRANSPORTS)("noDrop publish() bounded waits over %s", (transport) => {
  test("timeoutMs: fails with TimeoutError in time while the subscriber does not read; that message is never sent", async () => {
    const { pub, sub } = await stuckPair(transport);
    await using _p = pub;
    await using _s = sub;
    const { sent, error, tookMs } = await fillUntilFailure(pub, () => ({ timeoutMs: 200 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: "TIMEOUT", timeoutMs: 200 });
    expect((error as Error).message).toMatch(/publish\("ticks"\) timed out after 200 ms waiting for room .* not sent/);
    expect(tookMs).toBeGreaterThanOrEqual(195);
    expect(tookMs).toBeLessThan(200 + SLACK_MS);
    expect(pub.stats).toMatchObject({ published: sent, stalled: 0 });
    // The subscriber now reads: it gets every message that was sent, in order, and not the one that timed out.
    expect(await drain(sub, sent)).toEqual(Array.from({ length: sent }, (_, i) => i));
  });

  test("signal: fails with AbortedError when the signal fires while waiting; that message is never sent", async () => {
    const { pub, sub } = await stuckPair(transport);
    await using _p = pub;
    await using _s = sub;
    const { sent, error, tookMs } = await fillUntilFailure(pub, () => ({ signal: AbortSignal.timeout(150) }));
    expect(error).toBeInstanceOf(AbortedError);
    expect(error).toMatchObject({ code: "ABORTED" });
    expect(tookMs).toBeLessThan(150 + SLACK_MS);
    expect(await drain(sub, sent)).toEqual(Array.from({ length: sent }, (_, i) => i));
  });

  test("stallLimitMs: fails with SubscriberStalledError, counted in stats.stalled; a shorter timeoutMs wins", async () => {
    const { pub, sub } = await stuckPair(transport, { stallLimitMs: 150 });
    await using _p = pub;
    await using _s = sub;
    const { sent, error, tookMs } = await fillUntilFailure(pub, () => undefined);
    expect(error).toBeInstanceOf(SubscriberStalledError);
    expect(isSubscriberStalledError(error)).toBe(true);
    expect(error).toMatchObject({ code: "SUBSCRIBER_STALLED", stallLimitMs: 150, topic: "ticks" });
    expect((error as Error).message).toMatch(
      /^Publisher\("flow\.v1"\)\.publish\("ticks"\) failed: a subscriber of .+ is not reading, and the message on "ticks" waited 150 ms \(stallLimitMs\).*not sent.*Fix or stop the stalled subscriber/,
    );
    expect(tookMs).toBeGreaterThanOrEqual(145);
    expect(tookMs).toBeLessThan(150 + SLACK_MS);
    expect(pub.stats).toMatchObject({ published: sent, stalled: 1 });

    // Several at once: each settles within the limit, and each that failed is a stall (over tcp the kernel may take
    // some bytes in the meantime, so the first may still find room).
    const started = performance.now();
    const more = [1, 2, 3].map((i) => sent + i);
    const results = await Promise.allSettled(more.map((n) => pub.publish("ticks", { n, pad: PAD })));
    expect(performance.now() - started).toBeLessThan(150 + SLACK_MS);
    const failed = results.filter((r) => r.status === "rejected");
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => isSubscriberStalledError(r.reason))).toBe(true);
    expect(pub.stats.stalled).toBe(1 + failed.length);

    const quick = performance.now();
    await expect(pub.publish("ticks", { n: -1, pad: PAD }, { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - quick).toBeLessThan(140);
    expect(pub.stats.stalled).toBe(1 + failed.length);
    const through = more.filter((_, i) => results[i]!.status === "fulfilled");
    expect(await drain(sub, sent + through.length)).toEqual([...Array.from({ length: sent }, (_, i) => i), ...through]);
  });
});

describe("publish options and stallLimitMs misuse", () => {
  test("stallLimitMs needs noDrop, is refused with batch, and must be a positive number of ms", async () => {
    await expect(Publisher.bind(endpointFor("inproc"), Flow, { stallLimitMs: 100 })).rejects.toMatchObject({
      name: "InvalidArgumentError",
      message: expect.stringMatching(/`stallLimitMs` applies only with `noDrop: true`/) as unknown,
    });
    await expect(Publisher.bind(endpointFor("inproc"), Flow, { noDrop: true, batch: true, stallLimitMs: 100 })).rejects.toThrow(
      TypeError,
    );
    await expect(Publisher.bind(endpointFor("inproc"), Flow, { noDrop: true, stallLimitMs: 0 })).rejects.toThrow(RangeError);
  });

  test("bad per-call options reject before anything is sent; with batch, timeoutMs and signal are refused", async () => {
    await using pub = await Publisher.bind(endpointFor("inproc"), Flow, { noDrop: true });
    await expect(pub.publish("ticks", { n: 1, pad: "" }, { timeoutMs: -5 })).rejects.toThrow(RangeError);
    // @ts-expect-error a signal must be an AbortSignal
    await expect(pub.publish("ticks", { n: 1, pad: "" }, { signal: "stop" })).rejects.toThrow(TypeError);
    const aborted = AbortSignal.abort(new Error("shutting down"));
    await expect(pub.publish("ticks", { n: 1, pad: "" }, { signal: aborted })).rejects.toMatchObject({
      name: "AbortedError",
      message: expect.stringContaining("shutting down") as unknown,
    });
    expect(pub.stats.published).toBe(0);
    await using batched = await Publisher.bind(endpointFor("inproc"), Flow, { noDrop: true, batch: true });
    await expect(batched.publish("ticks", { n: 1, pad: "" }, { timeoutMs: 100 })).rejects.toThrow(
      /not available with the `batch` option/,
    );
  });
});
