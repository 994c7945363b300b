/**
 * The line protocol between the orchestrator (bench/run.ts) and its peer processes (bench/peer.ts): one JSON object
 * per line on the peer's stdin (commands) and stdout (replies). Both ends parse what they read with these schemas.
 */
import * as z from "zod";

/** `nats`: NATS.js through a local nats-server (the `--peers` section, bench/cases/nats.ts). */
export const Impl = z.enum(["typed", "raw", "nats"]);
export type Impl = z.infer<typeof Impl>;

/**
 * `source`, `worker`, `sink` and `queue-broker` are the end-to-end pipeline roles (bench/cases/pipeline-ends.ts): a
 * PipelineSource, PipelineWorker and PipelineSink, plain or reliable, and the reliable mode's PipelineBroker.
 */
export const Role = z.enum([
  "pub",
  "sub",
  "push",
  "pull",
  "server",
  "client",
  "broker",
  "source",
  "worker",
  "sink",
  "queue-broker",
]);
export type Role = z.infer<typeof Role>;

export const PayloadKind = z.enum(["small", "1k"]);
export type PayloadKind = z.infer<typeof PayloadKind>;

export const Transport = z.enum(["tcp", "ipc", "inproc"]);
export type Transport = z.infer<typeof Transport>;

/** RPC: calls made straight to the server, or through an `RpcBroker` in a third process. */
export const Via = z.enum(["direct", "broker"]);
export type Via = z.infer<typeof Via>;

/**
 * Which broker the built package has: `mdp` (Majordomo: workers register with `{ service }`, clients address it),
 * `mdp-worker` (workers register with `{ service }` but the client has no MDP mode yet: its plain v1 requests reach
 * the broker's only service), `v1` (the load-balancing broker before Majordomo: no `service` option anywhere), or
 * `none` (a typed worker and client cannot meet through this broker).
 */
export const BrokerMode = z.enum(["mdp", "mdp-worker", "v1", "none"]);
export type BrokerMode = z.infer<typeof BrokerMode>;

/**
 * End-to-end pipeline: `plain` push-pull (source → worker → sink), `reliable` (through an in-memory PipelineBroker),
 * `durable` (through a PipelineBroker with a SQLite store in a fresh temporary directory).
 */
export const PipelineMode = z.enum(["plain", "reliable", "durable"]);
export type PipelineMode = z.infer<typeof PipelineMode>;

/** CURVE key pairs of one run (Z85), made by the orchestrator so that both processes know the other's public key. */
export const CurveKeys = z.object({
  serverPublic: z.string(),
  serverSecret: z.string(),
  clientPublic: z.string(),
  clientSecret: z.string(),
});
export type CurveKeys = z.infer<typeof CurveKeys>;

/** Everything one side of one run needs to know. */
export const RoleSpec = z.object({
  role: Role,
  impl: Impl,
  transport: Transport,
  /** Where to bind (pub, push, server, the broker's frontend) or connect (sub, pull, client, server via a broker). */
  endpoint: z.string(),
  /** Broker only: where to bind its backend. */
  backend: z.string().optional(),
  /** Plain end-to-end pipeline worker only: the sink's endpoint it pushes results to. */
  results: z.string().optional(),
  /** End-to-end pipeline roles only: which pipeline (absent: not such a role). */
  pipeline: PipelineMode.optional(),
  /** RPC server and client: direct, or through the broker (the server then connects to the broker's backend). */
  via: Via,
  /** Typed RPC client: the `headers` option (absent: the library's default). */
  headers: z.boolean().optional(),
  /** RPC through an MDP broker: the service the worker registers (and the broker waits for). */
  service: z.string().optional(),
  /** RPC through an MDP broker: the service the client addresses (absent: plain v1 requests). */
  clientService: z.string().optional(),
  payload: PayloadKind,
  /** Messages (or calls) to send; receivers use it only for soak sampling. */
  count: z.number().int().nonnegative(),
  /** Typed only: the real schemas (true) or `z.unknown()` passthrough schemas (false). */
  validate: z.boolean(),
  /** Typed senders only: `false` passes `validateOutgoing: false` (the receivers still validate). */
  validateOutgoing: z.boolean().optional(),
  /** Typed only. */
  codec: z.enum(["json", "msgpack"]),
  /** Typed only: CURVE with these keys (the binding side the server, allowing only the client's key); absent: plaintext. */
  curve: CurveKeys.optional(),
  /** Typed pub/push only: the `batch` option. */
  batch: z.boolean(),
  /** Typed pub only: the `noDrop` option. */
  noDrop: z.boolean(),
  /** Send high-water mark of pub sockets (typed and raw). */
  sendHighWaterMark: z.number().int().positive(),
  /** RPC client: calls in flight (1 = lockstep). */
  inFlight: z.number().int().positive(),
  /** Soak: sample RSS after this many messages (0: no sampling). */
  soakWarmup: z.number().int().nonnegative(),
  /** A receiver that sees no progress for this long gives up and reports what it counted. */
  stallMs: z.number().int().positive(),
});
export type RoleSpec = z.infer<typeof RoleSpec>;

export const Rss = z.object({ warmMiB: z.number(), endMiB: z.number() });
export type Rss = z.infer<typeof Rss>;

export const RunResult = z.object({
  /** Messages received (receivers), sent (senders) or calls completed (clients). */
  count: z.number(),
  /** Receivers: from the first message to the end marker. Senders and clients: the whole run. */
  elapsedMs: z.number(),
  /** Receivers: whether the end marker arrived (false: the run stalled). */
  endSeen: z.boolean(),
  /** RPC clients in lockstep: latency percentiles of the measured calls. */
  p50Us: z.number().optional(),
  p99Us: z.number().optional(),
  rss: Rss.optional(),
  /**
   * End-to-end pipeline only, in ms since the epoch with sub-millisecond precision
   * (`performance.timeOrigin + performance.now()`, comparable across processes on one machine): the source's first
   * push, the sink's last outcome.
   */
  firstAt: z.number().optional(),
  lastAt: z.number().optional(),
});
export type RunResult = z.infer<typeof RunResult>;

export const OpenValue = z.object({ endpoint: z.string(), backend: z.string().optional() });
export const CloseValue = z.object({ rss: Rss.optional() });
export type CloseValue = z.infer<typeof CloseValue>;

export const Features = z.object({
  /** `Publisher` honours `noDrop: true` (probed by behaviour: a full queue holds publishes back instead of dropping). */
  publisherNoDrop: z.boolean(),
  /** `Publisher` accepts the `batch` option and has `flush()`. */
  publisherBatch: z.boolean(),
  /** `PipelineSource` accepts the `batch` option and has `flush()`. */
  sourceBatch: z.boolean(),
  /** The classes accept the `curve` option and encrypt (probed: a raw CURVE client gets an answer). */
  curve: z.boolean(),
  /** Which `RpcBroker` (and matching worker and client modes) the package has. */
  broker: BrokerMode,
  notes: z.array(z.string()),
});
export type Features = z.infer<typeof Features>;

export const Command = z.discriminatedUnion("op", [
  z.object({ id: z.number(), op: z.literal("features") }),
  z.object({ id: z.number(), op: z.literal("open"), handle: z.string(), spec: RoleSpec }),
  z.object({ id: z.number(), op: z.literal("run"), handle: z.string() }),
  z.object({ id: z.number(), op: z.literal("close"), handle: z.string() }),
  z.object({ id: z.number(), op: z.literal("exit") }),
]);
export type Command = z.infer<typeof Command>;

export const Reply = z.discriminatedUnion("ok", [
  z.object({ id: z.number(), ok: z.literal(true), value: z.unknown() }),
  z.object({ id: z.number(), ok: z.literal(false), error: z.string() }),
]);
export type Reply = z.infer<typeof Reply>;
