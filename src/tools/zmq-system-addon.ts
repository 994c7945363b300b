/**
 * @packageDocumentation
 * Builds the `zeromq` package's own native sources against the system's libzmq (Debian's `libzmq3-dev`, which has
 * PGM/EPGM and NORM, unlike the prebuilt addon) and makes every `require("zeromq")` of this install load it, offline.
 *
 * How: node-gyp (bundled with npm) compiles `node_modules/zeromq/src/*.cc` with Node's installed headers
 * (`--nodedir`, so nothing is downloaded) and `pkg-config libzmq`; the addon is copied to
 * `node_modules/zeromq/build/linux/<arch>/node/system-libzmq/addon.node` and registered in
 * `node_modules/zeromq/build/manifest.json` with a very high `abi`, because zeromq.js' loader (cmake-ts) sorts the
 * compatible entries by `abi`, highest first, and loads the first one that loads. The original manifest is kept as
 * `manifest.prebuilt.json` until {@link restorePrebuiltAddon} puts it back. A later `npm install`/`npm ci` that
 * reinstalls `zeromq` also brings the prebuilt addon back.
 *
 * A build-time tool, not part of the library: only the `typed-zmq` command (`src/cli.ts`) loads it, and nothing that
 * `import "typed-zmq"` loads imports it (test/import-graph.test.ts checks). The manifest reading it shares with
 * `doctor()` lives in `internal/addon-manifest.ts`.
 */

import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import {
  ENTRY_NAME,
  type AddonPaths as Paths,
  isOurEntry,
  isRecord,
  message,
  readManifest,
  zeromqPaths,
} from "../internal/addon-manifest.js";

/** What {@link buildSystemAddon} built and verified. */
export interface BuildReport {
  /** Absolute path of the installed addon (`.../zeromq/build/linux/<arch>/node/system-libzmq/addon.node`). */
  addonPath: string;
  /** libzmq version reported by `require("zeromq").version` in a fresh process, e.g. `4.3.4`. */
  version: string;
  /** `require("zeromq").capability` in a fresh process (`pgm`, `norm`, `curve`, `draft`, ...). */
  capability: Record<string, boolean>;
  /** Wall-clock seconds the whole build, install and verification took. */
  seconds: number;
}

/** Higher than any real Node ABI, so the loader tries our addon first. */
const ENTRY_ABI = 10000;
const APT_HINT = "apt-get install -y libzmq3-dev pkg-config g++ make python3";

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface ZeromqProbe {
  version: string;
  capability: Record<string, boolean>;
  loadedOurs: boolean | null;
}

/** The libc name cmake-ts' loader compares manifest entries against. */
function libcName(): string {
  return fs.existsSync("/etc/alpine-release") ? "musl" : "glibc";
}

function writeFileAtomic(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, text);
  fs.renameSync(temp, file);
}

function ourEntryKey(): string {
  // Same shape as cmake-ts' own entries; the loader only reads os/arch/libc (to filter) and abi (to sort).
  return JSON.stringify({
    name: ENTRY_NAME,
    cross: false,
    os: process.platform,
    arch: process.arch,
    runtime: "node",
    nodeAPI: "node-addon-api",
    runtimeVersion: process.versions.node,
    buildType: "Release",
    dev: false,
    abi: ENTRY_ABI,
    libc: libcName(),
  });
}

/** Runs a program without a shell; never rejects (a failed spawn is reported as exit code null). */
function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let pending = "";
    const child = spawn(command, args, {
      cwd: options.cwd ?? process.cwd(),
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const onLine = options.onLine;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
      if (onLine === undefined) return;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    });
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", (error) => {
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${error.message}\n` });
    });
    child.on("close", (code, signal) => {
      if (onLine !== undefined && pending.length > 0) onLine(pending);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function tail(result: RunResult, lines = 40): string {
  const all = `${result.stdout}\n${result.stderr}`.split("\n").filter((line) => line.trim().length > 0);
  return all.slice(-lines).join("\n");
}

/** Absolute path of an executable on PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (dir.length === 0) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The node-gyp that ships inside npm (no network needed to use it). */
function findNodeGyp(): string {
  const candidates: string[] = [];
  const fromNpm = process.env["npm_config_node_gyp"];
  if (fromNpm !== undefined && fromNpm.length > 0) candidates.push(fromNpm);
  const npm = onPath("npm");
  if (npm !== undefined) {
    try {
      // .../lib/node_modules/npm/bin/npm-cli.js -> .../lib/node_modules/npm
      const npmDir = path.dirname(path.dirname(fs.realpathSync(npm)));
      candidates.push(path.join(npmDir, "node_modules", "node-gyp", "bin", "node-gyp.js"));
    } catch {
      // broken link: try the next candidate
    }
  }
  const prefix = path.dirname(path.dirname(fs.realpathSync(process.execPath)));
  candidates.push(path.join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (found === undefined) {
    throw new Error(
      `Cannot find node-gyp (it ships with npm; looked in ${candidates.join(", ")}). ` +
        "Reinstall Node.js with its bundled npm, or set npm_config_node_gyp to node-gyp's bin/node-gyp.js.",
    );
  }
  return found;
}

/** A Node install prefix that has the headers node-gyp needs (`include/node/node_api.h` and `common.gypi`). */
function findNodeDir(): string {
  const prefixes = [path.dirname(path.dirname(fs.realpathSync(process.execPath))), "/usr"];
  const unique = [...new Set(prefixes)];
  const found = unique.find(
    (prefix) =>
      fs.existsSync(path.join(prefix, "include", "node", "node_api.h")) &&
      fs.existsSync(path.join(prefix, "include", "node", "common.gypi")),
  );
  if (found === undefined) {
    throw new Error(
      `Node's C headers are missing (no ${unique.map((p) => path.join(p, "include", "node", "node_api.h")).join(" or ")} ` +
        "with common.gypi beside it). This build is offline and will not download them: install a Node.js package that " +
        "ships its headers (NodeSource's nodejs does; with Debian's own nodejs: apt-get install -y libnode-dev).",
    );
  }
  return found;
}

/** Splits pkg-config output into arguments (pkg-config escapes spaces in paths with a backslash). */
function splitFlags(text: string): string[] {
  return text
    .trim()
    .split(/(?<!\\)\s+/)
    .filter((flag) => flag.length > 0)
    .map((flag) => flag.replace(/\\(\s)/g, "$1"));
}

interface Prerequisites {
  nodeGyp: string;
  nodeDir: string;
  nodeAddonApi: string;
  sources: string[];
  cflags: string[];
  libs: string[];
  systemVersion: string;
}

async function checkPrerequisites(paths: Paths): Promise<Prerequisites> {
  if (process.platform !== "linux") {
    throw new Error(`Building zeromq against the system libzmq is supported on Linux only (this is ${process.platform}).`);
  }
  const missing: string[] = [];
  const pkgConfig = await run("pkg-config", ["--version"]);
  if (pkgConfig.code !== 0) missing.push("pkg-config (apt-get install -y pkg-config)");
  const cxx = process.env["CXX"] ?? "g++";
  if ((await run(cxx, ["--version"])).code !== 0) missing.push(`a C++20 compiler, ${cxx} (apt-get install -y g++)`);
  if ((await run("make", ["--version"])).code !== 0) missing.push("make (apt-get install -y make)");
  const python = process.env["npm_config_python"] ?? process.env["PYTHON"] ?? "python3";
  if ((await run(python, ["--version"])).code !== 0)
    missing.push(`Python 3 for node-gyp, ${python} (apt-get install -y python3)`);
  let systemVersion = "";
  let cflags: string[] = [];
  let libs: string[] = [];
  if (pkgConfig.code === 0) {
    const version = await run("pkg-config", ["--modversion", "libzmq"]);
    if (version.code !== 0) {
      missing.push("the system libzmq with its headers (apt-get install -y libzmq3-dev)");
    } else {
      systemVersion = version.stdout.trim();
      const cf = await run("pkg-config", ["--cflags", "libzmq"]);
      const lf = await run("pkg-config", ["--libs", "libzmq"]);
      if (cf.code !== 0 || lf.code !== 0) {
        throw new Error(
          `pkg-config libzmq failed:\n${tail(cf)}\n${tail(lf)}\nReinstall it: apt-get install -y --reinstall libzmq3-dev`,
        );
      }
      cflags = splitFlags(cf.stdout);
      libs = splitFlags(lf.stdout);
    }
  }
  if (missing.length > 0) {
    throw new Error(`Cannot build zeromq against the system libzmq; missing: ${missing.join("; ")}. All at once: ${APT_HINT}`);
  }
  const nodeDir = findNodeDir();
  const nodeGyp = findNodeGyp();

  let nodeAddonApi: string;
  try {
    nodeAddonApi = path.dirname(createRequire(path.join(paths.zeromqDir, "package.json")).resolve("node-addon-api/package.json"));
  } catch (error) {
    throw new Error(`Cannot find node-addon-api, a dependency of zeromq (${message(error)}). Reinstall with \`npm ci\`.`, {
      cause: error,
    });
  }
  if (!fs.existsSync(path.join(nodeAddonApi, "napi.h"))) {
    throw new Error(`node-addon-api at ${nodeAddonApi} has no napi.h. Reinstall with \`npm ci\`.`);
  }

  const srcDir = path.join(paths.zeromqDir, "src");
  let sources: string[] = [];
  try {
    sources = fs
      .readdirSync(srcDir)
      .filter((name) => name.endsWith(".cc") && name !== "win_delay_load_hook.cc")
      .sort();
  } catch {
    // reported below
  }
  if (sources.length === 0) {
    throw new Error(`zeromq's C++ sources are missing (${srcDir}/*.cc). Reinstall zeromq with \`npm ci\`.`);
  }
  if (!fs.existsSync(paths.manifest)) {
    throw new Error(`zeromq's addon manifest ${paths.manifest} is missing. Reinstall zeromq with \`npm ci\`.`);
  }
  return { nodeGyp, nodeDir, nodeAddonApi, sources, cflags, libs, systemVersion };
}

/** binding.gyp equivalent of zeromq's CMakeLists.txt with ZMQ_SHARED=ON, ZMQ_DRAFT=OFF, ZMQ_NO_SYNC_RESOLVE=OFF. */
function bindingGyp(pre: Prerequisites): string {
  const includeDirs = pre.cflags.filter((f) => f.startsWith("-I")).map((f) => f.slice(2));
  const otherCflags = pre.cflags.filter((f) => !f.startsWith("-I"));
  const target = {
    target_name: "addon",
    sources: pre.sources.map((name) => `src/${name}`),
    include_dirs: [pre.nodeAddonApi, ...includeDirs],
    defines: [
      // As zeromq's CMakeLists.txt; no ZMQ_BUILD_DRAFT_API (Debian's libzmq has no draft API).
      "NAPI_CPP_EXCEPTIONS",
      "V8_COMPRESS_POINTERS",
      "V8_31BIT_SMIS_ON_64BIT_ARCH",
      "V8_REVERSE_JSARGS",
    ],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    cflags: otherCflags,
    cflags_cc: ["-std=c++20", "-fexceptions", "-Wno-shadow"],
    libraries: pre.libs,
  };
  return `${JSON.stringify({ targets: [target] }, null, 2)}\n`;
}

/** Loads zeromq (or an addon file) in a fresh Node process and returns its version and capabilities. */
async function probe(target: string, addonPath: string): Promise<ZeromqProbe> {
  const script = [
    `const z = require(${JSON.stringify(target)});`,
    "let loadedOurs = null;",
    `try { loadedOurs = require("fs").readFileSync("/proc/self/maps", "utf8").includes(${JSON.stringify(addonPath)}); } catch {}`,
    "console.log(JSON.stringify({ version: z.version, capability: z.capability, loadedOurs }));",
  ].join("\n");
  const result = await run(process.execPath, ["-e", script], { cwd: os.tmpdir() });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  if (result.code !== 0 || !isRecord(parsed) || typeof parsed["version"] !== "string" || !isRecord(parsed["capability"])) {
    throw new Error(`Loading ${target} in a fresh Node process failed:\n${tail(result)}`);
  }
  const capability: Record<string, boolean> = {};
  for (const [key, value] of Object.entries(parsed["capability"])) {
    if (typeof value === "boolean") capability[key] = value;
  }
  const loadedOurs = parsed["loadedOurs"];
  return { version: parsed["version"], capability, loadedOurs: typeof loadedOurs === "boolean" ? loadedOurs : null };
}

function describeProbe(p: ZeromqProbe): string {
  const caps = Object.entries(p.capability)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
  return `libzmq ${p.version} (${caps})`;
}

/** Puts our entry into the manifest (backing the original up once); replaces an older entry of ours. */
function register(paths: Paths): void {
  if (!fs.existsSync(paths.backup)) fs.copyFileSync(paths.manifest, paths.backup);
  const manifest = readManifest(paths.manifest);
  const next: Record<string, string> = {};
  for (const [key, value] of Object.entries(manifest)) {
    if (!isOurEntry(key, value, paths)) next[key] = value;
  }
  next[ourEntryKey()] = paths.manifestValue;
  writeFileAtomic(paths.manifest, JSON.stringify(next));
}

/**
 * Compiles zeromq.js' own native sources (`node_modules/zeromq/src/*.cc`) against the system libzmq found by
 * `pkg-config` (Debian: `libzmq3-dev`, with PGM/EPGM and NORM, without the draft API), fully offline, and makes every
 * `require("zeromq")` in this install load the result until {@link restorePrebuiltAddon} is called (or zeromq is
 * reinstalled).
 *
 * Steps: checks the prerequisites (pkg-config, libzmq headers, g++, make, python3, Node's headers, npm's bundled
 * node-gyp) and throws with the `apt-get install` line to run if one is missing; runs
 * `node-gyp configure build --nodedir=<prefix>` in a temporary directory; loads the built addon in a fresh process to check it reports the system
 * libzmq's version with `pgm: true`; copies it to `node_modules/zeromq/build/linux/<arch>/node/system-libzmq/addon.node`;
 * backs `manifest.json` up to `manifest.prebuilt.json` (unless a backup exists); registers the addon with abi 10000 so
 * zeromq's loader tries it first; and finally checks in a fresh process that `require("zeromq")` now reports the
 * system libzmq. If that last check fails, the manifest is restored before throwing.
 *
 * Takes about 15 to 30 s. Needs: `apt-get install -y libzmq3-dev pkg-config g++ make python3`.
 *
 * @param options - `log` receives progress lines (default: silent).
 * @returns Where the addon was installed, the libzmq version and capabilities a fresh process sees, and the time taken.
 * @throws Error when a prerequisite is missing, the compilation fails (the build directory is kept and named), or the
 *   result does not load or lacks PGM.
 */
export async function buildSystemAddon(options: { log?: (line: string) => void } = {}): Promise<BuildReport> {
  const started = performance.now();
  const log = options.log ?? ((): void => undefined);
  const paths = zeromqPaths();
  const pre = await checkPrerequisites(paths);
  log(
    `system libzmq ${pre.systemVersion}; Node headers in ${path.join(pre.nodeDir, "include", "node")}; node-gyp ${pre.nodeGyp}`,
  );

  const work = fs.mkdtempSync(path.join(os.tmpdir(), "typed-zmq-system-addon-"));
  // Copy the C++ sources so every object file stays inside the temporary directory.
  fs.cpSync(path.join(paths.zeromqDir, "src"), path.join(work, "src"), {
    recursive: true,
    filter: (source) => fs.statSync(source).isDirectory() || /\.(cc|h)$/.test(source),
  });
  fs.writeFileSync(path.join(work, "binding.gyp"), bindingGyp(pre));
  log(`building in ${work}`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Never fetch anything: node-gyp uses the headers under --nodedir and needs no network then.
    npm_config_nodedir: pre.nodeDir,
    npm_config_offline: "true",
  };
  const gypArgs = ["--nodedir", pre.nodeDir, "--loglevel", "warn"];
  const configure = await run(process.execPath, [pre.nodeGyp, "configure", ...gypArgs], { cwd: work, env });
  if (configure.code !== 0) {
    throw new Error(`node-gyp configure failed (build directory kept: ${work}):\n${tail(configure)}`);
  }
  const build = await run(process.execPath, [pre.nodeGyp, "build", ...gypArgs, "--jobs", "max"], {
    cwd: work,
    env,
    onLine: (line) => {
      if (/^\s+(CXX|SOLINK_MODULE)\(target\)/.test(line)) log(line.trim());
    },
  });
  const built = path.join(work, "build", "Release", "addon.node");
  if (build.code !== 0 || !fs.existsSync(built)) {
    throw new Error(`Compiling zeromq against the system libzmq failed (build directory kept: ${work}):\n${tail(build)}`);
  }

  const standalone = await probe(built, built);
  log(`built addon: ${describeProbe(standalone)}`);
  if (standalone.version !== pre.systemVersion) {
    throw new Error(
      `The built addon reports libzmq ${standalone.version}, not the system's ${pre.systemVersion} (build directory kept: ${work}). ` +
        "Check that only one libzmq is installed (ldconfig -p | grep libzmq).",
    );
  }
  if (standalone.capability["pgm"] !== true) {
    throw new Error(
      `The system libzmq ${pre.systemVersion} was built without PGM/EPGM (capability.pgm is false), so this addon would not ` +
        "add it. Use a libzmq built with --with-pgm (Debian's libzmq3-dev is). Nothing was installed.",
    );
  }

  fs.mkdirSync(paths.addonDir, { recursive: true });
  const staged = `${paths.addonPath}.${process.pid}.tmp`;
  fs.copyFileSync(built, staged);
  fs.renameSync(staged, paths.addonPath);
  register(paths);
  log(`registered ${paths.manifestValue} in ${paths.manifest} (original kept as ${path.basename(paths.backup)})`);

  let installed: ZeromqProbe;
  try {
    installed = await probe(paths.zeromqDir, paths.addonPath);
    if (installed.version !== pre.systemVersion || installed.loadedOurs === false) {
      throw new Error(`require("zeromq") still loads ${describeProbe(installed)}`);
    }
  } catch (error) {
    await restorePrebuiltAddon();
    throw new Error(
      `The system addon was built but zeromq does not load it (${message(error)}); the prebuilt addon was restored.`,
      { cause: error },
    );
  }
  log(`require("zeromq") now loads ${describeProbe(installed)}`);
  fs.rmSync(work, { recursive: true, force: true });
  return {
    addonPath: paths.addonPath,
    version: installed.version,
    capability: installed.capability,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

/**
 * Makes zeromq load its prebuilt addon again: puts `manifest.prebuilt.json` back as `manifest.json` (or, without a
 * backup, drops our entry from the manifest) and removes the `system-libzmq` addon directory.
 *
 * @returns `true` if something was restored or removed, `false` if the system addon was not installed.
 * @throws Error when the zeromq package cannot be found or its build directory cannot be written.
 */
export async function restorePrebuiltAddon(): Promise<boolean> {
  const paths = zeromqPaths();
  let changed = false;
  if (fs.existsSync(paths.backup)) {
    fs.renameSync(paths.backup, paths.manifest);
    changed = true;
  } else if (fs.existsSync(paths.manifest)) {
    const manifest = readManifest(paths.manifest);
    const kept = Object.entries(manifest).filter(([key, value]) => !isOurEntry(key, value, paths));
    if (kept.length !== Object.keys(manifest).length) {
      writeFileAtomic(paths.manifest, JSON.stringify(Object.fromEntries(kept)));
      changed = true;
    }
  }
  if (fs.existsSync(paths.addonDir)) {
    await fs.promises.rm(paths.addonDir, { recursive: true, force: true });
    changed = true;
  }
  return changed;
}
