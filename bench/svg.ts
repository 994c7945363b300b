/** A hand-written SVG bar chart of the ratios: one horizontal bar per case, with lines at 1.0 and 0.85. */
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
