/**
 * Runs one repetition of one case with one variant: opens the binding side (publisher, source or server) in peer
 * A, the connecting side in peer B (tcp, ipc) or in A as well (inproc), starts the receiver, runs the sender, waits
 * for the receiver's report (the acknowledgement that ends the run), then closes both.
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Peer } from "./peers.js";
import type { CaseDef, Variant } from "./plan.js";
import type { Features, Role, RoleSpec, RunResult, Transport } from "./protocol.js";

export interface Peers {
  readonly a: Peer;
  readonly b: Peer;
}

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

const ROLES: Record<CaseDef["pattern"], { readonly binder: Role; readonly connector: Role }> = {
  pubsub: { binder: "pub", connector: "sub" },
  pipeline: { binder: "push", connector: "pull" },
  rpc: { binder: "server", connector: "client" },
};

export async function runOnce(peers: Peers, c: CaseDef, v: Variant, options: RunOptions): Promise<Sample> {
  const { count, features } = options;
  const base: Omit<RoleSpec, "role" | "endpoint"> = {
    impl: v.impl,
    transport: c.transport,
    payload: c.payload,
    count,
    validate: v.validate,
    codec: v.codec,
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
  const endpoint = endpointFor(c.transport);
  try {
    return await runWith(peers, c, base, endpoint, runTimeoutMs);
  } finally {
    // libzmq leaves the socket file of a closed ipc endpoint behind.
    if (c.transport === "ipc") rmSync(endpoint.slice("ipc://".length), { force: true });
  }
}

async function runWith(
  peers: Peers,
  c: CaseDef,
  base: Omit<RoleSpec, "role" | "endpoint">,
  endpoint: string,
  runTimeoutMs: number,
): Promise<Sample> {
  const count = base.count;
  const roles = ROLES[c.pattern];
  const connectorPeer = c.transport === "inproc" ? peers.a : peers.b;
  const binder = await peers.a.open({ ...base, role: roles.binder, endpoint });
  const connector = await connectorPeer
    .open({ ...base, role: roles.connector, endpoint: binder.endpoint })
    .catch(async (err: unknown) => {
      await binder.close().catch(() => undefined);
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
    throw err;
  }
}
