/** Turns the samples of each case into result rows, the markdown table and the JSON that bench/run.ts writes. */
import { lowerIsBetter, type CaseDef, type RowDef } from "./plan.js";
import type { Sample } from "./runner.js";
import { summarize } from "./stats.js";
import { jsonBytes } from "./payloads.js";

/** The 0.85 line: a typed case below it is "much slower than raw". */
export const SLOW_RATIO = 0.85;

export interface ResultRow {
  readonly case: string;
  readonly unit: string;
  /** Medians. */
  readonly typed: number;
  readonly raw: number;
  /** Oriented so that higher is better for the typed column: typed/raw, or raw/typed for latencies. */
  readonly ratio: number;
  readonly typedMin: number;
  readonly typedMax: number;
  readonly rawMin: number;
  readonly rawMax: number;
  readonly typedSamples: readonly number[];
  readonly rawSamples: readonly number[];
  /** Messages lost over all repetitions (must be 0). */
  readonly lost: { readonly typed: number; readonly raw: number };
  readonly typedLabel: string;
  readonly rawLabel: string;
  readonly transport: string;
  readonly payloadBytes: number;
  readonly count: number;
  readonly repetitions: number;
  /** The ratio is a feature's cost (typed against typed), never flagged as slow. */
  readonly cost: boolean;
}

/** A typed/raw row below {@link SLOW_RATIO}: typed much slower than raw. */
export function isSlow(row: ResultRow): boolean {
  return !row.cost && row.ratio < SLOW_RATIO;
}

function pick(sample: Sample, row: RowDef): number {
  return row.metric === "throughput" ? sample.throughput : row.metric === "p50" ? sample.p50 : sample.p99;
}

export function rowsFor(c: CaseDef, count: number, typed: readonly Sample[], raw: readonly Sample[]): ResultRow[] {
  return c.rows.map((row) => {
    const t = summarize(typed.map((s) => pick(s, row)));
    const r = summarize(raw.map((s) => pick(s, row)));
    return {
      case: row.title,
      unit: row.unit,
      typed: t.median,
      raw: r.median,
      ratio: lowerIsBetter(row.metric) ? r.median / t.median : t.median / r.median,
      typedMin: t.min,
      typedMax: t.max,
      rawMin: r.min,
      rawMax: r.max,
      typedSamples: t.samples,
      rawSamples: r.samples,
      lost: { typed: typed.reduce((n, s) => n + s.lost, 0), raw: raw.reduce((n, s) => n + s.lost, 0) },
      typedLabel: c.a.label,
      rawLabel: c.b.label,
      transport: c.transport,
      payloadBytes: jsonBytes(c.payload),
      count,
      repetitions: typed.length,
      cost: c.cost === true,
    };
  });
}

/** A figure for a table cell: µs with one decimal below 100, rates as 12k / 1.5k. */
export function fmt(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "n/a";
  if (unit === "µs") return value >= 100 ? value.toFixed(0) : value.toFixed(1);
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return value.toFixed(0);
}

function cell(median: number, min: number, max: number, unit: string): string {
  return `${fmt(median, unit)} (${fmt(min, unit)}–${fmt(max, unit)})`;
}

export function markdownTable(rows: readonly ResultRow[]): string {
  const lines = [
    "| case | unit | typed (median, min–max) | raw (median, min–max) | ratio typed/raw (higher is better for typed) |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const row of rows) {
    const flag = isSlow(row) ? " ⚠" : "";
    const lost = row.lost.typed + row.lost.raw > 0 ? ` (LOST typed ${row.lost.typed}, raw ${row.lost.raw})` : "";
    lines.push(
      `| ${row.case}${lost} | ${row.unit} | ${cell(row.typed, row.typedMin, row.typedMax, row.unit)} | ` +
        `${cell(row.raw, row.rawMin, row.rawMax, row.unit)} | ${row.ratio.toFixed(2)}${flag} |`,
    );
  }
  return lines.join("\n");
}
