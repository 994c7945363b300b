/**
 * One repetition of an end-to-end pipeline case (pattern `pipeline-e2e`), every role in its own peer process over tcp
 * on loopback: the source in peer A, the worker in B, the reliable mode's `PipelineBroker` in C, the sink in D.
 * Plain: the sink binds, the source binds, the worker connects to both (three processes). Reliable and durable: the
 * broker binds, the sink and the worker connect to it, and once the broker has both the source connects (four
 * processes). Throughput is the count over the time from the source's first push to the sink's last outcome (clocks
 * of one machine, see `epochNow`). A run whose sink did not get every task's outcome fails with the numbers.
 */
import type { RemoteRole } from "./peers.js";
import type { CaseDef, Variant } from "./plan.js";
import type { RoleSpec } from "./protocol.js";
import { endpointFor, type Peers, type Sample } from "./runner.js";

type BaseSpec = Omit<RoleSpec, "role" | "endpoint" | "pipeline">;

export async function runPipelineEnds(peers: Peers, c: CaseDef, v: Variant, base: BaseSpec, timeoutMs: number): Promise<Sample> {
  const pipeline = v.pipeline ?? "plain";
  const { c: brokerPeer, d: sinkPeer } = peers;
  if (brokerPeer === undefined || sinkPeer === undefined) {
    throw new Error("an end-to-end pipeline case needs the third and fourth peers (peers.c, peers.d)");
  }
  if (c.transport !== "tcp") throw new Error(`an end-to-end pipeline case runs over tcp only, not ${c.transport}`);
  const spec = { ...base, pipeline };
  const opened: RemoteRole[] = [];
  const open = async (peer: typeof brokerPeer, role: RoleSpec["role"], extra: Partial<RoleSpec> & { endpoint: string }) => {
    const remote = await peer.open({ ...spec, role, ...extra });
    opened.push(remote);
    return remote;
  };
  try {
    let source: RemoteRole;
    let sink: RemoteRole;
    // Closed in the order the data flows (source, worker, sink, broker), so that nobody waits on a peer already gone.
    let closeOrder: RemoteRole[];
    if (pipeline === "plain") {
      sink = await open(sinkPeer, "sink", { endpoint: endpointFor("tcp") });
      source = await open(peers.a, "source", { endpoint: endpointFor("tcp") });
      const worker = await open(peers.b, "worker", { endpoint: source.endpoint, results: sink.endpoint });
      closeOrder = [source, worker, sink];
    } else {
      const broker = await open(brokerPeer, "queue-broker", { endpoint: endpointFor("tcp"), backend: endpointFor("tcp") });
      if (broker.backend === undefined) throw new Error("the queue-broker role reported no backend endpoint");
      sink = await open(sinkPeer, "sink", { endpoint: broker.endpoint });
      const worker = await open(peers.b, "worker", { endpoint: broker.backend });
      await broker.run(20_000);
      source = await open(peers.a, "source", { endpoint: broker.endpoint });
      closeOrder = [source, worker, sink, broker];
    }
    const receiving = sink.run(timeoutMs);
    const sent = await source.run(timeoutMs).catch(async (err: unknown) => {
      await receiving.catch(() => undefined);
      throw err;
    });
    const received = await receiving;
    for (const remote of closeOrder) {
      opened.splice(opened.indexOf(remote), 1); // closed here, not again below
      await remote.close();
    }
    if (received.count < sent.count || !received.endSeen) {
      throw new Error(
        `${c.rows[0]?.title ?? "pipeline case"} (${v.label}): the sink got ${received.count} of ${sent.count} outcomes ` +
          `(${sent.count - received.count} missing) before it stalled`,
      );
    }
    const { firstAt, lastAt } = { firstAt: sent.firstAt, lastAt: received.lastAt };
    if (firstAt === undefined || lastAt === undefined) throw new Error("the source or the sink reported no time stamps");
    const elapsedMs = lastAt - firstAt;
    return {
      throughput: elapsedMs > 0 ? received.count / (elapsedMs / 1000) : Number.NaN,
      p50: Number.NaN,
      p99: Number.NaN,
      lost: Math.max(0, sent.count - received.count),
      stalled: false,
      rss: [],
    };
  } finally {
    await Promise.allSettled(opened.map((remote) => remote.close()));
  }
}
