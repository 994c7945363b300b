import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import os from "node:os";
import { afterAll, describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { runCli, type CliRun } from "../helpers/cli-run.js";
import { readCertificate, writeCertificate, generateCertificate } from "../../src/index.js";

// The real `typed-zmq` command, run as a child process (node --import tsx src/cli.ts), stdout and stderr apart.

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };
const manifest = path.join(path.dirname(createRequire(import.meta.url).resolve("zeromq/package.json")), "build", "manifest.json");

type Run = CliRun;

function cli(...args: string[]): Promise<Run> {
  return runCli(args);
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
      [
        ["frobnicate"],
        /unknown command "frobnicate"\. Commands: call, sub, pub, push, pull, services, monitor, asyncapi, doctor, keygen, build-zmq-system, restore-zmq-prebuilt, help/,
      ],
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

describe("typed-zmq keygen", () => {
  const made: string[] = [];
  const tmp = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typed-zmq-keygen-"));
    made.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("writes a pyzmq pair (default) and prints both paths; --public prints the key of either file", async () => {
    const dir = path.join(tmp(), "new", "dir");
    const run = await cli("keygen", "--out", dir, "server");
    const publicFile = path.join(dir, "server.key");
    const secretFile = path.join(dir, "server.key_secret");
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toBe(`public certificate: ${publicFile}\nsecret certificate: ${secretFile} (mode 0600: keep it here)\n`);
    expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);
    const cert = readCertificate(secretFile);
    expect(readCertificate(publicFile)).toEqual({ publicKey: cert.publicKey, metadata: {} });
    for (const file of [publicFile, secretFile]) {
      expect(await cli("keygen", "--public", file)).toEqual({ code: 0, stdout: `${cert.publicKey}\n`, stderr: "" });
    }
  });

  test("--format czmq writes NAME and NAME_secret; --public reads a 0644 secret file too (it prints only the public key)", async () => {
    const dir = tmp();
    const run = await cli("keygen", "--format", "czmq", "--out", dir, "client");
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(fs.readdirSync(dir).sort()).toEqual(["client", "client_secret"]);
    const secretFile = path.join(dir, "client_secret");
    fs.chmodSync(secretFile, 0o644);
    expect(await cli("keygen", "--public", secretFile)).toEqual({
      code: 0,
      stdout: `${readCertificate(path.join(dir, "client")).publicKey}\n`,
      stderr: "",
    });
  });

  test("refuses to replace an existing pair (exit 1, files untouched)", async () => {
    const dir = tmp();
    const before = writeCertificate(dir, "server", generateCertificate());
    const secret = fs.readFileSync(before.secretFile, "utf8");
    const run = await cli("keygen", "--out", dir, "server");
    expect(run).toMatchObject({ code: 1, stdout: "" });
    expect(run.stderr).toContain(`${before.publicFile} and ${before.secretFile} already exist; not replacing a key pair`);
    expect(fs.readFileSync(before.secretFile, "utf8")).toBe(secret);
  });

  test("--public on a file that is not a certificate fails (exit 1) naming the file and the line", async () => {
    const dir = tmp();
    const file = path.join(dir, "bad.key");
    fs.writeFileSync(file, 'curve\n    public-key = "short"\n');
    const run = await cli("keygen", "--public", file);
    expect(run).toMatchObject({ code: 1, stdout: "" });
    expect(run.stderr).toContain(`${file} line 2: \`public-key\` must be a 40-character Z85 key, got 5 characters`);
  });

  test("--help prints the command's usage; usage errors exit 2 and write nothing", async () => {
    const help = await cli("keygen", "--help");
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(
      /^usage: typed-zmq keygen \[--out DIR\] \[--format pyzmq\|czmq\] NAME\n {7}typed-zmq keygen --public FILE\n/,
    );
    const dir = tmp();
    const cases: Array<[string[], RegExp]> = [
      [["keygen", "--out", dir], /typed-zmq keygen: give the NAME of the certificate pair to write/],
      [["keygen", "--out", dir, "a", "b"], /typed-zmq keygen: takes one NAME, got: a b/],
      [["keygen", "--out", dir, "--format", "zcert", "a"], /--format must be pyzmq or czmq, got "zcert"/],
      [["keygen", "--out", dir, "--public", "x.key", "a"], /--public FILE takes nothing else, got: a --out/],
      [["keygen", "--out", dir, "a/b"], /`name` must be a file name without a path separator/],
      [["keygen", "--public"], /Option '--public <value>' argument missing/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(...args);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
}, 60_000);
