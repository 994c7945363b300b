/**
 * The benchmark: `npx tsx bench/run.ts [--quick] [--soak] [--only <text>] [--cpu-prof-dir <dir>]`.
 *
 * Every case runs the typed class and the equivalent hand-written zeromq.js code in the same run, alternating
 * typed/raw over several repetitions (3 with --quick, 5 otherwise), and prints one markdown table of medians with
 * min–max and the typed/raw ratio. tcp and ipc cases run sender and receiver in two peer processes; inproc cases run
 * both in one. The broker-hop cases compare typed calls through an `RpcBroker` (client, broker and worker in three
 * processes) with the same typed calls made directly (client and server in two). The reliable/durable cost cases run
 * a pipeline end to end (source → PipelineBroker → worker → sink, four processes; with a SQLite store for durable)
 * against plain push-pull (source → worker → sink, three processes), in tasks/s from the first push to the last
 * outcome at the sink. Results: latest.json, latest.meta.json, ratios.svg (and soak.json for the soak).
 *
 *   --quick               3 repetitions, small counts (under a minute); no soak
 *   --soak                only the no-memory-growth soak (the full run includes it)
 *   --only <text>         only the case titled <text>, or else the cases whose title contains <text>
 *   --typed-only          skip the raw runs (for profiling the typed code)
 *   --cpu-prof-dir <dir>  start the peers with --cpu-prof, writing their profiles to <dir> (see bench/profile.ts)
 *   --peers               also the NATS.js section (bench/nats.ts): typed-zmq, raw zeromq.js and NATS.js through a
 *                         local nats-server on the same messages; skipped, saying why, when nats-server is missing.
 *                         `--peers --only NATS` runs that section alone (a partial run: nothing written)
 *
 * `BENCH_CPU=1` in the environment makes every peer role print the CPU time it used per message (bench/peer.ts): on
 * a shared 2-core machine that splits a pipeline's cost between its processes where throughput cannot. The reliable
 * broker's bookkeeping alone, without sockets: `npx tsx bench/broker-core.ts`.
 *
 * Where results go: only a full run of every case (no --quick, --soak, --only or --typed-only) writes the committed
 * baseline in bench/results/. A complete --quick or --soak run writes the same files to bench/results/local/, which
 * git ignores, so a quick check never overwrites the baseline. A partial run (--only, --typed-only) writes nothing.
 * With --peers, a complete run also writes peers.json and peers.svg (the side-by-side chart) in the same folder.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { Peer } from "./peers.js";
import { buildPlan, skipReason, type CaseDef } from "./plan.js";
import type { Features } from "./protocol.js";
import { SLOW_RATIO, isSlow, markdownTable, rowsFor, type ResultRow } from "./report.js";
import { runOnce, type Peers, type Sample } from "./runner.js";
import { runSoak, type SoakResult } from "./soak.js";
import { checkNatsServer, natsJsVersion, peersTable, runPeers, startNatsServer, type PeerRow } from "./nats.js";
import { peersSvg, ratiosSvg } from "./svg.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const soakOnly = args.includes("--soak");
function option(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
const only = option("--only");
const cpuProfDir = option("--cpu-prof-dir");
const typedOnly = args.includes("--typed-only");
const withPeers = args.includes("--peers");
const complete = only === undefined && !typedOnly;
const repetitions = quick ? 3 : 5;
const mode = soakOnly ? "soak" : quick ? "quick" : "full";
/** The committed baseline is written only by a full, complete run; quick and soak-only runs write beside it. */
const baseline = mode === "full" && complete;
const resultsDir = fileURLToPath(new URL(baseline ? "./results/" : "./results/local/", import.meta.url));
const resultsPath = baseline ? "bench/results/" : "bench/results/local/";

const say = (line: string): void => console.log(line);
const progress = (line: string): void => void process.stderr.write(`${line}\n`);

function header(started: Date): string[] {
  const cpu = cpus();
  return [
    `# typed-zmq benchmark (${mode})`,
    "",
    `- date: ${started.toISOString()}`,
    `- machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, Node ${process.version}, libzmq ${zmq.version}`,
    soakOnly
      ? "- method: 2 million typed messages per pattern over tcp between two fresh processes; RSS after a GC, once warm and at the end"
      : `- method: ${repetitions} repetitions per case, typed and raw alternating; tcp/ipc in two processes, inproc in one; ` +
        "lossless runs ended by an end marker the receiver acknowledges; throughput measured at the receiver",
  ];
}

async function runCase(peers: Peers, c: CaseDef, features: Features): Promise<ResultRow[]> {
  const count = quick ? c.count.quick : c.count.full;
  const typed: Sample[] = [];
  const raw: Sample[] = [];
  // One short unmeasured run of each variant first, so neither pays for JIT warm-up inside the measured runs.
  const warmCount = Math.max(500, Math.round(count / 10));
  const warm = [await runOnce(peers, c, c.a, { count: warmCount, features })];
  if (!typedOnly) warm.push(await runOnce(peers, c, c.b, { count: warmCount, features }));
  if (warm.some((s) => s.lost > 0 || s.stalled)) throw new Error(`${c.rows[0]?.title ?? "case"}: a warm-up run lost messages`);
  for (let rep = 0; rep < repetitions; rep++) {
    typed.push(await runOnce(peers, c, c.a, { count, features }));
    if (!typedOnly) raw.push(await runOnce(peers, c, c.b, { count, features }));
  }
  const stalled = [...typed, ...raw].filter((s) => s.stalled).length;
  if (stalled > 0) throw new Error(`${c.rows[0]?.title ?? "case"}: ${stalled} run(s) stalled before the end marker`);
  return rowsFor(c, count, typed, raw);
}

/** What the NATS.js section did: its rows, or why it was skipped; `ok` false when it failed. */
interface PeersOutcome {
  readonly rows: PeerRow[] | undefined;
  readonly note: string;
  readonly ok: boolean;
}

async function peersSection(peers: Peers, features: Features): Promise<PeersOutcome> {
  say("");
  say("## Peers: NATS.js through a local nats-server");
  const check = checkNatsServer();
  if (!check.ok) {
    say(`- skipped: ${check.reason}`);
    return { rows: undefined, note: `skipped: ${check.reason}`, ok: true };
  }
  try {
    const server = await startNatsServer();
    try {
      const note = `${check.version} on ${server.url}, @nats-io/transport-node ${natsJsVersion()}`;
      say(`- ${note}; each role in its own process; typed and raw are the main cases' own variants, run again here`);
      say("");
      const rows = await runPeers(peers, {
        url: server.url,
        quick,
        repetitions,
        typedOnly,
        features,
        select: (title) => only === undefined || title.includes(only),
        progress,
      });
      say(peersTable(rows));
      say("");
      say("typed ÷ NATS.js and typed ÷ raw: higher is better for typed-zmq (for latencies, the other's ÷ typed's).");
      const natsLost = rows.reduce((n, r) => Math.max(n, r.lost.nats), 0);
      if (natsLost > 0) say("NATS.js lost messages (NATS core is at-most-once): its figures are not lossless.");
      return { rows, note, ok: rows.every((r) => r.lost.typed + r.lost.raw === 0) };
    } finally {
      await server.stop();
    }
  } catch (err) {
    say(`- FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return { rows: undefined, note: "failed", ok: false };
  }
}

async function benchmark(
  started: Date,
): Promise<{ rows: ResultRow[]; features: Features; ok: boolean; peers: PeersOutcome | undefined }> {
  const nodeArgs = cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`];
  // peer-c runs the RpcBroker of the broker-hop cases, so that broker, worker and client each have a process, and
  // the PipelineBroker of the reliable pipeline cases, whose sink runs in peer-d.
  const peers: Peers = {
    a: new Peer("peer-a", { nodeArgs }),
    b: new Peer("peer-b", { nodeArgs }),
    c: new Peer("peer-c", { nodeArgs }),
    d: new Peer("peer-d", { nodeArgs }),
  };
  const rows: ResultRow[] = [];
  let ok = true;
  try {
    const features = await peers.a.features();
    for (const note of features.notes) say(`- note: ${note}`);
    say("");
    const plan = buildPlan();
    // --only takes the case whose title is exactly the text if there is one, else every case whose title contains it.
    const exact = plan.some((c) => c.rows.some((r) => r.title === only));
    for (const c of plan) {
      const titles = c.rows.map((r) => r.title);
      if (only !== undefined && !titles.some((t) => (exact ? t === only : t.includes(only)))) continue;
      const skip = skipReason(c, features);
      if (skip !== undefined) {
        say(`- skipped: ${titles.join(", ")} (${skip})`);
        continue;
      }
      const t0 = performance.now();
      const caseRows = await runCase(peers, c, features);
      rows.push(...caseRows);
      for (const r of caseRows) {
        progress(
          `  ${r.case}: typed ${r.typed.toFixed(0)} raw ${r.raw.toFixed(0)} ${r.unit} ratio ${r.ratio.toFixed(2)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
        );
      }
    }
    say("");
    say(markdownTable(rows));
    say("");
    const lost = rows.filter((r) => r.lost.typed + r.lost.raw > 0);
    if (lost.length > 0) {
      ok = false;
      say(`LOST MESSAGES in: ${lost.map((r) => r.case).join(", ")}`);
    } else {
      say("Messages lost: 0 in every run.");
    }
    const slow = rows.filter(isSlow);
    if (slow.length > 0) say(`Below ${SLOW_RATIO} (⚠): ${slow.map((r) => `${r.case} (${r.ratio.toFixed(2)})`).join("; ")}`);
    const peersOutcome = withPeers ? await peersSection(peers, features) : undefined;
    if (peersOutcome?.ok === false) ok = false;
    if (complete) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(`${resultsDir}latest.json`, `${JSON.stringify(rows, null, 2)}\n`);
      writeFileSync(
        `${resultsDir}ratios.svg`,
        ratiosSvg(rows, `typed-zmq vs raw zeromq.js (${mode}, ${started.toISOString().slice(0, 10)})`),
      );
      if (peersOutcome?.rows !== undefined) {
        writeFileSync(`${resultsDir}peers.json`, `${JSON.stringify(peersOutcome.rows, null, 2)}\n`);
        writeFileSync(
          `${resultsDir}peers.svg`,
          peersSvg(peersOutcome.rows, `typed-zmq, raw zeromq.js and NATS.js (${mode}, ${started.toISOString().slice(0, 10)})`),
        );
      }
    }
    return { rows, features, ok, peers: peersOutcome };
  } finally {
    await Promise.all([peers.a.exit(), peers.b.exit(), peers.c?.exit(), peers.d?.exit()]);
  }
}

async function main(): Promise<number> {
  const started = new Date();
  const t0 = performance.now();
  for (const line of header(started)) say(line);
  let ok = true;
  let features: Features | undefined;
  let peersOutcome: PeersOutcome | undefined;
  if (!soakOnly) {
    const result = await benchmark(started);
    ok = result.ok;
    features = result.features;
    peersOutcome = result.peers;
  }
  let soak: SoakResult[] | undefined;
  if (soakOnly || (!quick && complete)) {
    say("");
    say("## Soak (no memory growth)");
    soak = await runSoak(say, features);
    if (soak.some((s) => s.flagged)) ok = false;
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(`${resultsDir}soak.json`, `${JSON.stringify({ date: started.toISOString(), results: soak }, null, 2)}\n`);
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  if (!soakOnly && complete) {
    mkdirSync(resultsDir, { recursive: true });
    const cpu = cpus();
    const meta = {
      date: started.toISOString(),
      mode,
      repetitions,
      wallSeconds,
      machine: { cpu: cpu[0]?.model, cores: cpu.length, node: process.version, libzmq: zmq.version, platform: process.platform },
      features,
      ...(peersOutcome === undefined ? {} : { peers: peersOutcome.note }),
      ...(soak === undefined ? {} : { soak }),
    };
    writeFileSync(`${resultsDir}latest.meta.json`, `${JSON.stringify(meta, null, 2)}\n`);
  }
  say("");
  const written = soakOnly
    ? `${resultsPath}soak.json`
    : complete
      ? `${resultsPath}latest.json, latest.meta.json, ratios.svg${peersOutcome?.rows === undefined ? "" : ", peers.json, peers.svg"}${soak === undefined ? "" : ", soak.json"}`
      : "none (partial run)";
  say(`Wall time: ${wallSeconds.toFixed(1)} s. Results written: ${written}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
