import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import { freePort } from "../../examples/shared/cli.js";
import { killAll, startProgram, type Program } from "../helpers/programs.js";

// No Docker engine runs here, so the compose file is checked by reading it, and its topology is run as local
// processes: the same commands and environment, with service names mapped to 127.0.0.1 and each fixed port mapped
// to a free one (fixed ports collide on a shared machine).

interface Service {
  readonly command: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly depends_on?: readonly string[];
  readonly profiles?: readonly string[];
}

const root = new URL("../../", import.meta.url);
const compose = parse(readFileSync(new URL("docker-compose.yml", root), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const names = Object.keys(services);

/** Compose's `${VAR:-default}` interpolation, with the defaults (no variables are set in tests). */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name: string, fallback: string) => fallback);
}

function env(service: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment).map(([k, v]) => [k, interpolate(v)]));
}

const TCP = /^tcp:\/\/([^:]+):(\d+)$/;

/** Every `*_BIND` port, by service. */
function bindPorts(): Map<string, string> {
  const ports = new Map<string, string>();
  for (const [name, service] of Object.entries(services)) {
    for (const [key, value] of Object.entries(env(service))) {
      const m = key.endsWith("_BIND") ? value.match(TCP) : null;
      if (m !== null) ports.set(m[2] ?? "", name);
    }
  }
  return ports;
}

describe("docker-compose.yml", () => {
  test("every service runs an existing demo program with node and tsx", () => {
    expect(names.length).toBeGreaterThanOrEqual(8);
    for (const [name, service] of Object.entries(services)) {
      const [node, flag, loader, file] = service.command;
      expect([node, flag, loader], name).toEqual(["node", "--import", "tsx"]);
      expect(file, name).toMatch(/^examples\/.+\.ts$/);
      expect(existsSync(new URL(file ?? "", root)), `${name}: ${file} exists`).toBe(true);
    }
  });

  test("has a service for every role", () => {
    const files = new Set(Object.values(services).map((s) => s.command[3]));
    for (const file of [
      "examples/broker/broker.ts",
      "examples/request-reply/server.ts",
      "examples/request-reply/client.ts",
      "examples/pub-sub/publisher.ts",
      "examples/pub-sub/subscriber.ts",
      "examples/pipeline/ventilator.ts",
      "examples/pipeline/worker.ts",
      "examples/pipeline/sink.ts",
    ]) {
      expect(files.has(file), file).toBe(true);
    }
  });

  test("servers bind tcp://*:PORT; every *_CONNECT host is a service that binds that port", () => {
    const ports = bindPorts();
    let checked = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(env(service))) {
        if (key.endsWith("_BIND")) expect(value, `${name} ${key}`).toMatch(/^tcp:\/\/\*:\d+$/);
        if (!key.includes("_CONNECT")) continue;
        const m = value.match(TCP);
        expect(m, `${name} ${key}=${value}`).not.toBeNull();
        const [, host, port] = m ?? [];
        expect(names, `${name} ${key}: host ${host}`).toContain(host);
        expect(ports.get(port ?? ""), `${name} ${key}: port ${port} is bound by ${host}`).toBe(host);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  test("every service is built from examples/Dockerfile, whose COPY sources exist", () => {
    for (const [name, service] of Object.entries(services)) {
      expect((service as { build?: unknown }).build, name).toEqual({ context: ".", dockerfile: "examples/Dockerfile" });
    }
    const dockerfile = readFileSync(new URL("examples/Dockerfile", root), "utf8");
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/^RUN npm ci/m);
    const copies = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => (m[1] ?? "").split(" "));
    expect(copies).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "src", "schemas", "examples"]));
    for (const source of copies) expect(existsSync(new URL(source, root)), source).toBe(true);
  });

  test("depends_on names existing services, and workers can be scaled (no fixed names or host ports)", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dep of service.depends_on ?? []) expect(names, `${name} depends on ${dep}`).toContain(dep);
    }
    const worker = services["worker"] as Record<string, unknown> | undefined;
    expect(worker).toBeDefined();
    expect(worker?.["container_name"]).toBeUndefined();
    expect(worker?.["ports"]).toBeUndefined();
  });

  test("the default services run without a profile; the reliable pipeline's are in profile reliable", () => {
    const reliable = names.filter((name) => services[name]?.profiles !== undefined);
    expect(reliable.sort()).toEqual(["pipeline-broker", "reliable-sink", "reliable-ventilator", "reliable-worker"]);
    for (const name of reliable) expect(services[name]?.profiles).toEqual(["reliable"]);
    expect(env(services["pipeline-broker"]!)).toMatchObject({ BROKER_KIND: "pipeline", BROKER_STORE: "/data/queue.db" });
    for (const name of ["reliable-ventilator", "reliable-worker", "reliable-sink"]) {
      expect(env(services[name]!)["PIPELINE_MODE"], name).toBe("reliable");
    }
  });

  test("the whole topology runs as local processes: every client finishes, every server stops cleanly", async () => {
    const localise = await localiser();
    const programs: Program[] = [];
    try {
      for (const [name, service] of Object.entries(services)) {
        if (service.profiles !== undefined) continue;
        const local = Object.fromEntries(Object.entries(env(service)).map(([k, v]) => [k, localise(v)]));
        programs.push(startProgram(name, service.command[3] ?? "", local));
      }
      const byName = (name: string): Program => {
        const p = programs.find((x) => x.name === name);
        if (p === undefined) throw new Error(`no service ${name}`);
        return p;
      };
      // The programs that finish by themselves.
      for (const name of ["rpc-client", "rpc-client-brokered", "subscriber", "ventilator", "sink"]) {
        const p = byName(name);
        const code = await p.exited;
        expect(code, `${name} exit code; output:\n${p.lines.join("\n")}`).toBe(0);
      }
      expect(byName("rpc-client").lines).toContain("client ada: done");
      expect(byName("rpc-client-brokered").lines.filter((l) => l.includes("(from brokered)"))).toHaveLength(10);
      const events = byName("subscriber").lines.filter((l) => /^subscriber: \w+: /.test(l));
      expect(events).toHaveLength(10);
      expect(events.every((l) => l.startsWith("subscriber: Arsenal: "))).toBe(true);
      expect(byName("sink").lines.some((l) => /^sink: 100 results \(0 failed\)/.test(l))).toBe(true);
      // The rest run until stopped, and stop cleanly.
      for (const name of ["broker", "rpc-server", "rpc-server-brokered", "publisher", "worker"]) {
        const p = byName(name);
        expect(await p.stop(), `${name} exit code on SIGTERM; output:\n${p.lines.join("\n")}`).toBe(0);
      }
    } finally {
      await killAll(programs);
    }
  }, 90_000);

  test("profile reliable runs as local processes: the ventilator exits before any worker starts, the sink starts last and gets every result", async () => {
    const localise = await localiser();
    const dir = mkdtempSync(join(tmpdir(), "tzmq-compose-"));
    const programs: Program[] = [];
    const start = (name: string, extra: Record<string, string> = {}): Program => {
      const service = services[name]!;
      const local = Object.fromEntries(Object.entries(env(service)).map(([k, v]) => [k, localise(v)]));
      const program = startProgram(name, service.command[3] ?? "", { ...local, ...extra });
      programs.push(program);
      return program;
    };
    try {
      // The volume's file, in a fresh directory.
      const broker = start("pipeline-broker", { BROKER_STORE: join(dir, "queue.db") });
      await broker.waitForLine(/^broker: reliable pipeline on /, 20_000);
      const ventilator = start("reliable-ventilator");
      expect(await ventilator.exited, ventilator.lines.join("\n")).toBe(0);
      expect(ventilator.lines.some((l) => /^ventilator: 100 tasks acknowledged by the broker \(\d+ ms/.test(l))).toBe(true);
      const workers = [start("reliable-worker", { WORKER_NAME: "r1" }), start("reliable-worker", { WORKER_NAME: "r2" })];
      const sink = start("reliable-sink");
      expect(await sink.exited, sink.lines.join("\n")).toBe(0);
      expect(
        sink.lines.some((l) => /^sink: 100 results \(0 failed\) from [12] workers/.test(l)),
        sink.lines.join("\n"),
      ).toBe(true);
      for (const p of [...workers, broker]) expect(await p.stop(), `${p.name}:\n${p.lines.join("\n")}`).toBe(0);
    } finally {
      await killAll(programs);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

/** Maps every fixed port of the file to a free one, and every service host to 127.0.0.1. */
async function localiser(): Promise<(value: string) => string> {
  const portMap = new Map<string, number>();
  for (const port of bindPorts().keys()) portMap.set(port, await freePort());
  return (value) =>
    value
      .replace(/^tcp:\/\/\*:(\d+)$/, (_m, port: string) => `tcp://127.0.0.1:${portMap.get(port) ?? port}`)
      .replace(/^tcp:\/\/([^:*]+):(\d+)$/, (_m, _host: string, port: string) => `tcp://127.0.0.1:${portMap.get(port) ?? port}`);
}
