/**
 * `npm run demo`: every pattern at once. By default inside this one process over inproc; with
 * `npm run demo -- --transport ipc` (or `tcp`) the same demo programs run as separate processes.
 *
 * Request-reply (a server and a client), pub-sub (a publisher and an Arsenal subscriber), a pipeline (ventilator,
 * three workers, sink) and a broker with two servers. Exits 0 when every client-side program finished and every
 * server-side program stopped cleanly.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, isMain, output, runAsCommand, type DemoOptions } from "./shared/cli.js";
import { main as broker } from "./broker/broker.js";
import { main as ventilator } from "./pipeline/ventilator.js";
import { main as worker } from "./pipeline/worker.js";
import { main as sink } from "./pipeline/sink.js";
import { main as publisher } from "./pub-sub/publisher.js";
import { main as subscriber } from "./pub-sub/subscriber.js";
import { main as client } from "./request-reply/client.js";
import { main as server } from "./request-reply/server.js";

/** Where the programs talk. */
export type DemoTransport = "inproc" | "ipc" | "tcp";

/** One program of the demo: which file, with which settings, and whether it finishes by itself. */
interface Role {
  readonly label: string;
  readonly file: string;
  readonly run: (options: DemoOptions) => Promise<unknown>;
  readonly env: Record<string, string>;
  /** Clients, subscribers and sinks finish by themselves; servers run until stopped. */
  readonly finishes: boolean;
}

/** The demo's roles, with endpoints for the transport. */
async function roles(transport: DemoTransport, dir: string): Promise<Role[]> {
  const names = ["rpc", "pub", "vent", "sink", "front", "back"] as const;
  const bind: Record<string, string> = {};
  const connect: Record<string, string> = {};
  for (const name of names) {
    if (transport === "tcp") {
      const port = await freePort();
      bind[name] = `tcp://127.0.0.1:${port}`;
      connect[name] = bind[name];
    } else {
      bind[name] = transport === "ipc" ? `ipc://${join(dir, `${name}.sock`)}` : `inproc://demo-${name}`;
      connect[name] = bind[name];
    }
  }
  const at = (name: (typeof names)[number], map: Record<string, string>): string => map[name] ?? "";
  const workers: Role[] = ["w1", "w2", "w3"].map((name) => ({
    label: `pipeline ${name}`,
    file: "pipeline/worker.ts",
    run: worker,
    env: { VENT_CONNECT: at("vent", connect), SINK_CONNECT: at("sink", connect), WORKER_NAME: name, CONCURRENCY: "2" },
    finishes: false,
  }));
  return [
    {
      label: "rpc server",
      file: "request-reply/server.ts",
      run: server,
      env: { RPC_BIND: at("rpc", bind), SERVER_NAME: "alpha" },
      finishes: false,
    },
    {
      label: "rpc client",
      file: "request-reply/client.ts",
      run: client,
      env: { RPC_CONNECT: at("rpc", connect), CLIENT_NAME: "ada", COUNT: "3" },
      finishes: true,
    },
    {
      label: "publisher",
      file: "pub-sub/publisher.ts",
      run: publisher,
      env: { PUB_BIND: at("pub", bind), RATE: "40" },
      finishes: false,
    },
    {
      label: "subscriber",
      file: "pub-sub/subscriber.ts",
      run: subscriber,
      env: { PUB_CONNECT: at("pub", connect), TEAM: "Arsenal", COUNT: "3" },
      finishes: true,
    },
    {
      label: "pipeline sink",
      file: "pipeline/sink.ts",
      run: sink,
      env: { SINK_BIND: at("sink", bind), COUNT: "30" },
      finishes: true,
    },
    ...workers,
    {
      label: "pipeline ventilator",
      file: "pipeline/ventilator.ts",
      run: ventilator,
      env: { VENT_BIND: at("vent", bind), COUNT: "30", WORKERS: "3", MAX_WORK_MS: "10" },
      finishes: true,
    },
    {
      label: "broker",
      file: "broker/broker.ts",
      run: broker,
      env: { BROKER_FRONTEND_BIND: at("front", bind), BROKER_BACKEND_BIND: at("back", bind) },
      finishes: false,
    },
    ...["beta", "gamma"].map((name) => ({
      label: `broker server ${name}`,
      file: "request-reply/server.ts",
      run: server,
      env: { RPC_CONNECT_BACKEND: at("back", connect), SERVER_NAME: name },
      finishes: false,
    })),
    {
      label: "broker client",
      file: "request-reply/client.ts",
      run: client,
      env: { RPC_CONNECT: at("front", connect), CLIENT_NAME: "grace", COUNT: "4" },
      finishes: true,
    },
  ];
}

/** Runs every role inside this process (inproc). */
async function inProcess(list: readonly Role[], log: (line: string) => void, signal: AbortSignal | undefined): Promise<void> {
  const stop = new AbortController();
  const stopAll = (): void => stop.abort(new Error("demo finished"));
  signal?.addEventListener("abort", stopAll, { once: true });
  const running = list.map((role) => ({
    role,
    done: role.run({
      env: role.env,
      signal: role.finishes ? signal : stop.signal,
      log: (line) => log(`[${role.label}] ${line}`),
    }),
  }));
  try {
    await Promise.all(running.filter((r) => r.role.finishes).map((r) => r.done));
  } finally {
    stopAll();
    await Promise.allSettled(running.map((r) => r.done));
  }
  await Promise.all(running.map((r) => r.done)); // rethrow the first failure, if any
}

/** Runs every role as its own process (ipc or tcp), the way they run in separate containers. */
async function asProcesses(list: readonly Role[], log: (line: string) => void, signal: AbortSignal | undefined): Promise<void> {
  const examples = fileURLToPath(new URL(".", import.meta.url));
  const children = list.map((role) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(examples, role.file)], {
      env: { ...process.env, ...role.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffer = "";
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        log(`[${role.label}] ${buffer.slice(0, nl)}`);
        buffer = buffer.slice(nl + 1);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return { role, child, exited };
  });
  const stopServers = (): void => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill("SIGTERM");
  };
  signal?.addEventListener("abort", stopServers, { once: true });
  const deadline = setTimeout(() => {
    log("demo: still running after 60 s; stopping everything");
    for (const c of children) c.child.kill("SIGKILL");
  }, 60_000);
  try {
    const finished = await Promise.all(
      children.filter((c) => c.role.finishes).map(async (c) => [c.role.label, await c.exited] as const),
    );
    stopServers();
    const stopped = await Promise.all(
      children.filter((c) => !c.role.finishes).map(async (c) => [c.role.label, await c.exited] as const),
    );
    const failed = [...finished, ...stopped].filter(([, code]) => code !== 0);
    if (failed.length > 0)
      throw new Error(`these programs did not exit 0: ${failed.map(([label, code]) => `${label} (${String(code)})`).join(", ")}`);
  } finally {
    clearTimeout(deadline);
    for (const c of children) if (c.child.exitCode === null) c.child.kill("SIGKILL");
  }
}

/** Runs the whole demo over `transport` (inproc by default: one process). */
export async function main(options: DemoOptions & { readonly transport?: DemoTransport } = {}): Promise<void> {
  const log = output(options);
  const transport = options.transport ?? "inproc";
  const dir = mkdtempSync(join(tmpdir(), "tzmq-demo-"));
  const started = performance.now();
  try {
    const list = await roles(transport, dir);
    log(
      `demo: request-reply, pub-sub, pipeline and broker over ${transport}${transport === "inproc" ? " in one process" : " as separate processes"}`,
    );
    if (transport === "inproc") await inProcess(list, log, options.signal);
    else await asProcesses(list, log, options.signal);
    log(`demo: all done in ${Math.round(performance.now() - started)} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function transportArg(argv: readonly string[]): DemoTransport {
  const i = argv.indexOf("--transport");
  const value = i >= 0 ? argv[i + 1] : "inproc";
  if (value === "inproc" || value === "ipc" || value === "tcp") return value;
  throw new RangeError(`--transport ${String(value)} is not valid: expected inproc, ipc or tcp.`);
}

if (isMain(import.meta.url)) {
  const transport = transportArg(process.argv.slice(2));
  await runAsCommand((options) => main({ ...options, transport }));
}
