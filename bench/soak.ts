/**
 * The no-memory-growth soak: 2 million messages through each pattern (pub/sub, pipeline, RPC with 100 in flight),
 * typed, over tcp between two fresh peer processes started with --expose-gc. Each side samples its RSS (after a
 * GC) once warmed up (10% of the messages) and at the end; growth above 50 MiB on either side is flagged.
 */
import { Peer } from "./peers.js";
import { TYPED, type CaseDef } from "./plan.js";
import type { Features } from "./protocol.js";
import { runOnce } from "./runner.js";

export const SOAK_MESSAGES = 2_000_000;
export const SOAK_LIMIT_MIB = 50;

export interface SoakResult {
  readonly pattern: string;
  readonly messages: number;
  readonly seconds: number;
  readonly lost: number;
  readonly sides: readonly {
    readonly side: string;
    readonly warmMiB: number;
    readonly endMiB: number;
    readonly growthMiB: number;
  }[];
  readonly maxGrowthMiB: number;
  readonly flagged: boolean;
  readonly note?: string;
}

const soakCase = (pattern: CaseDef["pattern"], inFlight: number): CaseDef => ({
  pattern,
  transport: "tcp",
  payload: "small",
  inFlight,
  a: TYPED,
  b: TYPED,
  count: { quick: SOAK_MESSAGES, full: SOAK_MESSAGES },
  rows: [],
});

const PATTERNS = [
  { name: "pub/sub", c: soakCase("pubsub", 1) },
  { name: "pipeline", c: soakCase("pipeline", 1) },
  { name: "rpc 100 in flight", c: soakCase("rpc", 100) },
] as const;

export async function runSoak(log: (line: string) => void, features: Features | undefined): Promise<SoakResult[]> {
  const results: SoakResult[] = [];
  for (const { name, c } of PATTERNS) {
    const peers = { a: new Peer("soak-a", { nodeArgs: ["--expose-gc"] }), b: new Peer("soak-b", { nodeArgs: ["--expose-gc"] }) };
    try {
      const f = features ?? (await peers.a.features());
      // Without noDrop a lossless publisher needs a queue as deep as the run, which would itself grow RSS: the soak
      // then runs lossy (default high-water mark) and only the memory is judged.
      const lossy = c.pattern === "pubsub" && !f.publisherNoDrop;
      const started = performance.now();
      const sample = await runOnce(peers, c, TYPED, {
        count: SOAK_MESSAGES,
        features: f,
        soakWarmup: SOAK_MESSAGES / 10,
        stallMs: 3_000,
        ...(lossy ? { sendHighWaterMark: 1000 } : {}),
      });
      const seconds = (performance.now() - started) / 1000;
      const sides = sample.rss.map((s) => ({ ...s, growthMiB: s.endMiB - s.warmMiB }));
      const maxGrowthMiB = Math.max(...sides.map((s) => s.growthMiB));
      const result: SoakResult = {
        pattern: name,
        messages: SOAK_MESSAGES,
        seconds,
        lost: sample.lost,
        sides,
        maxGrowthMiB,
        flagged: maxGrowthMiB > SOAK_LIMIT_MIB || sides.length < 2,
        ...(lossy ? { note: "Publisher has no noDrop yet: ran lossy, losses not judged" } : {}),
      };
      results.push(result);
      const detail = sides
        .map(
          (s) =>
            `${s.side} ${s.warmMiB.toFixed(1)} → ${s.endMiB.toFixed(1)} MiB (${s.growthMiB >= 0 ? "+" : ""}${s.growthMiB.toFixed(1)})`,
        )
        .join(", ");
      log(
        `soak ${name}: ${SOAK_MESSAGES.toLocaleString("en")} messages in ${seconds.toFixed(1)} s, lost ${sample.lost}; RSS ${detail}` +
          `${result.flagged ? `  ⚠ growth over ${SOAK_LIMIT_MIB} MiB` : "  ok"}${result.note === undefined ? "" : ` (${result.note})`}`,
      );
    } finally {
      await Promise.all([peers.a.exit(), peers.b.exit()]);
    }
  }
  return results;
}
