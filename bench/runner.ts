/**
 * Runs one repetition of one case with one variant: opens the binding side (publisher, source or server) in peer
 * A, the connecting side in peer B (tcp, ipc) or in A as well (inproc), starts the receiver, runs the sender, waits
 * for the receiver's report (the acknowledgement that ends the run), then closes both. An RPC variant `via: "broker"`
 * first binds an `RpcBroker` in peer C, connects the server to its backend as a worker, waits until the broker has
 * admitted it, and connects the client to the frontend; the broker is closed last.
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import type { Peer, RemoteRole } from "./peers.js";
import { runPipelineEnds } from "./pipeline-ends.js";
import type { CaseDef, Variant } from "./plan.js";
import type { CurveKeys, Features, Role, RoleSpec, RunResult, Transport } from "./protocol.js";

export interface Peers {
  readonly a: Peer;
  readonly b: Peer;
  /** The broker's process (RPC cases through a broker, reliable end-to-end pipeline cases). */
  readonly c?: Peer;
  /** The sink's process (end-to-end pipeline cases). */
  readonly d?: Peer;
}

/** The service the broker-hop cases' worker registers and their client addresses (with an MDP broker). */
export const BENCH_SERVICE = "bench.rpc.v1";

export interface Sample {
  /** Messages or calls per second. */
  readonly throughput: number;
  /** RPC lockstep only (NaN otherwise). */
  readonly p50: number;
  readonly p99: number;
  /** Messages sent but never counted by the receiver (or calls not completed). */
  readonly lost: number;
  /** The receiver gave up waiting (no end marker). */
  readonly stalled: boolean;
  /** RSS samples (once warm, at the end) reported by each side (soak only). */
  readonly rss: readonly { readonly side: string; readonly warmMiB: number; readonly endMiB: number }[];
}

export interface RunOptions {
  readonly count: number;
  readonly features: Features;
  /** Soak: sample RSS after this many messages. */
  readonly soakWarmup?: number;
  readonly stallMs?: number;
  /** Overrides the publishers' send high-water mark. */
  readonly sendHighWaterMark?: number;
  /** Overrides the endpoint (the NATS.js variants: the local nats-server's URL). */
  readonly endpoint?: string;
}

export function endpointFor(transport: Transport): string {
  const id = randomUUID().slice(0, 12);
  switch (transport) {
    case "tcp":
      return "tcp://127.0.0.1:*";
    case "ipc":
      return `ipc://${join(tmpdir(), `tzmq-bench-${process.pid}-${id}.sock`)}`;
    case "inproc":
      return `inproc://tzmq-bench-${id}`;
  }
}

const ROLES: Record<Exclude<CaseDef["pattern"], "pipeline-e2e">, { readonly binder: Role; readonly connector: Role }> = {
  pubsub: { binder: "pub", connector: "sub" },
  pipeline: { binder: "push", connector: "pull" },
  rpc: { binder: "server", connector: "client" },
};

/** Fresh CURVE key pairs for one run: the server's and its one allowed client's. */
function curveKeys(): CurveKeys {
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  return {
    serverPublic: server.publicKey,
    serverSecret: server.secretKey,
    clientPublic: client.publicKey,
    clientSecret: client.secretKey,
  };
}

export async function runOnce(peers: Peers, c: CaseDef, v: Variant, options: RunOptions): Promise<Sample> {
  const { count, features } = options;
  const base: Omit<RoleSpec, "role" | "endpoint"> = {
    impl: v.impl,
    transport: c.transport,
    via: v.via,
    ...(v.headers === undefined ? {} : { headers: v.headers }),
    ...(v.via === "broker" && features.broker.startsWith("mdp") ? { service: BENCH_SERVICE } : {}),
    ...(v.via === "broker" && features.broker === "mdp" ? { clientService: BENCH_SERVICE } : {}),
    payload: c.payload,
    count,
    validate: v.validate,
    ...(v.validateOutgoing === false ? { validateOutgoing: false } : {}),
    codec: v.codec,
    ...(v.curve === true ? { curve: curveKeys() } : {}),
    batch: v.batch,
    noDrop: features.publisherNoDrop,
    // Without noDrop in Publisher, a queue deep enough for the whole run is the only lossless setting; raw gets the
    // same depth so that neither side waits where the other does not.
    sendHighWaterMark: options.sendHighWaterMark ?? (features.publisherNoDrop ? 1000 : count + 16),
    inFlight: c.inFlight,
    soakWarmup: options.soakWarmup ?? 0,
    stallMs: options.stallMs ?? 5_000,
  };
  const runTimeoutMs = 30_000 + count * 0.5;
  if (c.pattern === "pipeline-e2e") return runPipelineEnds(peers, c, v, base, runTimeoutMs);
  const endpoint = options.endpoint ?? endpointFor(c.transport);
  const backend = v.via === "broker" ? endpointFor(c.transport) : undefined;
  try {
    return await runWith(peers, c, base, endpoint, backend, runTimeoutMs);
  } finally {
    // libzmq leaves the socket file of a closed ipc endpoint behind.
    if (c.transport === "ipc") {
      for (const e of [endpoint, backend]) if (e !== undefined) rmSync(e.slice("ipc://".length), { force: true });
    }
  }
}

/** Binds the broker in peer C when the run goes through one (it has a backend endpoint), else nothing. */
async function openBroker(
  peers: Peers,
  base: Omit<RoleSpec, "role" | "endpoint">,
  endpoint: string,
  backend: string | undefined,
): Promise<RemoteRole | undefined> {
  if (backend === undefined) return undefined;
  if (peers.c === undefined) throw new Error("an RPC case through a broker needs the third peer (peers.c)");
  return peers.c.open({ ...base, role: "broker", endpoint, backend });
}

async function runWith(
  peers: Peers,
  c: CaseDef,
  base: Omit<RoleSpec, "role" | "endpoint">,
  endpoint: string,
  backend: string | undefined,
  runTimeoutMs: number,
): Promise<Sample> {
  const count = base.count;
  const pattern = c.pattern;
  if (pattern === "pipeline-e2e") throw new Error("an end-to-end pipeline case runs in runPipelineEnds, not here");
  const roles = ROLES[pattern];
  const connectorPeer = c.transport === "inproc" ? peers.a : peers.b;
  const broker = await openBroker(peers, base, endpoint, backend);
  const closeBroker = async (): Promise<void> => {
    await broker?.close();
  };
  const binder = await peers.a
    .open({ ...base, role: roles.binder, endpoint: broker?.backend ?? endpoint })
    .catch(async (err: unknown) => {
      await closeBroker().catch(() => undefined);
      throw err;
    });
  const connector = await (async () => {
    // The broker's run is its wait for the worker to be admitted: no call is made before a worker is there.
    if (broker !== undefined) await broker.run(20_000);
    return connectorPeer.open({ ...base, role: roles.connector, endpoint: broker?.endpoint ?? binder.endpoint });
  })().catch(async (err: unknown) => {
    await binder.close().catch(() => undefined);
    await closeBroker().catch(() => undefined);
    throw err;
  });
  try {
    let sent: RunResult;
    let received: RunResult;
    if (c.pattern === "rpc") {
      received = await connector.run(runTimeoutMs);
      sent = { count, elapsedMs: received.elapsedMs, endSeen: true };
    } else {
      const receiving = connector.run(runTimeoutMs);
      sent = await binder.run(runTimeoutMs).catch(async (err: unknown) => {
        await receiving.catch(() => undefined);
        throw err;
      });
      received = await receiving; // the acknowledgement: only now may the sender close
    }
    const binderClose = await binder.close();
    const connectorClose = await connector.close();
    await closeBroker();
    const rss = [
      { side: roles.binder, value: sent.rss ?? binderClose.rss },
      { side: roles.connector, value: received.rss ?? connectorClose.rss },
    ].flatMap(({ side, value }) => (value === undefined ? [] : [{ side, ...value }]));
    return {
      throughput: received.elapsedMs > 0 ? received.count / (received.elapsedMs / 1000) : Number.NaN,
      p50: received.p50Us ?? Number.NaN,
      p99: received.p99Us ?? Number.NaN,
      lost: Math.max(0, sent.count - received.count),
      stalled: !received.endSeen,
      rss,
    };
  } catch (err) {
    await Promise.allSettled([binder.close(), connector.close()]);
    await closeBroker().catch(() => undefined);
    throw err;
  }
}
