/**
 * Building blocks of the fault tests: start each role with the suite's defaults and wait (bounded) until it is
 * ready, and read the calls in flight at a moment. Every role is started through a {@link RoleSet}, which the test
 * kills in `afterEach`.
 */
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { BrokerSettings, ClientSettings, ServerSettings, WorkerSettings } from "./contract.js";
import type { CallRecord } from "./counts.js";
import { is, type Role, type RoleSet, type StartOptions } from "./role.js";

/** A role starts (node + tsx + zeromq) in about a second; allow for a loaded 2-core machine. */
export const START_MS = 15_000;
/** No role lives longer than this, whatever happens to the test. */
export const LIFE_MS = 60_000;

/** Starts a direct server and resolves with it and its bound endpoint. */
export async function startServer(
  roles: RoleSet,
  name: string,
  settings: Partial<ServerSettings> = {},
  options: StartOptions = {},
): Promise<{ role: Role; endpoint: string }> {
  const role = roles.start(
    "server",
    `server ${name}`,
    { name, endpoint: "tcp://127.0.0.1:0", lifeMs: LIFE_MS, ...settings } satisfies ServerSettings,
    options,
  );
  const ready = await role.waitFor(is.ready, START_MS, "ready");
  return { role, endpoint: ready.endpoints[0]! };
}

/** Starts a broker and resolves with its frontend and backend endpoints. */
export async function startBroker(
  roles: RoleSet,
  settings: Partial<BrokerSettings> & Pick<BrokerSettings, "heartbeatMs" | "liveness">,
  options: StartOptions = {},
): Promise<{ role: Role; frontend: string; backend: string }> {
  const role = roles.start(
    "broker",
    "broker",
    { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0", lifeMs: LIFE_MS, ...settings } satisfies BrokerSettings,
    options,
  );
  const ready = await role.waitFor(is.ready, START_MS, "ready");
  return { role, frontend: ready.endpoints[0]!, backend: ready.endpoints[1]! };
}

/** A broker event naming worker `name` (worker names are `<name>-<random>`). */
export function aboutWorker(name: string): (event: Readonly<Record<string, unknown>>) => boolean {
  return (event) => Object.values(event).some((v) => typeof v === "string" && (v === name || v.startsWith(`${name}-`)));
}

/** Starts a worker of `service` and waits until `broker` reports it ready. */
export async function startWorker(
  roles: RoleSet,
  broker: Role,
  settings: Pick<WorkerSettings, "name" | "broker" | "service" | "heartbeatMs"> & Partial<WorkerSettings>,
  options: StartOptions = {},
): Promise<Role> {
  const role = roles.start(
    "worker",
    `worker ${settings.name}`,
    { lifeMs: LIFE_MS, ...settings } satisfies WorkerSettings,
    options,
  );
  await role.waitFor(is.ready, START_MS, "ready");
  await broker.waitFor(is.event("worker:ready", aboutWorker(settings.name)), START_MS, `worker:ready for ${settings.name}`);
  return role;
}

/** Starts a client (load starts at once unless `waitForGo`) and waits for its `ready`. */
export async function startClient(
  roles: RoleSet,
  settings: Omit<ClientSettings, "lifeMs"> & Partial<ClientSettings>,
  options: StartOptions = {},
): Promise<Role> {
  const role = roles.start("client", "client", { lifeMs: LIFE_MS, ...settings } satisfies ClientSettings, options);
  await role.waitFor(is.ready, START_MS, "ready");
  return role;
}

/** Waits for a client's `done` line: its load time, plus its deadline, plus the hang margin, plus slack. */
export async function clientDone(client: Role, settings: Pick<ClientSettings, "durationMs" | "timeoutMs">): Promise<void> {
  await client.waitFor(is.done, settings.durationMs + settings.timeoutMs + 10_000, "done");
}

/** An endpoint where nothing listens: a port the kernel just gave out and took back. */
export async function deadEndpoint(host = "127.0.0.1"): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no tcp port");
  return `tcp://${host}:${address.port}`;
}

/** The calls made before `t` and not settled before it. */
export function inFlightAt(calls: readonly CallRecord[], t: number): CallRecord[] {
  return calls.filter((c) => c.sent <= t && c.settled >= t);
}

/** Largest value of `f` over `items` (0 when empty). */
export function maxOf<T>(items: readonly T[], f: (item: T) => number): number {
  return items.reduce((max, item) => Math.max(max, f(item)), 0);
}

/** The service every broker test uses: the contract's name. */
export const SERVICE = "fault.v1";

/** A broker and two workers, w1 and w2, registered with it (see {@link startBrokerPool}). */
export interface BrokerPool {
  readonly broker: Role;
  readonly frontend: string;
  readonly w1: Role;
  readonly w2: Role;
}

/**
 * Starts a broker with MDP heartbeats every `heartbeatMs` and `liveness`, and two workers of {@link SERVICE} with the
 * same heartbeat and `concurrency` handlers each; resolves once the broker reports both ready. `placement` says where
 * each role runs (a network namespace), and `bind` where the broker binds (both faces).
 */
export async function startBrokerPool(
  roles: RoleSet,
  settings: { heartbeatMs: number; liveness: number; concurrency: number; bind?: string },
  placement: (role: "broker" | "w1" | "w2") => StartOptions = () => ({}),
): Promise<BrokerPool> {
  const { heartbeatMs, liveness, concurrency, bind = "tcp://127.0.0.1:0" } = settings;
  const broker = await startBroker(roles, { heartbeatMs, liveness, frontend: bind, backend: bind }, placement("broker"));
  const worker = { broker: broker.backend, service: SERVICE, heartbeatMs, liveness, concurrency };
  const w1 = await startWorker(roles, broker.role, { name: "w1", ...worker }, placement("w1"));
  const w2 = await startWorker(roles, broker.role, { name: "w2", ...worker }, placement("w2"));
  return { broker: broker.role, frontend: broker.frontend, w1, w2 };
}

/**
 * Keeps a fault on until `ms` after `since` (the time it began), however long the test spent waiting for what the
 * fault caused in the meantime: the fault's own duration, not a wait for an event.
 */
export async function holdFault(since: number, ms: number): Promise<void> {
  const left = ms - (Date.now() - since);
  if (left > 0) await sleep(left);
}
