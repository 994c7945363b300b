/** The retry policy: options, full-jitter backoff, which codes are retryable, and the attempt record. */
import { describe, expect, test } from "vitest";
import { TimeoutError } from "../../src/index.js";
import { AttemptLog, backoffDelay, isRetryable, readRetryPolicy, type RetryPolicy } from "../../src/internal/retry.js";
import { resolveOptions } from "../../src/internal/options.js";

const read = (options: object) => resolveOptions("RpcClient.connect", options, (r) => ({ retry: readRetryPolicy(r) })).retry;

describe("readRetryPolicy", () => {
  test("defaults when absent or true, off when false, overrides when an object", () => {
    const defaults = { attempts: 3, backoffMs: 50, maxBackoffMs: 1_000, attemptTimeoutMs: undefined };
    expect(read({})).toEqual(defaults);
    expect(read({ retry: true })).toEqual(defaults);
    expect(read({ retry: false })).toBeUndefined();
    expect(read({ retry: { attempts: 5, attemptTimeoutMs: 200 } })).toMatchObject({ attempts: 5, attemptTimeoutMs: 200 });
  });

  test("refuses bad values, naming the nested option", () => {
    expect(() => read({ retry: { attempts: 0 } })).toThrow(
      /RpcClient\.connect: `retry\.attempts` must be a positive integer, got 0/,
    );
    expect(() => read({ retry: { backoffMs: -1 } })).toThrow(/`retry\.backoffMs`/);
    expect(() => read({ retry: "yes" })).toThrow(/`retry` must be an options object, true or false/);
  });
});

describe("backoffDelay", () => {
  const policy: RetryPolicy = { attempts: 10, backoffMs: 50, maxBackoffMs: 300, attemptTimeoutMs: undefined };

  test("is a full-jitter draw under a ceiling that doubles up to maxBackoffMs", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, () => 0.999999))).toEqual([49, 99, 199, 299, 299]);
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
    expect(backoffDelay(policy, 2, () => 0.5)).toBe(50);
  });

  test("stays within [0, ceiling) with the real random source", () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(policy, 2);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(100);
    }
  });
});

describe("isRetryable", () => {
  test.each(["UNAVAILABLE", "CONNECTION_LOST", "NO_SERVER", "TIMEOUT"])("%s is retryable", (code) => {
    expect(isRetryable(code)).toBe(true);
  });
  test.each(["INVALID_REQUEST", "HANDLER_ERROR", "DEADLINE_EXCEEDED", "SERVICE_UNAVAILABLE", "ABORTED", "NOT_FOUND"])(
    "%s is not",
    (code) => {
      expect(isRetryable(code)).toBe(false);
    },
  );
});

describe("AttemptLog", () => {
  test("records attempts timed from the start and attaches them, with a summary, to the final error", () => {
    const log = new AttemptLog(1_000);
    log.record("tcp://a:1", "CONNECTION_LOST", 1_020);
    log.record("tcp://b:2", "TIMEOUT", 1_300.4);
    expect(log.count).toBe(2);
    expect(log.lastEndpoint).toBe("tcp://b:2");
    const error = log.attach(new TimeoutError('RpcClient.call("s.v1/get")', 280, "tcp://b:2"), 1_310);
    expect(error.attempts).toEqual([
      { endpoint: "tcp://a:1", code: "CONNECTION_LOST", elapsedMs: 20 },
      { endpoint: "tcp://b:2", code: "TIMEOUT", elapsedMs: 300 },
    ]);
    expect(Object.isFrozen(error.attempts)).toBe(true);
    expect(error.message).toMatch(
      /\(2 attempts over 310 ms: tcp:\/\/a:1: CONNECTION_LOST at 20 ms; tcp:\/\/b:2: TIMEOUT at 300 ms\.\)$/,
    );
  });
});
