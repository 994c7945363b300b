/**
 * The `--peers` section of the bench: typed-zmq, raw zeromq.js and NATS.js (`@nats-io/transport-node`) on the same
 * messages in the same run. It starts a local `nats-server` on an ephemeral loopback port (no config file, no
 * JetStream, nothing on disk; stopped at the end), then for each case alternates the typed variant, the raw one and
 * the NATS.js variants over the same repetitions, each role in its own peer process as the zeromq cases run:
 *
 * - pub/sub tcp small (48 B): NATS.js plain JSON, and with zod validating on both ends (the typed case's schema);
 * - pub/sub tcp small with typed `batch` + noDrop (when the package has it), against the same NATS.js publisher;
 * - RPC lockstep (p50, p99, calls/s) and 100 calls in flight: `nc.request` against a responder.
 *
 * The cases, counts and typed/raw variants are the main plan's own (bench/plan.ts), found by what they run rather than
 * by title. NATS.js throughput is measured at the subscriber from its first message to the end marker, as for
 * zeromq; NATS core is at-most-once, so a message dropped on the way is counted as lost. When `nats-server` is not on
 * the PATH the section is skipped and says why.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { buildPlan, lowerIsBetter, skipReason, type CaseDef, type Metric, type RowDef, type Variant } from "./plan.js";
import type { Features } from "./protocol.js";
import { fmt } from "./report.js";
import { runOnce, type Peers, type Sample } from "./runner.js";
import { summarize, type Summary } from "./stats.js";

/** How long nats-server may take to start listening before the section gives up. */
const STARTUP_TIMEOUT_MS = 10_000;

const NATS_PLAIN: Variant = {
  impl: "nats",
  validate: false,
  codec: "json",
  batch: false,
  via: "direct",
  label: "NATS.js + JSON",
};
const NATS_ZOD: Variant = { ...NATS_PLAIN, validate: true, label: "NATS.js + JSON + zod on both ends" };

/** One case of the section: the main plan's case (typed = `a`, raw = `b`) and the NATS.js variants it is run against. */
export interface PeerCase {
  readonly def: CaseDef;
  readonly nats: readonly Variant[];
  /** Row titles, one per row of `def` and NATS.js variant. */
  readonly titles: readonly (readonly string[])[];
}

/** One row of the section's table: typed-zmq, raw zeromq.js and one NATS.js variant on one metric. */
export interface PeerRow {
  readonly case: string;
  readonly unit: string;
  readonly metric: Metric;
  readonly typedLabel: string;
  readonly rawLabel: string;
  readonly natsLabel: string;
  readonly typed: Summary;
  readonly raw: Summary;
  readonly nats: Summary;
  /** Oriented so that higher is better for typed-zmq: typed/NATS.js (NATS.js/typed for latencies). */
  readonly ratioNats: number;
  /** typed/raw, oriented the same way. */
  readonly ratioRaw: number;
  /** Messages lost over all repetitions by each implementation. */
  readonly lost: { readonly typed: number; readonly raw: number; readonly nats: number };
  readonly count: number;
  readonly repetitions: number;
}

export type NatsServerCheck = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: string };

/** Whether `nats-server` can run here (on the PATH, answers `--version`), with its version or why not. */
export function checkNatsServer(): NatsServerCheck {
  const probe = spawnSync("nats-server", ["--version"], { encoding: "utf8", timeout: 5_000 });
  if (probe.error !== undefined) {
    const code: unknown = Reflect.get(probe.error, "code");
    return {
      ok: false,
      reason:
        code === "ENOENT"
          ? "nats-server is not on the PATH (Debian: apt-get install nats-server)"
          : `nats-server --version failed: ${probe.error.message}`,
    };
  }
  if (probe.status !== 0) return { ok: false, reason: `nats-server --version exited with ${String(probe.status)}` };
  return { ok: true, version: `${probe.stdout}${probe.stderr}`.trim() };
}

/** The installed NATS.js version (`@nats-io/transport-node`). */
export function natsJsVersion(): string {
  const pkg: unknown = createRequire(import.meta.url)("@nats-io/transport-node/package.json");
  const version: unknown = typeof pkg === "object" && pkg !== null ? Reflect.get(pkg, "version") : undefined;
  return typeof version === "string" ? version : "unknown";
}

/** A running nats-server: its client URL, and `stop()`. */
export interface NatsServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts nats-server on 127.0.0.1 and a port the kernel picks (`-p -1`: no race with another process over a port
 * found free beforehand; no monitoring port, no JetStream, nothing on disk), and resolves once its log says it listens for clients, within {@link STARTUP_TIMEOUT_MS}.
 */
export function startNatsServer(): Promise<NatsServer> {
  const child: ChildProcess = spawn("nats-server", ["-a", "127.0.0.1", "-p", "-1"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  };
  return new Promise<NatsServer>((resolve, reject) => {
    const log: string[] = [];
    const fail = (why: string): void => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`nats-server: ${why}${log.length > 0 ? `; its log:\n${log.join("\n")}` : ""}`));
    };
    const timer = setTimeout(() => fail(`not listening after ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    child.once("error", (err) => fail(err.message));
    const startupExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`exited during startup (${String(code ?? signal)})`);
    child.once("exit", startupExit);
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (line) => {
      if (log.length < 50) log.push(line);
      const match = /Listening for client connections on ([\d.]+):(\d+)/.exec(line);
      if (match === null) return;
      clearTimeout(timer);
      // Only the startup listener: `exited` (which stop() awaits) must keep its own.
      child.removeListener("exit", startupExit);
      lines.removeAllListeners("line");
      lines.close();
      child.stderr?.resume(); // keep draining the log so the server never blocks on a full pipe
      resolve({ url: `nats://${match[1] ?? "127.0.0.1"}:${match[2] ?? ""}`, stop });
    });
  });
}

/** The section's cases, taken from the main plan by what they run; those the built package cannot run are left out. */
export function peerCases(features: Features): PeerCase[] {
  const plan = buildPlan();
  const plainTyped = (c: CaseDef): boolean =>
    c.a.impl === "typed" &&
    c.b.impl === "raw" &&
    c.cost !== true &&
    c.a.validate &&
    c.a.via === "direct" &&
    c.transport === "tcp";
  const find = (what: string, test: (c: CaseDef) => boolean): CaseDef => {
    const found = plan.find((c) => plainTyped(c) && test(c));
    if (found === undefined) throw new Error(`--peers: the main plan has no ${what} case`);
    return found;
  };
  const pubsub = find("pub/sub tcp small", (c) => c.pattern === "pubsub" && c.payload === "small" && !c.a.batch);
  const batched = plan.find((c) => plainTyped(c) && c.pattern === "pubsub" && c.payload === "small" && c.a.batch);
  const lockstep = find("rpc lockstep", (c) => c.pattern === "rpc" && c.inFlight === 1);
  const inFlight = find("rpc in flight", (c) => c.pattern === "rpc" && c.inFlight === 100);
  const withNats = (def: CaseDef, nats: readonly Variant[], title: (row: RowDef, v: Variant) => string): PeerCase => ({
    def,
    nats,
    titles: def.rows.map((row) => nats.map((v) => title(row, v))),
  });
  const cases = [
    withNats(pubsub, [NATS_PLAIN, NATS_ZOD], (_row, v) =>
      v.validate
        ? "pub/sub tcp small (48 B), zod on both ends in NATS.js too"
        : "pub/sub tcp small (48 B), NATS.js without validation",
    ),
    ...(batched === undefined
      ? []
      : [withNats(batched, [NATS_PLAIN], () => "pub/sub tcp small, typed batch+noDrop vs NATS.js publish")]),
    withNats(
      lockstep,
      [NATS_PLAIN],
      (row) => `rpc tcp lockstep ${row.metric === "throughput" ? "throughput" : `latency ${row.metric}`} (NATS.js request)`,
    ),
    withNats(inFlight, [NATS_PLAIN], () => "rpc tcp 100 in flight (NATS.js requests)"),
  ];
  return cases.filter((c) => skipReason(c.def, features) === undefined);
}

function pick(sample: Sample, metric: Metric): number {
  return metric === "throughput" ? sample.throughput : metric === "p50" ? sample.p50 : sample.p99;
}

function ratio(metric: Metric, typed: number, other: number): number {
  return lowerIsBetter(metric) ? other / typed : typed / other;
}

export interface PeerRunOptions {
  readonly url: string;
  readonly quick: boolean;
  readonly repetitions: number;
  readonly typedOnly: boolean;
  readonly features: Features;
  /** Keeps only the rows whose title passes. */
  readonly select: (title: string) => boolean;
  readonly progress: (line: string) => void;
}

/** Runs one case: a warm-up of every variant, then `repetitions` rounds of typed, raw and each NATS.js variant. */
async function runPeerCase(peers: Peers, pc: PeerCase, o: PeerRunOptions): Promise<PeerRow[]> {
  const c = pc.def;
  const count = o.quick ? c.count.quick : c.count.full;
  const variants: readonly { readonly v: Variant; readonly nats: boolean }[] = [
    { v: c.a, nats: false },
    ...(o.typedOnly ? [] : [{ v: c.b, nats: false }]),
    ...pc.nats.map((v) => ({ v, nats: true })),
  ];
  const run = (v: Variant, nats: boolean, n: number): Promise<Sample> =>
    runOnce(peers, c, v, { count: n, features: o.features, ...(nats ? { endpoint: o.url } : {}) });
  const warmCount = Math.max(500, Math.round(count / 10));
  for (const { v, nats } of variants) await run(v, nats, warmCount);
  const samples = new Map<Variant, Sample[]>(variants.map(({ v }) => [v, []]));
  for (let rep = 0; rep < o.repetitions; rep++) {
    for (const { v, nats } of variants) {
      const sample = await run(v, nats, count);
      if (sample.stalled) o.progress(`  ${v.label}: stalled before the end marker (repetition ${rep + 1})`);
      samples.get(v)?.push(sample);
    }
  }
  const lostOf = (v: Variant): number => (samples.get(v) ?? []).reduce((n, s) => n + s.lost, 0);
  const summary = (v: Variant, metric: Metric): Summary =>
    summarize((samples.get(v) ?? []).filter((s) => !s.stalled).map((s) => pick(s, metric)));
  return c.rows.flatMap((row, r) =>
    pc.nats.map((nv, k) => {
      const typed = summary(c.a, row.metric);
      const raw = summary(c.b, row.metric);
      const nats = summary(nv, row.metric);
      return {
        case: pc.titles[r]?.[k] ?? row.title,
        unit: row.unit,
        metric: row.metric,
        typedLabel: c.a.label,
        rawLabel: c.b.label,
        natsLabel: nv.label,
        typed,
        raw,
        nats,
        ratioNats: ratio(row.metric, typed.median, nats.median),
        ratioRaw: ratio(row.metric, typed.median, raw.median),
        lost: { typed: lostOf(c.a), raw: lostOf(c.b), nats: lostOf(nv) },
        count,
        repetitions: o.repetitions,
      };
    }),
  );
}

/** Runs every selected case of the section; rows in plan order. */
export async function runPeers(peers: Peers, o: PeerRunOptions): Promise<PeerRow[]> {
  const rows: PeerRow[] = [];
  for (const pc of peerCases(o.features)) {
    if (!pc.titles.flat().some(o.select)) continue;
    const t0 = performance.now();
    const caseRows = await runPeerCase(peers, pc, o);
    for (const r of caseRows) {
      o.progress(
        `  ${r.case}: typed ${r.typed.median.toFixed(0)} raw ${r.raw.median.toFixed(0)} NATS.js ${r.nats.median.toFixed(0)} ${r.unit}` +
          ` typed/NATS.js ${r.ratioNats.toFixed(2)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
    rows.push(...caseRows.filter((r) => o.select(r.case)));
  }
  return rows;
}

function cell(s: Summary, unit: string): string {
  return `${fmt(s.median, unit)} (${fmt(s.min, unit)}–${fmt(s.max, unit)})`;
}

/** The section's markdown table: medians (min–max) of the three, and the ratios typed ÷ NATS.js and typed ÷ raw. */
export function peersTable(rows: readonly PeerRow[]): string {
  const lines = [
    "| case | unit | typed-zmq | raw zeromq.js | NATS.js | typed ÷ NATS.js | typed ÷ raw |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const lost =
      r.lost.typed + r.lost.raw + r.lost.nats > 0
        ? ` (LOST typed ${r.lost.typed}, raw ${r.lost.raw}, NATS.js ${r.lost.nats})`
        : "";
    lines.push(
      `| ${r.case}${lost} | ${r.unit} | ${cell(r.typed, r.unit)} | ${cell(r.raw, r.unit)} | ${cell(r.nats, r.unit)} | ` +
        `${r.ratioNats.toFixed(2)} | ${r.ratioRaw.toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}
