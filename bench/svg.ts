/**
 * Hand-written SVG bar charts: the ratios (one horizontal bar per case, with lines at 1.0 and 0.85), and the
 * `--peers` chart (typed-zmq, raw zeromq.js and NATS.js side by side per case).
 */
import type { PeerRow } from "./nats.js";
import { lowerIsBetter } from "./plan.js";
import { SLOW_RATIO, type ResultRow } from "./report.js";

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function ratiosSvg(rows: readonly ResultRow[], title: string): string {
  const labelWidth = 520;
  const plotWidth = 420;
  const barHeight = 18;
  const gap = 6;
  const top = 62;
  const bottom = 40;
  const width = labelWidth + plotWidth + 70;
  const height = top + rows.length * (barHeight + gap) + bottom;
  const finite = rows.map((r) => r.ratio).filter((v) => Number.isFinite(v));
  const maxRatio = Math.max(1.2, Math.ceil(Math.max(1, ...finite) * 5) / 5);
  const x = (ratio: number): number => labelWidth + (Math.max(0, ratio) / maxRatio) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = top + i * (barHeight + gap);
    const ratio = Number.isFinite(row.ratio) ? row.ratio : 0;
    const colour = ratio >= 1 ? "#2e7d32" : ratio >= SLOW_RATIO ? "#f9a825" : "#c62828";
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + barHeight - 5}" text-anchor="end">${escapeXml(row.case)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${(x(ratio) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${colour}"/>`,
      `<text x="${(x(ratio) + 4).toFixed(1)}" y="${y + barHeight - 5}">${ratio.toFixed(2)}</text>`,
    );
  });
  const plotBottom = top + rows.length * (barHeight + gap);
  // The two lines are close together: label 1.0 above the bars and 0.85 below them.
  for (const [value, dash, label, labelY] of [
    [1, "", "1.0 (parity)", top - 12],
    [SLOW_RATIO, "5,4", `${SLOW_RATIO}`, plotBottom + 16],
  ] as const) {
    const lx = x(value).toFixed(1);
    parts.push(
      `<line x1="${lx}" y1="${top - 8}" x2="${lx}" y2="${plotBottom}" stroke="#333" stroke-width="1.5"${dash === "" ? "" : ` stroke-dasharray="${dash}"`}/>`,
      `<text x="${lx}" y="${labelY}" text-anchor="middle">${label}</text>`,
    );
  }
  parts.push(
    `<text x="${labelWidth + plotWidth / 2}" y="${height - 6}" text-anchor="middle">ratio typed/raw (latency: raw/typed); higher is better for typed</text>`,
    `</svg>`,
  );
  return `${parts.join("\n")}\n`;
}

const PEER_BARS = [
  { key: "typed", name: "typed-zmq", colour: "#1565c0" },
  { key: "raw", name: "raw zeromq.js", colour: "#9e9e9e" },
  { key: "nats", name: "NATS.js via nats-server", colour: "#2a9d8f" },
] as const;

function shortValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "n/a";
  if (unit === "µs") return `${value.toFixed(0)} µs`;
  return value >= 1000 ? `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)}k ${unit}` : `${value.toFixed(0)} ${unit}`;
}

/**
 * The `--peers` chart: per case, typed-zmq, raw zeromq.js and NATS.js side by side, each bar relative to raw
 * zeromq.js (raw = 1.0; for latencies raw/value, so that a longer bar is always better), labelled with its median.
 */
export function peersSvg(rows: readonly PeerRow[], title: string): string {
  const labelWidth = 430;
  const plotWidth = 420;
  const barHeight = 13;
  const groupGap = 14;
  const top = 78;
  const bottom = 40;
  const groupHeight = PEER_BARS.length * barHeight + groupGap;
  const width = labelWidth + plotWidth + 150;
  const height = top + rows.length * groupHeight + bottom;
  const relative = (row: PeerRow, value: number): number => {
    const raw = row.raw.median;
    if (!Number.isFinite(value) || !Number.isFinite(raw) || value <= 0 || raw <= 0) return 0;
    return lowerIsBetter(row.metric) ? raw / value : value / raw;
  };
  const all = rows.flatMap((r) => PEER_BARS.map((b) => relative(r, r[b.key].median)));
  const maxRel = Math.max(1.2, Math.ceil(Math.max(1, ...all) * 5) / 5);
  const x = (rel: number): number => labelWidth + (Math.max(0, rel) / maxRel) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  PEER_BARS.forEach((b, i) => {
    const lx = labelWidth + i * 150;
    parts.push(
      `<rect x="${lx}" y="36" width="12" height="12" fill="${b.colour}"/>`,
      `<text x="${lx + 16}" y="46">${escapeXml(b.name)}</text>`,
    );
  });
  rows.forEach((row, i) => {
    const y0 = top + i * groupHeight;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y0 + (PEER_BARS.length * barHeight) / 2 + 4}" text-anchor="end">${escapeXml(row.case)}</text>`,
    );
    PEER_BARS.forEach((b, k) => {
      const y = y0 + k * barHeight;
      const value = row[b.key].median;
      const end = x(relative(row, value));
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${(end - labelWidth).toFixed(1)}" height="${barHeight - 2}" fill="${b.colour}"/>`,
        `<text x="${(end + 4).toFixed(1)}" y="${y + barHeight - 3}" font-size="10">${escapeXml(shortValue(value, row.unit))}</text>`,
      );
    });
  });
  const plotBottom = top + rows.length * groupHeight - groupGap / 2;
  const lx = x(1).toFixed(1);
  parts.push(
    `<line x1="${lx}" y1="${top - 8}" x2="${lx}" y2="${plotBottom}" stroke="#333" stroke-width="1" stroke-dasharray="4,3"/>`,
    `<text x="${lx}" y="${top - 12}" text-anchor="middle" font-size="10">raw = 1.0</text>`,
    `<text x="${labelWidth + plotWidth / 2}" y="${height - 12}" text-anchor="middle">relative to raw zeromq.js (latency: raw/value); longer is better; labels are medians</text>`,
    `</svg>`,
  );
  return `${parts.join("\n")}\n`;
}
