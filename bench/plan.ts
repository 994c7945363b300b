/**
 * The cases: what runs, over which transport, with which message, how many messages per repetition (quick and
 * full), and which table rows each case produces. Column "typed" runs variant `a`, column "raw" variant `b`; for the
 * comparison cases (validation, codec) both are typed and the title says which is which.
 */
import type { Features, Impl, PayloadKind, PipelineMode, Transport, Via } from "./protocol.js";

/** `pipeline-e2e`: source → (broker →) worker → sink, every role its own process (bench/pipeline-ends.ts). */
export type Pattern = "pubsub" | "pipeline" | "rpc" | "pipeline-e2e";

export interface Variant {
  readonly impl: Impl;
  readonly validate: boolean;
  /** Typed senders: `validateOutgoing: false` (only the receivers validate). Undefined: the default, both ends. */
  readonly validateOutgoing?: false;
  readonly codec: "json" | "msgpack";
  readonly batch: boolean;
  /** RPC: straight to the server, or through an `RpcBroker` running in a third process. */
  readonly via: Via;
  /** Typed RPC client: the `headers` option (undefined: the library's default). */
  readonly headers?: boolean;
  /** End-to-end pipeline only: plain push-pull, or through a PipelineBroker (in memory, or with a store). */
  readonly pipeline?: PipelineMode;
  /** Typed only: CURVE on both sides (fresh key pairs per run). */
  readonly curve?: true;
  readonly label: string;
}

export const TYPED: Variant = { impl: "typed", validate: true, codec: "json", batch: false, via: "direct", label: "typed" };
export const RAW: Variant = {
  impl: "raw",
  validate: false,
  codec: "json",
  batch: false,
  via: "direct",
  label: "raw zeromq.js + JSON",
};
const BROKERED: Variant = {
  ...TYPED,
  via: "broker",
  label: "typed RpcClient → RpcBroker → typed RpcServer worker (three processes)",
};
const DIRECT: Variant = { ...TYPED, label: "typed RpcClient → RpcServer.bind (two processes)" };
const UNVALIDATED: Variant = { ...TYPED, validate: false, label: "typed, z.unknown() schemas" };
/** Validation off on the sending side: the real schemas, checked by the receivers only. */
const OUTGOING_UNCHECKED: Variant = { ...TYPED, validateOutgoing: false, label: "typed, validateOutgoing: false" };
const MSGPACK: Variant = { ...TYPED, codec: "msgpack", label: "typed, msgpackCodec" };
const HEADERS: Variant = { ...TYPED, headers: true, label: "typed, RpcClient { headers: true }" };
const NO_HEADERS: Variant = { ...TYPED, headers: false, label: "typed, RpcClient { headers: false }" };
const CURVE: Variant = { ...TYPED, curve: true, label: "typed, curve option (CURVE, allow-list of one client key)" };
const BATCHED_VARIANT: Variant = {
  ...TYPED,
  batch: true,
  label: "typed, batch { maxMessages: 256, maxBytes: 65536, maxDelayMs: 1 }",
};

/** RPC with opt-in call batching (protocol 1.4): the calls of one event-loop turn in one message. */
const BATCHED_RPC: Variant = {
  ...TYPED,
  batch: true,
  label: "typed, RpcClient { batch: true } (a turn's calls in batches of 16, 32, ... up to 256 calls or 64 KiB)",
};

/** The end-to-end pipeline variants: plain push-pull, and reliable through an in-memory or a durable broker. */
function pipelineVariant(pipeline: PipelineMode, batch: boolean): Variant {
  const how = batch ? "batched" : "unbatched";
  const label =
    pipeline === "plain"
      ? `typed plain push-pull, ${how}: source → worker → sink (three processes)`
      : `typed reliable, ${how}: source → PipelineBroker${pipeline === "durable" ? " { store }" : ""} → worker → sink (four processes)`;
  return { ...TYPED, batch, pipeline, label };
}

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
  readonly requires?: keyof Pick<Features, "publisherBatch" | "sourceBatch" | "broker" | "curve">;
  /**
   * The ratio measures what a feature costs (both columns typed, the broker hop), not typed against raw: it is
   * expected to be low and is never flagged ⚠.
   */
  readonly cost?: true;
  readonly rows: readonly RowDef[];
}

/** Why the built package cannot run this case yet, or undefined when it can. */
export function skipReason(c: CaseDef, features: Features): string | undefined {
  if (c.requires === "publisherBatch" && !features.publisherBatch) return "Publisher has no batch option yet";
  if (c.requires === "sourceBatch" && !features.sourceBatch) return "PipelineSource has no batch option yet";
  if (c.requires === "curve" && !features.curve) return "the classes have no curve option yet";
  if (c.requires === "broker" && features.broker === "none") {
    return "the typed worker and client cannot meet through this RpcBroker yet";
  }
  return undefined;
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
/** End-to-end pipeline, per repetition (the plain baseline runs the same count). */
const PIPELINE_ENDS = {
  unbatched: { quick: 10_000, full: 30_000 },
  batched: { quick: 40_000, full: 120_000 },
} as const;

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

/**
 * The two RPC cases of a pair of variants: lockstep (rows p50, p99 and throughput) and 100 calls in flight
 * (throughput), titled `${prefix}rpc tcp lockstep latency p50 (${lockstep})` and so on.
 */
function rpcCases(
  a: Variant,
  b: Variant,
  titles: { readonly prefix: string; readonly lockstep: string; readonly inFlight: string },
  extra: Pick<CaseDef, "requires" | "cost"> = {},
): CaseDef[] {
  const common = { pattern: "rpc", transport: "tcp", payload: "small", a, b, ...extra } as const;
  const lockstep = (what: string): string => `${titles.prefix}rpc tcp lockstep ${what} (${titles.lockstep})`;
  return [
    {
      ...common,
      inFlight: 1,
      count: RPC_LOCKSTEP,
      rows: [
        { title: lockstep("latency p50"), unit: "µs", metric: "p50" },
        { title: lockstep("latency p99"), unit: "µs", metric: "p99" },
        { title: lockstep("throughput"), unit: "calls/s", metric: "throughput" },
      ],
    },
    {
      ...common,
      inFlight: 100,
      count: RPC_IN_FLIGHT,
      rows: [{ title: `${titles.prefix}rpc tcp 100 in flight (${titles.inFlight})`, unit: "calls/s", metric: "throughput" }],
    },
  ];
}

/** A comparison of two typed variants with 100 RPC calls in flight over tcp: one throughput row titled `title`. */
function inFlightComparison(a: Variant, b: Variant, title: string, extra: Pick<CaseDef, "requires" | "cost"> = {}): CaseDef {
  return {
    pattern: "rpc",
    transport: "tcp",
    payload: "small",
    inFlight: 100,
    a,
    b,
    count: RPC_IN_FLIGHT,
    ...extra,
    rows: [{ title, unit: "calls/s", metric: "throughput" }],
  };
}

/**
 * What the reliable pipeline costs, end to end: typed reliable (through an in-memory `PipelineBroker`, or a durable
 * one with a SQLite store) against typed plain push-pull, both unbatched or both batched.
 */
function pipelineEndsCases(): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const pipeline of ["reliable", "durable"] as const) {
    for (const batch of [false, true]) {
      const how = batch ? "batched" : "unbatched";
      const via = pipeline === "durable" ? "PipelineBroker { store }" : "PipelineBroker";
      cases.push({
        pattern: "pipeline-e2e",
        transport: "tcp",
        payload: "small",
        inFlight: 1,
        a: pipelineVariant(pipeline, batch),
        b: pipelineVariant("plain", batch),
        count: PIPELINE_ENDS[how],
        cost: true,
        rows: [
          {
            title: `${pipeline} cost: push/pull tcp small ${how} (typed=${pipeline} via ${via}, raw=plain ${how} push-pull)`,
            unit: "tasks/s",
            metric: "throughput",
          },
        ],
      });
    }
  }
  return cases;
}

export function buildPlan(): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const pattern of ["pubsub", "pipeline"] as const) {
    for (const payload of ["small", "1k"] as const) {
      for (const transport of ["tcp", "ipc", "inproc"] as const) cases.push(throughputCase(pattern, transport, payload));
    }
  }
  cases.push(...rpcCases(TYPED, RAW, { prefix: "", lockstep: "typed vs REQ/REP", inFlight: "typed vs DEALER/ROUTER" }));
  const hop = "typed=via RpcBroker, raw=direct";
  cases.push(
    ...rpcCases(BROKERED, DIRECT, { prefix: "broker hop: ", lockstep: hop, inFlight: hop }, { requires: "broker", cost: true }),
  );
  cases.push({
    ...throughputCase("pubsub", "tcp", "1k"),
    a: TYPED,
    b: UNVALIDATED,
    rows: [{ title: "validation cost: pub/sub tcp 1 KiB (typed=schema, raw=z.unknown())", unit: "msg/s", metric: "throughput" }],
  });
  cases.push(inFlightComparison(TYPED, UNVALIDATED, "validation cost: rpc tcp 100 in flight (typed=schema, raw=z.unknown())"));
  // Typed with the senders' check skipped (the receivers still validate) against raw zeromq.js.
  for (const payload of ["small", "1k"] as const) {
    cases.push({
      ...throughputCase("pubsub", "tcp", payload),
      a: OUTGOING_UNCHECKED,
      rows: [
        {
          title: `validation off: pub/sub tcp ${SIZE[payload]} (typed=validateOutgoing: false, raw)`,
          unit: "msg/s",
          metric: "throughput",
        },
      ],
    });
  }
  cases.push(
    inFlightComparison(
      OUTGOING_UNCHECKED,
      RAW,
      "validation off: rpc tcp 100 in flight (typed=validateOutgoing: false vs DEALER/ROUTER)",
    ),
  );
  cases.push(
    inFlightComparison(HEADERS, NO_HEADERS, "headers cost: rpc tcp 100 in flight (typed=headers frame, raw=headers: false)", {
      cost: true,
    }),
  );
  // What encryption costs: the same typed code, with and without the `curve` option.
  cases.push(
    inFlightComparison(CURVE, TYPED, "curve cost: rpc tcp 100 in flight (typed=CURVE, raw=plaintext)", {
      requires: "curve",
      cost: true,
    }),
  );
  cases.push({
    ...throughputCase("pubsub", "tcp", "small"),
    a: CURVE,
    b: TYPED,
    requires: "curve",
    cost: true,
    rows: [{ title: "curve cost: pub/sub tcp small (typed=CURVE, raw=plaintext)", unit: "msg/s", metric: "throughput" }],
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
  // 50,000 calls, as the other batched rows: at 10,000 a batched run lasts about 150 ms, mostly JIT warm-up.
  cases.push({
    ...inFlightComparison(BATCHED_RPC, RAW, "rpc tcp 100 in flight, typed batch vs raw DEALER/ROUTER"),
    count: BATCHED,
  });
  cases.push(...pipelineEndsCases());
  return cases;
}
