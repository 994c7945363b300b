/**
 * @packageDocumentation
 * A bounded log-linear latency histogram: what `stats.latency` of the RPC and pipeline classes is read from.
 *
 * Values are recorded in whole microseconds. Below 32 µs every microsecond has its own bucket; above, each power of
 * two `[2^e, 2^(e+1))` is split into 32 equal buckets (HdrHistogram's layout with 5 sub-bucket bits), up to 2^40 µs
 * (about 12.7 days; larger values fall in the last bucket, and `maxMs` stays exact). That is 1 184 counters in one
 * `Float64Array` (about 10 KiB), whatever the number of values: recording is O(1) and allocates nothing.
 *
 * A percentile is the middle of the bucket that holds the value of that rank (nearest-rank method), clamped to the
 * exact minimum and maximum: it is within 1/64 (1.6 %) of the true value, plus half a microsecond of rounding.
 * `count`, `maxMs` and `meanMs` are exact.
 * Internal: not exported from the package (only `LatencyStats` is, through `src/index.ts`).
 */

/**
 * Latency figures of one kind of operation, in milliseconds, as a plain object (a snapshot: it does not change
 * afterwards). Percentiles come from a log-linear histogram and are within 1.6 % of the exact value (plus half a
 * microsecond); `count`, `maxMs` and `meanMs` are exact. All fields are 0 while `count` is 0.
 */
export interface LatencyStats {
  /** Operations measured. */
  readonly count: number;
  /** Median, in milliseconds. */
  readonly p50Ms: number;
  /** 90th percentile, in milliseconds. */
  readonly p90Ms: number;
  /** 99th percentile, in milliseconds. */
  readonly p99Ms: number;
  /** Largest value recorded, in milliseconds (exact). */
  readonly maxMs: number;
  /** Arithmetic mean, in milliseconds (exact). */
  readonly meanMs: number;
}

/** Sub-bucket bits: each power of two is split into 2^SUB_BITS buckets. */
const SUB_BITS = 5;
const SUB_COUNT = 1 << SUB_BITS;
/** Largest exponent with buckets of its own; larger values go to the last bucket. */
const MAX_EXPONENT = 40;
/** Number of buckets: SUB_COUNT exact ones, then SUB_COUNT per exponent from SUB_BITS to MAX_EXPONENT. */
export const BUCKETS = SUB_COUNT + (MAX_EXPONENT - SUB_BITS + 1) * SUB_COUNT;
const TWO_32 = 2 ** 32;

/** The floor of log2(v), for an integer v ≥ 1. */
function exponentOf(v: number): number {
  if (v < TWO_32) return 31 - Math.clz32(v);
  let e = Math.floor(Math.log2(v));
  // Math.log2 may be off by one next to a power of two: correct it with exact powers.
  if (2 ** e > v) e--;
  else if (2 ** (e + 1) <= v) e++;
  return e;
}

/** The bucket of a value in whole microseconds (≥ 0). */
export function bucketOf(us: number): number {
  if (us < SUB_COUNT) return us;
  const e = exponentOf(us);
  if (e > MAX_EXPONENT) return BUCKETS - 1;
  const shift = e - SUB_BITS;
  const sub = Math.floor(us / 2 ** shift) - SUB_COUNT;
  return SUB_COUNT + shift * SUB_COUNT + sub;
}

/** The lowest value (µs) of a bucket, and its width. */
export function bucketRange(bucket: number): { readonly low: number; readonly width: number } {
  if (bucket < SUB_COUNT) return { low: bucket, width: 1 };
  const shift = Math.floor((bucket - SUB_COUNT) / SUB_COUNT);
  const sub = (bucket - SUB_COUNT) % SUB_COUNT;
  const width = 2 ** shift;
  return { low: (SUB_COUNT + sub) * width, width };
}

/** The histogram. One per measured operation kind; never reset. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sumUs = 0;
  #minUs = Infinity;
  #maxUs = 0;

  /** Records one duration in milliseconds (negative counts as 0; NaN is ignored). O(1). */
  record(ms: number): void {
    if (!(ms >= 0)) {
      if (Number.isNaN(ms)) return;
      ms = 0;
    }
    const us = Math.round(ms * 1000);
    this.#counts[bucketOf(us)]!++;
    this.#count++;
    this.#sumUs += us;
    if (us < this.#minUs) this.#minUs = us;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  /** Records the time since `start`, a `performance.now()` reading. */
  since(start: number): void {
    this.record(performance.now() - start);
  }

  /** The figures now, as a plain object. O(number of buckets). */
  snapshot(): LatencyStats {
    const count = this.#count;
    if (count === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
    const [p50, p90, p99] = this.#percentiles([0.5, 0.9, 0.99]);
    return {
      count,
      p50Ms: p50! / 1000,
      p90Ms: p90! / 1000,
      p99Ms: p99! / 1000,
      maxMs: this.#maxUs / 1000,
      meanMs: this.#sumUs / count / 1000,
    };
  }

  /** Values (µs) at the given quantiles, in increasing order, by the nearest-rank method. */
  #percentiles(quantiles: readonly number[]): number[] {
    const out: number[] = [];
    let seen = 0;
    let q = 0;
    for (let bucket = 0; bucket < BUCKETS && q < quantiles.length; bucket++) {
      seen += this.#counts[bucket]!;
      while (q < quantiles.length && seen >= Math.max(1, Math.ceil(quantiles[q]! * this.#count))) {
        const { low, width } = bucketRange(bucket);
        // The last bucket has no upper end: the exact maximum stands for it.
        const middle = bucket === BUCKETS - 1 ? this.#maxUs : width === 1 ? low : low + (width - 1) / 2;
        out.push(Math.min(this.#maxUs, Math.max(this.#minUs, middle)));
        q++;
      }
    }
    return out;
  }
}
