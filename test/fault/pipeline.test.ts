import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { RoleMessage } from "./harness/contract.js";
import { KILL_ALL_MS, RoleSet, bounded, is, type Role } from "./harness/role.js";
import { holdFault, LIFE_MS, START_MS } from "./harness/scenario.js";
import type {
  PipelineBrokerSettings,
  PipelineSinkSettings,
  PipelineSourceSettings,
  PipelineWorkerSettings,
} from "./pipeline/contract.js";

// The reliable pipeline with every role in its own process: a PipelineBroker (in memory, or durable on an SQLite
// file), a source, workers and a sink, all reliable mode. Each test prints its counts: sent (acknowledged by the
// broker), completed (distinct ids that reached the sink's user code), lost (acknowledged but never completed) and
// duplicated at the sink (ids its user code saw twice), plus the broker's and workers' own counters.

const roles = new RoleSet();
const dirs: string[] = [];
afterEach(async () => {
  await roles.killAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}, KILL_ALL_MS);

const HEARTBEAT_MS = 250;
const LIVENESS = 4;

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "tzmq-pipe-"));
  dirs.push(dir);
  return dir;
}

/** ipc endpoints in `dir`: a restarted broker binds the same ones, and the others reconnect to them. */
function ipcEndpoints(dir: string): { frontend: string; backend: string } {
  return { frontend: `ipc://${join(dir, "front")}`, backend: `ipc://${join(dir, "back")}` };
}

async function startBroker(
  label: string,
  settings: Partial<PipelineBrokerSettings> & Pick<PipelineBrokerSettings, "frontend" | "backend">,
): Promise<Role> {
  const role = roles.start("test/fault/pipeline/roles/broker.ts", label, {
    heartbeatMs: HEARTBEAT_MS,
    liveness: LIVENESS,
    lifeMs: LIFE_MS,
    ...settings,
  } satisfies PipelineBrokerSettings);
  await role.waitFor(is.ready, START_MS, "ready");
  return role;
}

function startSource(settings: Partial<PipelineSourceSettings> & Pick<PipelineSourceSettings, "endpoint" | "count">): Role {
  return roles.start("test/fault/pipeline/roles/source.ts", "source", {
    prefix: "t",
    ms: 0,
    inFlight: 200,
    timeoutMs: 30_000,
    exitWhenDone: false,
    lifeMs: LIFE_MS,
    ...settings,
  } satisfies PipelineSourceSettings);
}

function startWorker(name: string, settings: Partial<PipelineWorkerSettings> & Pick<PipelineWorkerSettings, "endpoint">): Role {
  return roles.start("test/fault/pipeline/roles/worker.ts", `worker ${name}`, {
    name,
    concurrency: 20,
    heartbeatMs: HEARTBEAT_MS,
    liveness: LIVENESS,
    lifeMs: LIFE_MS,
    ...settings,
  } satisfies PipelineWorkerSettings);
}

function startSink(settings: Partial<PipelineSinkSettings> & Pick<PipelineSinkSettings, "endpoint" | "count">): Role {
  return roles.start("test/fault/pipeline/roles/sink.ts", "sink", {
    heartbeatMs: HEARTBEAT_MS,
    liveness: LIVENESS,
    lifeMs: LIFE_MS,
    ...settings,
  } satisfies PipelineSinkSettings);
}

type Accepted = Extract<RoleMessage, { type: "accepted" }>;
type Outcomes = Extract<RoleMessage, { type: "outcomes" }>;

function acceptedIds(source: Role): string[] {
  return source.messages.filter((m): m is Accepted => m.type === "accepted").flatMap((m) => m.ids);
}

/** What the sink's user code got: every id once per time it saw it. */
function sinkSeen(sink: Role): { ok: string[]; failed: Record<string, string>; all: string[] } {
  const chunks = sink.messages.filter((m): m is Outcomes => m.type === "outcomes");
  const ok = chunks.flatMap((m) => m.ok);
  const failed = Object.assign({}, ...chunks.map((m) => m.failed)) as Record<string, string>;
  const all = [...ok, ...chunks.flatMap((m) => Object.keys(m.failed))];
  return { ok, failed, all };
}

function outcomesSoFar(sink: Role): number {
  return sinkSeen(sink).all.length;
}

/** Resolves once the sink's user code has got `n` outcomes (bounded). */
function sinkReached(sink: Role, n: number, timeoutMs: number): Promise<RoleMessage> {
  return sink.waitFor(() => outcomesSoFar(sink) >= n, timeoutMs, `${n} outcomes at the sink`);
}

/** The counts every test prints, from the source's acknowledgements and the sink's user code. */
function counts(source: Role, sink: Role): { sent: number; completed: number; lost: number; duplicated: number } {
  const sent = new Set(acceptedIds(source));
  const seen = sinkSeen(sink).all;
  const distinct = new Set(seen);
  return {
    sent: sent.size,
    completed: distinct.size,
    lost: [...sent].filter((id) => !distinct.has(id)).length,
    duplicated: seen.length - distinct.size,
  };
}

async function statsOf(role: Role): Promise<Record<string, unknown>> {
  const before = role.messages.length;
  role.send("stats");
  const m = await role.waitFor((x) => x.type === "stats" && role.messages.indexOf(x) >= before, 5_000, "stats");
  return (m as Extract<RoleMessage, { type: "stats" }>).stats as Record<string, unknown>;
}

function execCount(...workers: Role[]): number {
  return workers.reduce((n, w) => n + w.messages.filter((m) => m.type === "exec").length, 0);
}

/** Starts a broker on `store`, which it must refuse: the error it printed (it must exit with status 1). */
function refusedBroker(label: string, endpoints: { frontend: string; backend: string }, store: string): Promise<string> {
  const role = roles.start("test/fault/pipeline/roles/broker.ts", label, {
    ...endpoints,
    store,
    heartbeatMs: HEARTBEAT_MS,
    liveness: LIVENESS,
    lifeMs: LIFE_MS,
  } satisfies PipelineBrokerSettings);
  return refusal(role);
}

/** The error a role printed before it exited (it must exit, with status 1). */
async function refusal(role: Role): Promise<string> {
  expect(await bounded(role.exited, START_MS, `${role.label} to exit`)).toBe(1);
  const failure = role.messages.find((m) => m.type === "error");
  return failure?.type === "error" ? failure.message : `(no error printed)\n${role.transcript()}`;
}

function print(name: string, figures: Readonly<Record<string, unknown>>): void {
  console.log(`[fault] ${name}: ${JSON.stringify(figures)}`);
}

describe("reliable pipeline, each role its own process", () => {
  test("a worker killed with SIGKILL mid-run: 2,000 tasks, 3 workers, 0 lost, 0 duplicates reach user code", async () => {
    const dir = scratch();
    const { frontend, backend } = ipcEndpoints(dir);
    const broker = await startBroker("broker", { frontend, backend });
    const workers = ["A", "B", "C"].map((name) => startWorker(name, { endpoint: backend, concurrency: 10 }));
    await Promise.all(workers.map((w) => w.waitFor(is.ready, START_MS, "ready")));
    const sink = startSink({ endpoint: frontend, count: 2_000 });
    const source = startSource({ endpoint: frontend, count: 2_000, ms: 5 });
    // Kill A once work is well under way: it holds up to 10 tasks then.
    await sinkReached(sink, 500, 30_000);
    await workers[0]!.kill();
    await sink.waitFor(is.done, 40_000, "all 2,000 outcomes");
    await source.waitFor(is.done, 10_000, "the source's done");
    const figures = counts(source, sink);
    const brokerStats = await statsOf(broker);
    print("worker SIGKILL", { ...figures, executions: execCount(...workers), broker: brokerStats });
    expect(figures.sent).toBe(2_000);
    expect(figures.completed).toBe(2_000);
    expect(figures.lost).toBe(0);
    expect(figures.duplicated).toBe(0);
    expect(Object.keys(sinkSeen(sink).failed)).toEqual([]);
    // The kill cost something: the broker gave A's tasks to another worker.
    expect(Number(brokerStats["redelivered"])).toBeGreaterThan(0);
  }, 90_000);

  test("a worker stopped with SIGSTOP past its lease: its tasks complete elsewhere; its late results are dropped and counted", async () => {
    const dir = scratch();
    const { frontend, backend } = ipcEndpoints(dir);
    // The lease (600 ms) passes long before the heartbeat silence would evict the worker (250 ms × 40 = 10 s).
    const broker = await startBroker("broker", { frontend, backend, leaseMs: 600, liveness: 40 });
    const a = startWorker("A", { endpoint: backend, concurrency: 5, liveness: 40 });
    const b = startWorker("B", { endpoint: backend, concurrency: 5, liveness: 40 });
    await Promise.all([a, b].map((w) => w.waitFor(is.ready, START_MS, "ready")));
    const sink = startSink({ endpoint: frontend, count: 400, liveness: 40 });
    const source = startSource({ endpoint: frontend, count: 400, ms: 100 });
    await a.waitFor((m) => m.type === "exec", 20_000, "A started a task");
    const stoppedAt = a.signal("SIGSTOP");
    await broker.waitFor(is.event("task:redelivered"), 10_000, "a redelivery after the lease");
    await holdFault(stoppedAt, 2_000);
    a.signal("SIGCONT");
    await sink.waitFor(is.done, 40_000, "all 400 outcomes");
    const figures = counts(source, sink);
    // A's late results reach the broker (or die with A's replaced socket): wait until one is counted.
    const late = await bounded(
      (async () => {
        for (let i = 0; i < 100; i++) {
          const stats = await statsOf(broker);
          const aStats = a.running ? await statsOf(a).catch(() => ({})) : {};
          const n = Number(stats["late"] ?? 0) + Number((aStats as Record<string, unknown>)["dropped"] ?? 0);
          if (n > 0) return { broker: stats, worker: aStats, n };
          await holdFault(Date.now(), 100);
        }
        return { broker: await statsOf(broker), worker: {}, n: 0 };
      })(),
      20_000,
      "late results counted",
    );
    print("worker SIGSTOP past lease", { ...figures, late: late.n, broker: late.broker, workerA: late.worker });
    expect(figures.completed).toBe(400);
    expect(figures.lost).toBe(0);
    expect(figures.duplicated).toBe(0);
    expect(Number(late.broker["redelivered"])).toBeGreaterThan(0);
    expect(late.n).toBeGreaterThan(0);
  }, 90_000);

  test("the durable broker killed with SIGKILL mid-run and restarted on the same store: 0 acknowledged tasks lost", async () => {
    const dir = scratch();
    const { frontend, backend } = ipcEndpoints(dir);
    const store = join(dir, "queue.db");
    const first = await startBroker("broker 1", { frontend, backend, store });
    const workers = ["A", "B"].map((name) => startWorker(name, { endpoint: backend, concurrency: 20 }));
    const sink = startSink({ endpoint: frontend, count: 2_000 });
    const source = startSource({ endpoint: frontend, count: 2_000, ms: 2, inFlight: 100 });
    await sinkReached(sink, 400, 30_000);
    const killedAt = await first.kill();
    const acceptedBefore = acceptedIds(source).length;
    const second = await startBroker("broker 2", { frontend, backend, store });
    await sink.waitFor(is.done, 45_000, "all 2,000 outcomes");
    await source.waitFor(is.done, 10_000, "the source's done");
    const figures = counts(source, sink);
    const stats = await statsOf(second);
    print("durable broker SIGKILL + restart", {
      ...figures,
      acceptedBeforeKill: acceptedBefore,
      killedAtMs: killedAt, // epoch ms of the SIGKILL
      executions: execCount(...workers),
      broker2: stats,
    });
    expect(figures.sent).toBe(2_000);
    expect(figures.lost).toBe(0);
    expect(figures.completed).toBe(2_000);
    expect(figures.duplicated).toBe(0);
  }, 120_000);

  test("lifetimes that never overlap: source first, then workers, then the sink", async () => {
    const dir = scratch();
    const { frontend, backend } = ipcEndpoints(dir);
    const broker = await startBroker("broker", { frontend, backend, store: join(dir, "queue.db") });
    const source = startSource({ endpoint: frontend, count: 500, exitWhenDone: true });
    expect(await bounded(source.exited, 30_000, "the source to exit")).toBe(0);
    expect(acceptedIds(source)).toHaveLength(500);
    expect((await statsOf(broker))["accepted"]).toBe(500);
    const workers = ["A", "B"].map((name) => startWorker(name, { endpoint: backend }));
    await bounded(
      (async () => {
        while (execCount(...workers) < 500) await holdFault(Date.now(), 50);
      })(),
      30_000,
      "500 executions",
    );
    // Every result is with the broker (on disk) before the workers go.
    await bounded(
      (async () => {
        while (Number((await statsOf(broker))["completed"]) < 500) await holdFault(Date.now(), 50);
      })(),
      10_000,
      "500 completed at the broker",
    );
    for (const w of workers) expect(await w.stop()).toBe(0);
    const sink = startSink({ endpoint: frontend, count: 500 });
    await sink.waitFor(is.done, 30_000, "500 outcomes");
    const figures = counts(source, sink);
    print("lifetimes never overlap", { ...figures, executions: execCount(...workers), broker: await statsOf(broker) });
    expect(figures.completed).toBe(500);
    expect(figures.lost).toBe(0);
    expect(figures.duplicated).toBe(0);
    expect(await sink.exited).toBe(0);
  }, 120_000);

  test("a poison task ends as one POISON_TASK failure after maxDeliveries", async () => {
    const dir = scratch();
    const { frontend, backend } = ipcEndpoints(dir);
    const maxDeliveries = 3;
    const broker = await startBroker("broker", { frontend, backend, maxDeliveries });
    const workers = ["A", "B"].map((name) => startWorker(name, { endpoint: backend, poison: ["t7"] }));
    const sink = startSink({ endpoint: frontend, count: 50 });
    const source = startSource({ endpoint: frontend, count: 50 });
    await sink.waitFor(is.done, 30_000, "50 outcomes");
    const seen = sinkSeen(sink);
    const executionsOfPoison = workers.flatMap((w) => w.messages).filter((m) => m.type === "exec" && m.id === "t7");
    const stats = await statsOf(broker);
    print("poison task", {
      ...counts(source, sink),
      failed: seen.failed,
      executionsOfPoison: executionsOfPoison.length,
      broker: stats,
    });
    expect(seen.failed).toEqual({ t7: "POISON_TASK" });
    expect(seen.ok).toHaveLength(49);
    expect(executionsOfPoison).toHaveLength(maxDeliveries);
    expect(stats["poisoned"]).toBe(1);
  }, 60_000);
});

describe("the durable store, each broker its own process", () => {
  test("a second broker on the same file is refused with STORE_LOCKED", async () => {
    const dir = scratch();
    const store = join(dir, "queue.db");
    await startBroker("broker 1", { ...ipcEndpoints(dir), store });
    const second = { frontend: `ipc://${join(dir, "front2")}`, backend: `ipc://${join(dir, "back2")}` };
    const message = await refusedBroker("broker 2", second, store);
    print("second broker", { message: message.split("\n")[0] });
    expect(message).toMatch(/^StoreLockedError: Queue store '.*queue\.db' could not be opened: another broker/);
  }, 30_000);

  test("a corrupt store is refused with STORE_CORRUPT, and nothing is accepted", async () => {
    const dir = scratch();
    const store = join(dir, "queue.db");
    writeFileSync(store, Buffer.alloc(8192, 0x5a));
    const message = await refusedBroker("broker", ipcEndpoints(dir), store);
    print("corrupt store", { message: message.split("\n")[0] });
    expect(message).toMatch(/^StoreCorruptError: Queue store '.*queue\.db' cannot be used: it is not a SQLite database/);
    // The file is left as it was, to inspect or restore.
    expect(readFileSync(store)).toEqual(Buffer.alloc(8192, 0x5a));
  }, 30_000);

  test("an unwritable store is refused with STORE_UNAVAILABLE", async () => {
    const dir = scratch();
    // A path under a regular file: no process, root included, can create the database there.
    writeFileSync(join(dir, "file"), "");
    const message = await refusedBroker("broker", ipcEndpoints(dir), join(dir, "file", "queue.db"));
    print("unwritable store", { message: message.split("\n")[0] });
    expect(message).toMatch(/^StoreUnavailableError: Queue store '.*queue\.db' cannot be used: .* is not a directory/);
  }, 30_000);

  test("a full store refuses pushes with STORE_FULL; every push that resolved is stored and completes", async () => {
    const dir = scratch();
    const { frontend, backend } = ipcEndpoints(dir);
    const broker = await startBroker("broker", { frontend, backend, store: join(dir, "queue.db"), maxStoreBytes: 256 * 1024 });
    const source = startSource({ endpoint: frontend, count: 6_000, prefix: "task-with-a-longer-id-", inFlight: 50 });
    await source.waitFor(is.done, 30_000, "every push settled");
    const accepted = acceptedIds(source);
    const rejected = source.messages.filter((m): m is Extract<RoleMessage, { type: "rejected" }> => m.type === "rejected");
    const codes = [...new Set(rejected.map((m) => m.code))];
    expect(accepted.length + rejected.length).toBe(6_000);
    expect(codes).toEqual(["STORE_FULL"]);
    expect(accepted.length).toBeGreaterThan(0);
    const worker = startWorker("A", { endpoint: backend });
    const sink = startSink({ endpoint: frontend, count: accepted.length });
    await sink.waitFor(is.done, 40_000, "every accepted task's outcome").catch(async (err: unknown) => {
      print("full store (stuck)", { accepted: accepted.length, sink: outcomesSoFar(sink), broker: await statsOf(broker) });
      throw err;
    });
    const figures = counts(source, sink);
    print("full store", { ...figures, rejected: rejected.length, executions: execCount(worker), broker: await statsOf(broker) });
    expect(figures.lost).toBe(0);
    expect(figures.completed).toBe(accepted.length);
    expect(new Set(sinkSeen(sink).all).size).toBe(accepted.length);
  }, 90_000);
});
