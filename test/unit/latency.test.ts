/** The latency histogram of `stats.latency`: percentiles against exact ones within the stated error, edges, bucket math. */
import { describe, expect, test } from "vitest";
import { BUCKETS, LatencyHistogram, bucketOf, bucketRange } from "../../src/internal/latency.js";

/** The stated error: 1/64 of the value, plus half a microsecond of rounding. */
function expectNear(actualMs: number, exactMs: number): void {
  expect(Math.abs(actualMs - exactMs)).toBeLessThanOrEqual(exactMs / 64 + 0.0005);
}

/** The exact nearest-rank percentile of sorted samples. */
function exactPercentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** A seeded generator (mulberry32), so that a failure can be reproduced. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("LatencyHistogram", () => {
  test("an empty histogram reports zeros", () => {
    expect(new LatencyHistogram().snapshot()).toEqual({ count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 });
  });

  test("1..100 ms: exact count, max and mean; percentiles within the stated error", () => {
    const h = new LatencyHistogram();
    for (let ms = 1; ms <= 100; ms++) h.record(ms);
    const s = h.snapshot();
    expect(s.count).toBe(100);
    expect(s.maxMs).toBe(100);
    expect(s.meanMs).toBeCloseTo(50.5, 9);
    expectNear(s.p50Ms, 50);
    expectNear(s.p90Ms, 90);
    expectNear(s.p99Ms, 99);
  });

  test("log-normal samples from 2 µs to seconds: every percentile within the stated error of the exact one", () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      const h = new LatencyHistogram();
      const samples: number[] = [];
      for (let i = 0; i < 5_000; i++) {
        // exp of a uniform over [ln 0.002, ln 3000]: values from 2 µs to 3 s, spread over every exponent.
        const ms = Math.round(Math.exp(Math.log(0.002) + next() * Math.log(3000 / 0.002)) * 1000) / 1000;
        samples.push(ms);
        h.record(ms);
      }
      samples.sort((a, b) => a - b);
      const s = h.snapshot();
      expect(s.count).toBe(samples.length);
      expect(s.maxMs).toBe(samples.at(-1));
      expectNear(s.p50Ms, exactPercentile(samples, 0.5));
      expectNear(s.p90Ms, exactPercentile(samples, 0.9));
      expectNear(s.p99Ms, exactPercentile(samples, 0.99));
      expect(s.p50Ms).toBeLessThanOrEqual(s.p90Ms);
      expect(s.p90Ms).toBeLessThanOrEqual(s.p99Ms);
      expect(s.p99Ms).toBeLessThanOrEqual(s.maxMs);
    }
  });

  test("one value: every percentile is that value (clamped to the exact min and max)", () => {
    const h = new LatencyHistogram();
    h.record(12.345);
    expect(h.snapshot()).toEqual({ count: 1, p50Ms: 12.345, p90Ms: 12.345, p99Ms: 12.345, maxMs: 12.345, meanMs: 12.345 });
  });

  test("a skewed distribution: p50 stays low while p99 sees the slow tail", () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 980; i++) h.record(0.1);
    for (let i = 0; i < 20; i++) h.record(250);
    const s = h.snapshot();
    expectNear(s.p50Ms, 0.1);
    expectNear(s.p90Ms, 0.1);
    expectNear(s.p99Ms, 250);
    expect(s.maxMs).toBe(250);
  });

  test("huge values, zero, negative and NaN do not break it", () => {
    const h = new LatencyHistogram();
    h.record(0);
    h.record(-5); // a clock step: counted as 0
    h.record(Number.NaN); // ignored
    h.record(5 * 3600_000); // five hours: exponent above 32 bits of microseconds
    h.record(1e15); // beyond the last bucket: max stays exact
    const s = h.snapshot();
    expect(s.count).toBe(4);
    expect(s.maxMs).toBe(1e15);
    expect(s.p50Ms).toBe(0);
    expect(s.p99Ms).toBe(1e15);
    expect(Number.isFinite(s.meanMs)).toBe(true);
    const big = new LatencyHistogram();
    big.record(5 * 3600_000);
    big.record(5 * 3600_000 + 1);
    expectNear(big.snapshot().p50Ms, 5 * 3600_000);
  });
});

describe("bucket math", () => {
  test("every value falls in the bucket whose range holds it, buckets are contiguous and within 1/32 of their low end", () => {
    let previous = -1;
    const values = [
      ...Array.from({ length: 5_000 }, (_, i) => i),
      ...Array.from({ length: 2_000 }, (_, i) => Math.floor(1.013 ** i * 5_000)).filter((v) => v < 2 ** 41),
      2 ** 32 - 1,
      2 ** 32,
      2 ** 32 + 1,
      2 ** 40 - 1,
    ].sort((a, b) => a - b);
    for (const v of values) {
      const bucket = bucketOf(v);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(BUCKETS);
      const { low, width } = bucketRange(bucket);
      expect(v).toBeGreaterThanOrEqual(low);
      expect(v).toBeLessThan(low + width);
      expect(width === 1 || width / low <= 1 / 32).toBe(true);
      expect(bucket).toBeGreaterThanOrEqual(previous); // monotonic in the value
      previous = bucket;
    }
    for (let b = 1; b < BUCKETS; b++) {
      const before = bucketRange(b - 1);
      expect(bucketRange(b).low).toBe(before.low + before.width);
    }
    expect(bucketOf(2 ** 41)).toBe(BUCKETS - 1);
    expect(bucketOf(2 ** 60)).toBe(BUCKETS - 1);
  });

  test("the exponent is right next to every power of two (float log2 is corrected)", () => {
    for (let e = 5; e <= 40; e++) {
      expect(bucketRange(bucketOf(2 ** e)).low).toBe(2 ** e);
      expect(bucketRange(bucketOf(2 ** e - 1)).low).toBeLessThan(2 ** e);
    }
  });
});
