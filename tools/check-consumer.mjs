#!/usr/bin/env node
// Checks the package exactly as users get it: packs it (`npm pack`), installs the tarball into a temporary copy of
// test/consumer/, and there
//   1. typechecks the fixture with skipLibCheck false (and again true): src/ compiles, and every line in must-fail/
//      marked `// expect-error TSxxxx <message fragment>` fails with that code and message, and nothing else fails;
//   2. runs an ESM `import` and a CommonJS `require` of the installed package, each making a real RPC call;
//   3. runs the installed `typed-zmq` command;
//   4. walks the installed dist/index.js imports: they never reach dist/cli.js, dist/tools/ or child_process.
// Installs with --prefer-offline: zod, typescript, @types/node, zeromq and @msgpack/msgpack come from npm's cache
// (filled by `npm ci` in this repository). Exit code 0 when every check passes, 1 otherwise.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const fixture = path.join(root, "test", "consumer");
const requireHere = createRequire(path.join(root, "package.json"));
const { version } = requireHere("./package.json");
const failures = [];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 180_000, ...options });
  return { code: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? `${result.error ?? ""}` };
}

function must(what, result) {
  if (result.code !== 0) {
    console.error(`check-consumer: ${what} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    process.exit(1);
  }
  return result;
}

function check(ok, message) {
  if (ok) return;
  failures.push(message);
  console.error(`  FAIL ${message}`);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "typed-zmq-consumer-"));
const consumer = path.join(work, "consumer");
console.log(`check-consumer: working in ${work}`);

// 1. The tarball, from a fresh build.
must("npm run build", run("npm", ["run", "build", "--silent"], { cwd: root }));
const pack = must("npm pack", run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: root }));
const [packed] = JSON.parse(pack.stdout);
const tarball = path.join(work, packed.filename);
console.log(`packed ${packed.filename}: ${packed.entryCount} files, ${packed.size} bytes`);

// 2. The fixture, with the tarball and the toolchain versions this repository uses.
fs.cpSync(fixture, consumer, { recursive: true });
const manifest = JSON.parse(fs.readFileSync(path.join(consumer, "package.json"), "utf8"));
// Read from node_modules: some packages (@opentelemetry/api) do not export their package.json.
const versionOf = (name) => JSON.parse(fs.readFileSync(path.join(root, "node_modules", name, "package.json"), "utf8")).version;
// @opentelemetry/api is an optional peer: installed here so that `typed-zmq/opentelemetry` is typechecked and run.
manifest.dependencies = {
  "typed-zmq": `file:${tarball}`,
  zod: versionOf("zod"),
  "@opentelemetry/api": versionOf("@opentelemetry/api"),
};
manifest.devDependencies = { typescript: versionOf("typescript"), "@types/node": versionOf("@types/node") };
fs.writeFileSync(path.join(consumer, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
const started = performance.now();
must(
  "npm install in the consumer",
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel", "error"], { cwd: consumer }),
);
console.log(
  `installed the tarball and ${Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }).length - 1} packages in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

// 3. Types: what must compile does, what must fail does, with the expected message.
const expected = [];
for (const name of fs
  .readdirSync(path.join(consumer, "must-fail"))
  .filter((f) => f.endsWith(".ts"))
  .sort()) {
  const lines = fs.readFileSync(path.join(consumer, "must-fail", name), "utf8").split("\n");
  let count = 0;
  lines.forEach((line, i) => {
    const marker = /^\s*\/\/ expect-error (TS\d+) (.+)$/.exec(line);
    if (marker === null) return;
    count += 1;
    expected.push({ file: `must-fail/${name}`, line: i + 2, code: marker[1], fragment: marker[2].trim() });
  });
  check(count > 0, `must-fail/${name} has no "// expect-error TSxxxx <message>" marker`);
}

function diagnostics(output) {
  const found = [];
  for (const line of output.split("\n")) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (m !== null) found.push({ file: m[1].replaceAll("\\", "/"), line: Number(m[2]), code: m[4], text: m[5] });
    else if (found.length > 0 && /^\s+\S/.test(line)) found[found.length - 1].text += ` ${line.trim()}`;
  }
  return found;
}

const tsc = path.join(consumer, "node_modules", "typescript", "bin", "tsc");
for (const skipLibCheck of ["false", "true"]) {
  const result = run(process.execPath, [tsc, "-p", "tsconfig.json", "--pretty", "false", "--skipLibCheck", skipLibCheck], {
    cwd: consumer,
  });
  const found = diagnostics(result.stdout);
  console.log(`tsc (skipLibCheck ${skipLibCheck}): ${found.length} errors, ${expected.length} expected`);
  for (const e of expected) {
    const hit = found.find((d) => d.file === e.file && d.line === e.line);
    check(hit !== undefined, `${e.file}:${e.line} compiled, but must fail with ${e.code} (skipLibCheck ${skipLibCheck})`);
    if (hit === undefined) continue;
    check(
      hit.code === e.code && hit.text.includes(e.fragment),
      `${e.file}:${e.line} failed with ${hit.code} "${hit.text}", expected ${e.code} containing "${e.fragment}" (skipLibCheck ${skipLibCheck})`,
    );
  }
  for (const d of found) {
    const wanted = expected.some((e) => e.file === d.file && e.line === d.line);
    check(wanted, `unexpected error (skipLibCheck ${skipLibCheck}): ${d.file}(${d.line}): ${d.code} ${d.text}`);
  }
  if (found.length === 0 && result.code !== 0)
    check(false, `tsc exited ${result.code} without a diagnostic:\n${result.stdout}${result.stderr}`);
}

// 4. Runtime: ESM import and CommonJS require, each with a real RPC call.
for (const file of ["runtime/import.mjs", "runtime/require.cjs", "runtime/tracing.mjs"]) {
  const result = run(process.execPath, [file], { cwd: consumer, timeout: 20_000 });
  check(
    result.code === 0 && /: ok \(2 \+ 3 = 5/.test(result.stdout),
    `node ${file} (Node ${process.version}) exited ${result.code}:\n${result.stdout}${result.stderr}`,
  );
  console.log(
    `node ${file}: ${result.stdout.trim()}${result.stderr.trim() ? ` [stderr: ${result.stderr.trim().split("\n")[0]}]` : ""}`,
  );
}

// 5. The installed command.
const bin = path.join(consumer, "node_modules", ".bin", "typed-zmq");
const versionRun = run(bin, ["--version"], { cwd: consumer });
check(
  versionRun.code === 0 && versionRun.stdout === `${version}\n`,
  `typed-zmq --version printed "${versionRun.stdout}" (exit ${versionRun.code}), expected ${version}`,
);
const helpRun = run(bin, ["build-zmq-system", "--help"], { cwd: consumer });
check(
  helpRun.code === 0 && helpRun.stdout.startsWith("usage: typed-zmq build-zmq-system\n"),
  `typed-zmq build-zmq-system --help exited ${helpRun.code}: ${helpRun.stdout}${helpRun.stderr}`,
);
const doctorRun = run(bin, ["doctor"], { cwd: consumer });
check(
  doctorRun.code === 0 && /^libzmq\s+\d/m.test(doctorRun.stdout),
  `typed-zmq doctor exited ${doctorRun.code}: ${doctorRun.stdout}${doctorRun.stderr}`,
);
console.log(
  `typed-zmq --version: ${versionRun.stdout.trim()}; build-zmq-system --help: exit ${helpRun.code}; doctor: exit ${doctorRun.code}`,
);

// 6. The shipped runtime graph: dist/index.js never reaches the CLI, the build tool or child_process.
const installed = path.join(consumer, "node_modules", "typed-zmq");
const seen = new Set();
const queue = [path.join(installed, "dist", "index.js")];
while (queue.length > 0) {
  const file = queue.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  const text = fs.readFileSync(file, "utf8");
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)) {
    const specifier = m[1];
    if (specifier === "node:child_process" || specifier === "child_process")
      check(false, `${path.relative(installed, file)} imports ${specifier}`);
    if (specifier.startsWith("@opentelemetry/"))
      check(false, `${path.relative(installed, file)} imports ${specifier} (an optional peer: only typed-zmq/opentelemetry may)`);
    if (specifier.startsWith(".")) queue.push(path.resolve(path.dirname(file), specifier));
  }
}
const reached = [...seen].map((f) => path.relative(installed, f).replaceAll("\\", "/"));
for (const f of reached) check(f !== "dist/cli.js" && !f.startsWith("dist/tools/"), `import "typed-zmq" loads ${f}`);
console.log(
  `import "typed-zmq" loads ${reached.length} files of the package, none of them the CLI, the build tool or @opentelemetry`,
);

if (failures.length > 0) {
  console.error(`check-consumer: ${failures.length} check(s) failed; the consumer is kept in ${consumer}`);
  process.exit(1);
}
fs.rmSync(work, { recursive: true, force: true });
console.log("check-consumer: all checks passed");
