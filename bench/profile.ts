/**
 * Summarises V8 CPU profiles (`.cpuprofile`, as written by `node --cpu-prof`) by self time:
 *
 *   npx tsx bench/run.ts --quick --only "push/pull tcp small" --cpu-prof-dir /tmp/prof
 *   npx tsx bench/profile.ts /tmp/prof [top]
 *
 * Prints, per profile (one per peer process), the functions with the most self time overall and those in src/
 * (file:function:line), with their share of the profile's samples.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod";

const CpuProfile = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
    }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

interface Entry {
  readonly name: string;
  selfUs: number;
}

function label(frame: { functionName: string; url: string; lineNumber: number }): string {
  const file = frame.url === "" ? "" : frame.url.replace(/^.*\/work\/[^/]+\//, "");
  const fn = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  // tsx's transpiled modules report line 1 for everything; a line number is only worth printing elsewhere.
  return file === "" ? fn : frame.lineNumber > 0 ? `${file}:${fn}:${frame.lineNumber + 1}` : `${file}:${fn}`;
}

function summarise(path: string, top: number): void {
  const profile = CpuProfile.parse(JSON.parse(readFileSync(path, "utf8")));
  const byNode = new Map<number, string>();
  for (const node of profile.nodes) byNode.set(node.id, label(node.callFrame));
  const entries = new Map<string, Entry>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    const name = byNode.get(id) ?? "?";
    const entry = entries.get(name) ?? { name, selfUs: 0 };
    entry.selfUs += dt;
    entries.set(name, entry);
  });
  const sorted = [...entries.values()].sort((a, b) => b.selfUs - a.selfUs);
  const line = (e: Entry): string =>
    `  ${((e.selfUs / totalUs) * 100).toFixed(1).padStart(5)}%  ${(e.selfUs / 1000).toFixed(0).padStart(6)} ms  ${e.name}`;
  console.log(`\n${path} (${(totalUs / 1e6).toFixed(1)} s sampled)`);
  console.log(" top self time overall:");
  for (const e of sorted.slice(0, top)) console.log(line(e));
  const src = sorted.filter((e) => e.name.startsWith("src/") || e.name.startsWith("dist/"));
  const srcUs = src.reduce((n, e) => n + e.selfUs, 0);
  console.log(` top self time in the library, src/ or dist/ (total ${((srcUs / totalUs) * 100).toFixed(1)}%):`);
  for (const e of src.slice(0, top)) console.log(line(e));
  // The same time by file (a package for node_modules): the split of a message's cost by step. zeromq.js's native
  // send and receive count as the self time of the JavaScript that calls them (internal/send-queue.js for a send,
  // internal/stream.js or internal/read-loop.js for a receive).
  const byFile = new Map<string, Entry>();
  for (const e of sorted) {
    const name = fileOf(e.name);
    const entry = byFile.get(name) ?? { name, selfUs: 0 };
    entry.selfUs += e.selfUs;
    byFile.set(name, entry);
  }
  console.log(" self time by file:");
  for (const e of [...byFile.values()].sort((a, b) => b.selfUs - a.selfUs).slice(0, top)) console.log(line(e));
}

/** The file (or package, or node's module loader) of a label from {@link label}. */
function fileOf(name: string): string {
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(name);
  if (pkg !== null) return pkg[1] === "tsx" ? "node: module loading" : `node_modules/${pkg[1]}`;
  if (name.startsWith("node:internal/modules/")) return "node: module loading";
  const colon = name.indexOf(":", name.startsWith("node:") ? 5 : 0);
  return colon < 0 ? name : name.slice(0, colon);
}

const [dir = ".", topText = "15"] = process.argv.slice(2);
const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
if (files.length === 0) console.log(`no .cpuprofile files in ${dir}`);
for (const file of files) summarise(join(dir, file), Number(topText));
