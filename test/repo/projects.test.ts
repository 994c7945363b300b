import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";

// Every test file belongs to exactly one vitest project, across vitest.config.ts (what `npm test` runs) and
// vitest.slow.config.ts (the slow suites). A file in no project would never run; a file in two would run twice.
// The projects are asked of vitest itself (`vitest list --filesOnly`), so its own glob matching decides.

const root = fileURLToPath(new URL("../../", import.meta.url));
const vitest = fileURLToPath(new URL("../../node_modules/vitest/vitest.mjs", import.meta.url));
const run = promisify(execFile);

async function listed(config: string): Promise<Array<{ file: string; project: string; config: string }>> {
  const { stdout } = await run(process.execPath, [vitest, "list", "--filesOnly", "--json", "-c", config], {
    cwd: root,
    timeout: 10_000,
  });
  const entries = JSON.parse(stdout) as Array<{ file: string; projectName: string }>;
  return entries.map((e) => ({ file: relative(root, e.file), project: e.projectName, config }));
}

// Asked once for both tests; two vitest start-ups take about 2 s here, more on a loaded machine.
const listings = Promise.all([listed("vitest.config.ts"), listed("vitest.slow.config.ts")]);

describe("vitest projects", { timeout: 15_000 }, () => {
  test("every test file is in exactly one project", async () => {
    const files = readdirSync(new URL("../", import.meta.url), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".test.ts"))
      .map((f) => `test/${f.split("\\").join("/")}`)
      .sort();
    const entries = (await listings).flat();
    const homes = new Map<string, string[]>(files.map((f) => [f, []]));
    for (const e of entries) homes.set(e.file, [...(homes.get(e.file) ?? []), `${e.project} (${e.config})`]);
    const wrong = [...homes]
      .filter(([, where]) => where.length !== 1)
      .map(([f, where]) => `${f}: ${where.length === 0 ? "no project" : where.join(", ")}`);
    expect(
      wrong,
      "Put each test file in one project: in the folder of its project (test/unit, test/sockets, test/programs, " +
        "test/repo, test/interop) or in one list of vitest.config.ts / vitest.slow.config.ts",
    ).toEqual([]);
    expect(files).toContain("test/repo/projects.test.ts");
  });

  test("npm test runs unit, sockets, programs and repo; the slow suites are apart", async () => {
    const [mainEntries, slowEntries] = await listings;
    const main = new Set(mainEntries.map((e) => e.project));
    const slow = new Set(slowEntries.map((e) => e.project));
    expect([...main].sort()).toEqual(["programs", "repo", "sockets", "unit"]);
    expect(slow.has("pgm") && slow.has("interop")).toBe(true);
  });
});
