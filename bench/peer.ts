/**
 * A benchmark peer process: `node --import tsx bench/peer.ts`. Reads one JSON command per line on stdin (see
 * protocol.ts), opens, runs and closes roles (one side of a run each; several may be open at once, as for inproc),
 * and answers each command with one JSON line on stdout. Exits on `exit` or when stdin ends.
 */
import { createInterface } from "node:readline";
import { Command, type Reply, type RoleSpec } from "./protocol.js";
import type { RoleHandle, RoleOpener } from "./cases/common.js";
import { probeFeatures } from "./features.js";
import { openPub, openSub } from "./cases/pubsub.js";
import { openPull, openPush } from "./cases/pipeline.js";
import { openBroker, openClient, openServer } from "./cases/rpc.js";
import { openQueueBroker, openSink, openSource, openWorker } from "./cases/pipeline-ends.js";
import { natsOpener } from "./cases/nats.js";

const openers: Record<RoleSpec["role"], RoleOpener> = {
  pub: openPub,
  sub: openSub,
  push: openPush,
  pull: openPull,
  server: openServer,
  client: openClient,
  broker: openBroker,
  source: openSource,
  worker: openWorker,
  sink: openSink,
  "queue-broker": openQueueBroker,
};

const handles = new Map<string, RoleHandle>();
/**
 * `BENCH_CPU=1`: each role prints the CPU time (user + system, every thread of this process) it used from open to
 * close, per task of the run, to stderr: how the reliable pipeline's cost splits between its processes, which a
 * throughput figure on a shared 2-core machine cannot show.
 */
const cpuReport = process.env["BENCH_CPU"] === "1";
const cpuAtOpen = new Map<string, { readonly usage: NodeJS.CpuUsage; readonly spec: RoleSpec }>();

function reply(message: Reply): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function handleOf(name: string): RoleHandle {
  const handle = handles.get(name);
  if (handle === undefined) throw new Error(`no open role "${name}"`);
  return handle;
}

async function execute(command: Command): Promise<unknown> {
  switch (command.op) {
    case "features":
      return probeFeatures();
    case "open": {
      const usage = process.cpuUsage();
      const opener = command.spec.impl === "nats" ? natsOpener(command.spec.role) : openers[command.spec.role];
      const handle = await opener(command.spec);
      handles.set(command.handle, handle);
      if (cpuReport) cpuAtOpen.set(command.handle, { usage, spec: command.spec });
      return { endpoint: handle.endpoint, backend: handle.backend };
    }
    case "run":
      return handleOf(command.handle).run();
    case "close": {
      const value = await handleOf(command.handle).close();
      handles.delete(command.handle);
      const opened = cpuAtOpen.get(command.handle);
      if (opened !== undefined) {
        cpuAtOpen.delete(command.handle);
        const used = process.cpuUsage(opened.usage);
        const us = used.user + used.system;
        const perTask = opened.spec.count > 0 ? (us / opened.spec.count).toFixed(2) : "n/a";
        const system = us > 0 ? Math.round((100 * used.system) / us) : 0;
        process.stderr.write(
          `[cpu] ${opened.spec.role} ${(us / 1000).toFixed(0)} ms, ${perTask} µs per message (${system}% system)\n`,
        );
      }
      return value;
    }
    case "exit":
      await shutdown();
      return {};
  }
}

async function shutdown(): Promise<void> {
  const open = [...handles.values()];
  handles.clear();
  await Promise.all(open.map((h) => h.close().catch(() => undefined)));
  setImmediate(() => process.exit(0));
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  let command: Command;
  try {
    command = Command.parse(JSON.parse(line));
  } catch (err) {
    process.stderr.write(`peer ${process.pid}: unreadable command ${line.slice(0, 200)}: ${String(err)}\n`);
    return;
  }
  execute(command).then(
    (value) => reply({ id: command.id, ok: true, value }),
    (err: unknown) =>
      reply({ id: command.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
lines.on("close", () => void shutdown());
