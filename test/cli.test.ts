import { execFile } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";

// The real `typed-zmq` command, run as a child process (node --import tsx src/cli.ts), stdout and stderr apart.

const root = fileURLToPath(new URL("../", import.meta.url));
const { version } = createRequire(import.meta.url)("../package.json") as { version: string };
const manifest = path.join(path.dirname(createRequire(import.meta.url).resolve("zeromq/package.json")), "build", "manifest.json");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", ...args],
      { cwd: root, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("typed-zmq command", () => {
  test("--help, -h and help print the usage on stdout and exit 0", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const run = await cli(...args);
      expect(run, args.join(" ")).toMatchObject({ code: 0, stderr: "" });
      expect(run.stdout).toMatch(/^usage: typed-zmq <command> \[options\]/);
      expect(run.stdout).toContain("build-zmq-system");
    }
  });

  test("--version and -v print the package version, alone or after any command", async () => {
    for (const args of [
      ["--version"],
      ["-v"],
      ["doctor", "--version"],
      ["build-zmq-system", "--version"],
      ["restore-zmq-prebuilt", "-v"],
    ]) {
      expect(await cli(...args), args.join(" ")).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    }
  });

  test("a command's --help prints that command's help and runs nothing (build-zmq-system builds nothing)", async () => {
    const before = fs.readFileSync(manifest, "utf8");
    for (const args of [
      ["build-zmq-system", "--help"],
      ["build-zmq-system", "-h"],
      ["help", "build-zmq-system"],
    ]) {
      const run = await cli(...args);
      expect(run, args.join(" ")).toMatchObject({ code: 0, stderr: "" });
      expect(run.stdout).toMatch(/^usage: typed-zmq build-zmq-system\n/);
      expect(run.stdout).not.toMatch(/system libzmq \d|building in|registered/);
    }
    const restore = await cli("restore-zmq-prebuilt", "--help");
    expect(restore).toMatchObject({ code: 0, stderr: "" });
    expect(restore.stdout).toMatch(/^usage: typed-zmq restore-zmq-prebuilt\n/);
    expect(fs.readFileSync(manifest, "utf8")).toBe(before);
  });

  test("doctor prints the report (text or --json) and exits 0", async () => {
    const text = await cli("doctor");
    expect(text).toMatchObject({ code: 0, stderr: "" });
    expect(text.stdout).toContain(`libzmq     ${zmq.version}`);
    const json = await cli("doctor", "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ libzmq: zmq.version, capabilities: { ipc: zmq.capability.ipc === true } });
  });

  test("usage errors exit 2 with a message on stderr that names the mistake, and run nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /typed-zmq: no command given/],
      [["frobnicate"], /unknown command "frobnicate"\. Commands: doctor, build-zmq-system, restore-zmq-prebuilt, help/],
      [["doctor", "--bogus"], /typed-zmq doctor: unknown option --bogus \(options: -h\/--help, -v\/--version, --json\)/],
      [["build-zmq-system", "--jobs", "4"], /typed-zmq build-zmq-system: unknown option --jobs/],
      [["doctor", "--json=yes"], /typed-zmq doctor: Option '--json' does not take an argument/],
      [["doctor", "extra"], /typed-zmq doctor: takes no arguments, got: extra/],
      [["help", "frobnicate"], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(...args);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toContain("Run `npx typed-zmq --help` for usage.");
    }
  });
}, 60_000);
