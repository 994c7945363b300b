#!/usr/bin/env node
// Packaging checks on what `npm pack` would publish (run after `npm run build`):
//   - the tarball holds what package.json points at (exports, main, types, bin), the README, LICENSE and CHANGELOG;
//   - every source map (.js.map, .d.ts.map) names only sources that ship in the tarball (src/ is shipped for them);
//   - publint (package.json fields against the files);
//   - @arethetypeswrong/cli with the esm-only profile: typed-zmq is ESM-only, so attw's "node16 (from CJS)" row
//     (a `require` resolving to ESM) is expected and not checked; CommonJS `require` works from Node 20.19
//     (require of ES modules), which tools/check-consumer.mjs verifies for real, on the installed tarball.
// Exit code 0 when all pass, 1 otherwise.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.error(`  FAIL ${message}`);
};

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 300_000 });
  return { code: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

// What the tarball holds.
const packRun = run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"]);
if (packRun.code !== 0) {
  console.error(`npm pack --dry-run failed:\n${packRun.stderr}`);
  process.exit(1);
}
const [pack] = JSON.parse(packRun.stdout);
const files = new Set(pack.files.map((f) => f.path));
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const pointed = [
  pkg.main,
  pkg.types,
  ...Object.values(pkg.bin ?? {}),
  ...Object.values(pkg.exports).flatMap((entry) => (typeof entry === "string" ? [entry] : Object.values(entry))),
].map((p) => path.posix.normalize(p));
for (const need of new Set([...pointed, "package.json", "README.md", "LICENSE", "CHANGELOG.md"])) {
  if (!files.has(need)) fail(`npm pack is missing ${need}`);
}
for (const file of files) {
  if (/^(test|bench|examples|schemas|tools|\.ci)\//.test(file)) fail(`npm pack ships ${file}, which is not part of the package`);
}

// Source maps point at shipped files.
let maps = 0;
for (const file of [...files].filter((f) => f.endsWith(".map"))) {
  maps += 1;
  const map = JSON.parse(fs.readFileSync(path.join(root, file), "utf8"));
  for (const source of map.sources) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), map.sourceRoot ?? "", source));
    if (!files.has(target)) fail(`${file} points at ${target}, which the tarball does not ship`);
  }
}
console.log(`npm pack: ${files.size} files, ${pack.size} bytes; ${maps} source maps, each pointing at shipped sources`);

// publint and attw.
for (const [name, args] of [
  ["publint", ["publint", "--strict"]],
  ["attw", ["attw", "--pack", ".", "--profile", "esm-only", "--format", "table-flipped", "--no-color"]],
]) {
  const result = run("npx", ["--no-install", ...args]);
  const output = `${result.stdout}${result.stderr}`.trim();
  console.log(`${name}: exit ${result.code}\n${output}`);
  if (result.code !== 0) fail(`${name} failed`);
}

if (failures.length > 0) {
  console.error(`check-package: ${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("check-package: all checks passed");
