/**
 * The cases: what runs, over which transport, with which message, how many messages per repetition (quick and
 * full), and which table rows each case produces. Column "typed" runs variant `a`, column "raw" variant `b`; for the
 * comparison cases (validation, codec) both are typed and the title says which is which.
 */
import type { Features, Impl, PayloadKind, Transport } from "./protocol.js";

export type Pattern = "pubsub" | "pipeline" | "rpc";

export interface Variant {
  readonly impl: Impl;
  readonly validate: boolean;
  readonly codec: "json" | "msgpack";
  readonly batch: boolean;
  readonly label: string;
}

export const TYPED: Variant = { impl: "typed", validate: true, codec: "json", batch: false, label: "typed" };
export const RAW: Variant = { impl: "raw", validate: false, codec: "json", batch: false, label: "raw zeromq.js + JSON" };
const UNVALIDATED: Variant = { ...TYPED, validate: false, label: "typed, z.unknown() schemas" };
const MSGPACK: Variant = { ...TYPED, codec: "msgpack", label: "typed, msgpackCodec" };
const BATCHED_VARIANT: Variant = {
  ...TYPED,
  batch: true,
  label: "typed, batch { maxMessages: 256, maxBytes: 65536, maxDelayMs: 1 }",
};

export type Metric = "throughput" | "p50" | "p99";

export interface RowDef {
  readonly title: string;
  readonly unit: string;
  readonly metric: Metric;
}

export interface CaseDef {
  readonly pattern: Pattern;
  readonly transport: Transport;
  readonly payload: PayloadKind;
  /** RPC: calls in flight (1 = lockstep). */
  readonly inFlight: number;
  readonly a: Variant;
  readonly b: Variant;
  /** Messages (or calls) per repetition. */
  readonly count: { readonly quick: number; readonly full: number };
  readonly requires?: keyof Pick<Features, "publisherBatch" | "sourceBatch">;
  readonly rows: readonly RowDef[];
}

/** Lower is better for these metrics: their ratio is raw/typed. */
export function lowerIsBetter(metric: Metric): boolean {
  return metric !== "throughput";
}

const SIZE: Record<PayloadKind, string> = { small: "small (48 B)", "1k": "1 KiB" };

/**
 * Messages per repetition, chosen so that a typed repetition takes about 0.3–0.4 s in quick mode and about 1 s in a
 * full run on the 2-core reference machine (the raw one takes less).
 */
const COUNTS = {
  pubsub: { small: { quick: 20_000, full: 50_000 }, "1k": { quick: 7_000, full: 18_000 } },
  pipeline: { small: { quick: 12_000, full: 30_000 }, "1k": { quick: 5_000, full: 12_500 } },
} as const;
const RPC_LOCKSTEP = { quick: 1_000, full: 2_500 } as const;
const RPC_IN_FLIGHT = { quick: 4_000, full: 10_000 } as const;
const BATCHED = { quick: 20_000, full: 50_000 } as const;

function throughputCase(pattern: "pubsub" | "pipeline", transport: Transport, payload: PayloadKind): CaseDef {
  const name = pattern === "pubsub" ? "pub/sub" : "push/pull";
  return {
    pattern,
    transport,
    payload,
    inFlight: 1,
    a: TYPED,
    b: RAW,
    count: COUNTS[pattern][payload],
    rows: [{ title: `${name} ${transport} ${SIZE[payload]}`, unit: "msg/s", metric: "throughput" }],
  };
}

export function buildPlan(): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const pattern of ["pubsub", "pipeline"] as const) {
    for (const payload of ["small", "1k"] as const) {
      for (const transport of ["tcp", "ipc", "inproc"] as const) cases.push(throughputCase(pattern, transport, payload));
    }
  }
  cases.push({
    pattern: "rpc",
    transport: "tcp",
    payload: "small",
    inFlight: 1,
    a: TYPED,
    b: RAW,
    count: RPC_LOCKSTEP,
    rows: [
      { title: "rpc tcp lockstep latency p50 (typed vs REQ/REP)", unit: "µs", metric: "p50" },
      { title: "rpc tcp lockstep latency p99 (typed vs REQ/REP)", unit: "µs", metric: "p99" },
      { title: "rpc tcp lockstep throughput (typed vs REQ/REP)", unit: "calls/s", metric: "throughput" },
    ],
  });
  cases.push({
    pattern: "rpc",
    transport: "tcp",
    payload: "small",
    inFlight: 100,
    a: TYPED,
    b: RAW,
    count: RPC_IN_FLIGHT,
    rows: [{ title: "rpc tcp 100 in flight (typed vs DEALER/ROUTER)", unit: "calls/s", metric: "throughput" }],
  });
  cases.push({
    ...throughputCase("pubsub", "tcp", "1k"),
    a: TYPED,
    b: UNVALIDATED,
    rows: [{ title: "validation cost: pub/sub tcp 1 KiB (typed=schema, raw=z.unknown())", unit: "msg/s", metric: "throughput" }],
  });
  cases.push({
    pattern: "rpc",
    transport: "tcp",
    payload: "small",
    inFlight: 100,
    a: TYPED,
    b: UNVALIDATED,
    count: RPC_IN_FLIGHT,
    rows: [
      { title: "validation cost: rpc tcp 100 in flight (typed=schema, raw=z.unknown())", unit: "calls/s", metric: "throughput" },
    ],
  });
  cases.push({
    ...throughputCase("pubsub", "tcp", "1k"),
    a: MSGPACK,
    b: TYPED,
    rows: [{ title: "codec: pub/sub tcp 1 KiB (typed=msgpackCodec, raw=jsonCodec)", unit: "msg/s", metric: "throughput" }],
  });
  cases.push({
    ...throughputCase("pubsub", "tcp", "small"),
    a: BATCHED_VARIANT,
    count: BATCHED,
    requires: "publisherBatch",
    rows: [{ title: "pub/sub tcp small, typed batch+noDrop vs raw 1 msg/send", unit: "msg/s", metric: "throughput" }],
  });
  cases.push({
    ...throughputCase("pipeline", "tcp", "small"),
    a: BATCHED_VARIANT,
    count: BATCHED,
    requires: "sourceBatch",
    rows: [{ title: "push/pull tcp small, typed batch vs raw 1 msg/send", unit: "msg/s", metric: "throughput" }],
  });
  return cases;
}
