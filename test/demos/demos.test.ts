/**
 * The demo programs in examples/ run as real child processes (`node --import tsx <file>`), the way they run in
 * separate containers, over tcp and ipc: each test reads the real endpoints from the programs' output, checks what
 * they printed and that they exit 0 (by themselves, or on SIGTERM for the ones that run until stopped).
 * The last suite runs `npm run demo` itself.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { generateCertificate, writeCertificate } from "../../src/index.js";
import { within } from "../helpers/deferred.js";
import { endpointFor } from "../helpers/endpoints.js";
import { killAll, startProgram, type Program } from "../helpers/programs.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Upper bound for a program to start and print a line, or to exit: each node+tsx start takes ~1 s here. */
const WAIT_MS = 20_000;

/** Per-test timeout: a handful of processes starting one after another on a small machine. */
const TEST_MS = 60_000;

type Transport = "tcp" | "ipc";

/** The programs and ipc socket files of one test; `cleanup()` belongs in the test's `finally`. */
class Run {
  readonly programs: Program[] = [];
  readonly #files: string[] = [];

  /** A fresh endpoint to bind to: `tcp://127.0.0.1:0` or a unique ipc path (removed by `cleanup`). */
  endpoint(transport: Transport): string {
    const endpoint = endpointFor(transport);
    if (transport === "ipc") this.#files.push(endpoint.slice("ipc://".length));
    return endpoint;
  }

  start(name: string, file: string, env: Record<string, string>): Program {
    const program = startProgram(name, file, env);
    this.programs.push(program);
    return program;
  }

  /** Kills whatever still runs and removes socket files a killed program may have left. */
  async cleanup(): Promise<void> {
    await killAll(this.programs);
    for (const file of this.#files) rmSync(file, { force: true });
  }
}

/** The program's output, for assertion messages. */
function outputOf(program: Program): string {
  return `${program.name} printed:\n${program.lines.join("\n")}`;
}

/** The capture groups of the first line of `program` matching `pattern` (every group must have matched). */
async function groups(program: Program, pattern: RegExp): Promise<string[]> {
  const match = await program.waitForLine(pattern, WAIT_MS);
  const found = match.slice(1);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- an unmatched optional group is undefined at run time
  if (found.some((g) => g === undefined)) throw new Error(`${pattern} matched without all its groups: ${match[0]}`);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  return found.filter((g): g is string => g !== undefined);
}

/** The one endpoint captured by `pattern`'s first group. */
async function endpointFrom(program: Program, pattern: RegExp): Promise<string> {
  const [endpoint] = await groups(program, pattern);
  if (endpoint === undefined) throw new Error(`${pattern} has no group`);
  return endpoint;
}

/** A bound endpoint as printed: a real tcp port (not 0), or the very ipc path asked for. */
function expectBound(printed: string, asked: string, transport: Transport): void {
  if (transport === "tcp") expect(printed).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
  else expect(printed).toBe(asked);
}

/** The exit code of a program that finishes by itself, within a bounded time. */
async function exitOf(program: Program): Promise<number | string> {
  try {
    return await within(program.exited, WAIT_MS, `${program.name} to exit`);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; ${outputOf(program)}`, { cause: err });
  }
}

/** Sends SIGTERM and returns the exit code, within a bounded time. */
async function stop(program: Program): Promise<number | string> {
  try {
    return await within(program.stop(), WAIT_MS, `${program.name} to stop on SIGTERM`);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; ${outputOf(program)}`, { cause: err });
  }
}

/** Lines of `program` matching `pattern`. */
function linesMatching(program: Program, pattern: RegExp): string[] {
  return program.lines.filter((line) => pattern.test(line));
}

/** How often each key occurs. */
function tally(keys: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

/** Escapes `text` for use inside a RegExp. */
function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe.each(["tcp", "ipc"] as const)("demo programs over %s", (transport) => {
  test(
    "request-reply: the client gets 3 greetings with its name; the server stops after 3 requests",
    async () => {
      const run = new Run();
      try {
        const bind = run.endpoint(transport);
        const server = run.start("server", "examples/request-reply/server.ts", { RPC_BIND: bind, SERVER_NAME: "alpha" });
        const at = await endpointFrom(server, /^server alpha: listening on (\S+)$/);
        expectBound(at, bind, transport);

        const client = run.start("client", "examples/request-reply/client.ts", {
          RPC_CONNECT: at,
          CLIENT_NAME: "ada",
          COUNT: "3",
        });
        expect(await exitOf(client), outputOf(client)).toBe(0);
        const greetings = linesMatching(client, /^client ada: \d+\/3 /);
        expect(greetings, outputOf(client)).toEqual([
          "client ada: 1/3 Hello world back at ya, ada! (from alpha)",
          "client ada: 2/3 Hello world back at ya, ada! (from alpha)",
          "client ada: 3/3 Hello world back at ya, ada! (from alpha)",
        ]);
        expect(client.lines).toContain("client ada: done");

        expect(await stop(server), outputOf(server)).toBe(0);
        expect(linesMatching(server, /hello from/), outputOf(server)).toEqual(
          Array.from({ length: 3 }, () => "server alpha: hello from ada"),
        );
        expect(server.lines, outputOf(server)).toContain("server alpha: stopping after 3 requests");
      } finally {
        await run.cleanup();
      }
    },
    TEST_MS,
  );

  test(
    "request-reply through the broker: both servers answer the client's 4 calls; all stop cleanly",
    async () => {
      const run = new Run();
      try {
        const frontBind = run.endpoint(transport);
        const backBind = run.endpoint(transport);
        const broker = run.start("broker", "examples/broker/broker.ts", {
          BROKER_FRONTEND_BIND: frontBind,
          BROKER_BACKEND_BIND: backBind,
        });
        const [front, back] = await groups(broker, /^broker: rpc frontend (\S+), backend (\S+)$/);
        if (front === undefined || back === undefined) throw new Error(outputOf(broker));
        expectBound(front, frontBind, transport);
        expectBound(back, backBind, transport);
        expect(front).not.toBe(back);

        const names = ["beta", "gamma"] as const;
        const servers = names.map((name) =>
          run.start(`server ${name}`, "examples/request-reply/server.ts", { RPC_CONNECT_BACKEND: back, SERVER_NAME: name }),
        );
        await Promise.all(
          servers.map((s, i) =>
            s.waitForLine(new RegExp(`^server ${names[i]}: serving through broker ${escaped(back)}$`), WAIT_MS),
          ),
        );
        // Two distinct servers announced themselves to the broker.
        const [first] = await groups(broker, /^broker: worker (\S+) of \S+ ready for \d+ requests at once$/);
        if (first === undefined) throw new Error(outputOf(broker));
        await groups(broker, new RegExp(`^broker: worker (?!${escaped(first)} )(\\S+) of \\S+ ready for \\d+ requests at once$`));

        const client = run.start("client", "examples/request-reply/client.ts", {
          RPC_CONNECT: front,
          CLIENT_NAME: "grace",
          COUNT: "4",
        });
        expect(await exitOf(client), outputOf(client)).toBe(0);
        const greetings = linesMatching(client, /^client grace: \d+\/4 /);
        expect(greetings, outputOf(client)).toHaveLength(4);
        const answeredBy = greetings.map(
          (line) => /^client grace: \d+\/4 Hello world back at ya, grace! \(from (\w+)\)$/.exec(line)?.[1] ?? `unparsed: ${line}`,
        );
        const byServer = tally(answeredBy);
        expect(Object.keys(byServer).sort(), outputOf(client)).toEqual(["beta", "gamma"]);
        expect(client.lines).toContain("client grace: done");

        const codes = await Promise.all(servers.map((s) => stop(s)));
        expect(codes, servers.map(outputOf).join("\n")).toEqual([0, 0]);
        expect(await stop(broker), outputOf(broker)).toBe(0);
        servers.forEach((server, i) => {
          const name = names[i] ?? "";
          const served = linesMatching(server, /hello from grace$/).length;
          expect(served, outputOf(server)).toBeGreaterThan(0);
          expect(served, outputOf(server)).toBe(byServer[name]);
          expect(server.lines, outputOf(server)).toContain(`server ${name}: stopping after ${served} requests`);
        });
        expect(broker.lines, outputOf(broker)).toContainEqual(
          expect.stringMatching(/^broker: stopping after \d+ messages forwarded$/),
        );
      } finally {
        await run.cleanup();
      }
    },
    TEST_MS,
  );

  test(
    "pub-sub: a Chelsea subscriber gets exactly 3 events, all Chelsea's; the publisher stops cleanly",
    async () => {
      const run = new Run();
      try {
        const bind = run.endpoint(transport);
        const publisher = run.start("publisher", "examples/pub-sub/publisher.ts", { PUB_BIND: bind, RATE: "50" });
        const at = await endpointFrom(publisher, /^publisher: publishing on (\S+) for /);
        expectBound(at, bind, transport);

        const subscriber = run.start("subscriber", "examples/pub-sub/subscriber.ts", {
          PUB_CONNECT: at,
          TEAM: "Chelsea",
          COUNT: "3",
        });
        expect(await exitOf(subscriber), outputOf(subscriber)).toBe(0);
        const events = linesMatching(subscriber, /^subscriber: \w+: /);
        expect(events, outputOf(subscriber)).toHaveLength(3);
        for (const line of events)
          expect(line).toMatch(/^subscriber: Chelsea: (goal|yellow card|substitution|red card) \(\d+'\)$/);
        expect(linesMatching(subscriber, /Arsenal|Liverpool|Tottenham|dropped/), outputOf(subscriber)).toEqual([]);
        expect(subscriber.lines).toContain("subscriber: done after 3 events");

        expect(await stop(publisher), outputOf(publisher)).toBe(0);
        expect(linesMatching(publisher, /^publisher: football\.Chelsea /).length, outputOf(publisher)).toBeGreaterThanOrEqual(3);
        expect(publisher.lines, outputOf(publisher)).toContainEqual(
          expect.stringMatching(/^publisher: stopping after \d+ events$/),
        );
      } finally {
        await run.cleanup();
      }
    },
    TEST_MS,
  );

  test(
    "pipeline: three workers share 60 tasks; the sink counts them per worker; everything exits 0",
    async () => {
      const run = new Run();
      try {
        const sinkBind = run.endpoint(transport);
        const ventBind = run.endpoint(transport);
        const sink = run.start("sink", "examples/pipeline/sink.ts", { SINK_BIND: sinkBind, COUNT: "60" });
        const ventilator = run.start("ventilator", "examples/pipeline/ventilator.ts", {
          VENT_BIND: ventBind,
          WORKERS: "3",
          COUNT: "60",
          MAX_WORK_MS: "5",
        });
        const [sinkAt, ventAt] = await Promise.all([
          endpointFrom(sink, /^sink: bound to (\S+), waiting for 60 results$/),
          endpointFrom(ventilator, /^ventilator: bound to (\S+)$/),
        ]);
        expectBound(sinkAt, sinkBind, transport);
        expectBound(ventAt, ventBind, transport);

        const names = ["w1", "w2", "w3"] as const;
        const workers = names.map((name) =>
          run.start(`worker ${name}`, "examples/pipeline/worker.ts", {
            VENT_CONNECT: ventAt,
            SINK_CONNECT: sinkAt,
            WORKER_NAME: name,
          }),
        );
        await Promise.all(workers.map((w, i) => w.waitForLine(new RegExp(`^worker ${names[i]}: pulling from `), WAIT_MS)));

        const [sinkCode, ventCode] = await Promise.all([exitOf(sink), exitOf(ventilator)]);
        expect(sinkCode, outputOf(sink)).toBe(0);
        expect(ventCode, outputOf(ventilator)).toBe(0);
        expect(ventilator.lines, outputOf(ventilator)).toContainEqual(expect.stringMatching(/^ventilator: sent 60 tasks /));
        expect(sink.lines, outputOf(sink)).toContainEqual(
          expect.stringMatching(/^sink: 60 results \(0 failed\) from 3 workers in \d+ ms$/),
        );
        const perWorker: Record<string, number> = {};
        for (const line of sink.lines) {
          const m = /^sink: (\S+) did (\d+) tasks$/.exec(line);
          if (m?.[1] !== undefined && m[2] !== undefined) perWorker[m[1]] = Number(m[2]);
        }
        expect(Object.keys(perWorker).sort(), outputOf(sink)).toEqual(["w1", "w2", "w3"]);
        for (const n of Object.values(perWorker)) expect(n, outputOf(sink)).toBeGreaterThan(0);
        expect(Object.values(perWorker).reduce((a, b) => a + b, 0)).toBe(60);

        const codes = await Promise.all(workers.map((w) => stop(w)));
        expect(codes, workers.map(outputOf).join("\n")).toEqual([0, 0, 0]);
        workers.forEach((worker, i) => {
          const name = names[i] ?? "";
          expect(worker.lines, outputOf(worker)).toContain(`worker ${name}: stopping after ${perWorker[name] ?? -1} tasks`);
        });
      } finally {
        await run.cleanup();
      }
    },
    TEST_MS,
  );
});

describe("demo programs with CURVE (the CURVE_* variables)", () => {
  test(
    "request-reply over tcp: a client with certificates gets its greetings; one without the variables gets nothing",
    async () => {
      const run = new Run();
      const dir = mkdtempSync(join(tmpdir(), "tzmq-demo-curve-"));
      try {
        const server = writeCertificate(join(dir, "server"), "server", generateCertificate());
        const client = writeCertificate(join(dir, "clients"), "ada", generateCertificate());
        const allow = join(dir, "allow");
        mkdirSync(allow);
        copyFileSync(client.publicFile, join(allow, basename(client.publicFile)));

        const serverProgram = run.start("server", "examples/request-reply/server.ts", {
          RPC_BIND: run.endpoint("tcp"),
          SERVER_NAME: "alpha",
          CURVE_SERVER_CERT: server.secretFile,
          CURVE_ALLOW_DIR: allow,
        });
        const at = await endpointFrom(serverProgram, /^server alpha: listening on (\S+)$/);
        expect(serverProgram.lines, outputOf(serverProgram)).toContain(
          `server alpha: CURVE server, allowing the clients listed in ${allow}`,
        );

        const listed = run.start("client", "examples/request-reply/client.ts", {
          RPC_CONNECT: at,
          CLIENT_NAME: "ada",
          COUNT: "3",
          CURVE_CLIENT_CERT: client.secretFile,
          CURVE_SERVER_PUBLIC_CERT: server.publicFile,
        });
        expect(await exitOf(listed), outputOf(listed)).toBe(0);
        expect(listed.lines, outputOf(listed)).toContain("client ada: CURVE client");
        expect(linesMatching(listed, /^client ada: \d+\/3 /), outputOf(listed)).toEqual(
          [1, 2, 3].map((i) => `client ada: ${i}/3 Hello world back at ya, ada! (from alpha)`),
        );

        // The same client program without the variables: plaintext against a CURVE server, so no handshake, no
        // call reaches the server, and the call times out.
        const stranger = run.start("stranger", "examples/request-reply/client.ts", {
          RPC_CONNECT: at,
          CLIENT_NAME: "eve",
          COUNT: "1",
          TIMEOUT_MS: "1500",
        });
        expect(await exitOf(stranger), outputOf(stranger)).toBe(1);
        expect(stranger.lines, outputOf(stranger)).toContain("client eve: plaintext (no CURVE_* variables)");
        expect(linesMatching(stranger, /^client eve: \d+\/1 /), outputOf(stranger)).toEqual([]);
        expect(linesMatching(stranger, /^error: /), outputOf(stranger)).toHaveLength(1);

        expect(await stop(serverProgram), outputOf(serverProgram)).toBe(0);
        expect(linesMatching(serverProgram, /hello from/), outputOf(serverProgram)).toEqual(
          Array.from({ length: 3 }, () => "server alpha: hello from ada"),
        );
        expect(serverProgram.lines, outputOf(serverProgram)).toContain("server alpha: stopping after 3 requests");
      } finally {
        await run.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TEST_MS,
  );
});

/** How a command ended and what it printed (stdout and stderr). */
interface Finished {
  readonly code: number | string;
  readonly output: string;
}

/**
 * Runs `npm <args>` in the repository root, without a shell, in its own process group so that its whole tree (npm,
 * tsx, node and the demo's own children) is killed if it is still there afterwards.
 */
async function npm(args: readonly string[], timeoutMs: number): Promise<Finished> {
  const child = spawn("npm", [...args], { cwd: root, shell: false, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const closed = new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  try {
    const code = await within(closed, timeoutMs, `npm ${args.join(" ")} to exit`).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; output so far:\n${output}`);
    });
    return { code, output };
  } finally {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // ESRCH: the whole group has already exited, as it should.
      }
    }
  }
}

/** What `npm run demo` must print, whatever the transport: every pattern worked. */
function expectDemoWorked(run: Finished): void {
  expect(run.code, run.output).toBe(0);
  expect(run.output).toMatch(/^\[rpc client\] client ada: done$/m);
  expect(run.output).toMatch(/^\[subscriber\] subscriber: done after 3 events$/m);
  expect(run.output).toMatch(/^\[pipeline sink\] sink: 30 results \(0 failed\) from 3 workers in \d+ ms$/m);
  expect(run.output).toMatch(/^\[broker client\] client grace: done$/m);
  expect(run.output).toMatch(/^demo: all done in \d+ ms$/m);
  expect(run.output).not.toMatch(/^error: /m);
}

describe("npm run demo", () => {
  test(
    "runs every pattern over inproc in one process and exits 0",
    async () => {
      const run = await npm(["run", "demo"], 30_000);
      expectDemoWorked(run);
      expect(run.output).toMatch(/over inproc in one process/);
    },
    TEST_MS,
  );

  test("--transport ipc runs every pattern as separate processes and exits 0", async () => {
    const run = await npm(["run", "demo", "--", "--transport", "ipc"], 60_000);
    expectDemoWorked(run);
    expect(run.output).toMatch(/over ipc as separate processes/);
  }, 75_000);
});
