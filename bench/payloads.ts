/**
 * The messages every case sends, their schemas and the contracts built from them. Typed and raw code send the very
 * same objects; raw code encodes them with `JSON.stringify` and decodes with `JSON.parse`, without validation.
 */
import * as z from "zod";
import { defineJobs, defineRpc, defineTopics, jsonCodec, msgpackCodec, type Codec } from "../dist/index.js";
import type { JobContract, RpcContract, TopicContract } from "../dist/index.js";
import type { PayloadKind } from "./protocol.js";

/** `seq` of the end marker: the last message of a throughput run (valid under every schema). */
export const END = -1;

/** The topic every pub/sub case publishes on (typed and raw). */
export const TOPIC = "bench";
/** The RPC method every RPC case calls. */
export const METHOD = "echo";

const Small = z.object({
  seq: z.number().int(),
  sym: z.string().min(1).max(8),
  px: z.number().nonnegative(),
  qty: z.number().int().nonnegative(),
});

const Item = z.object({
  id: z.number().int().nonnegative(),
  sku: z.string().regex(/^SKU-\d{4}$/),
  name: z.string().max(64),
  price: z.number().nonnegative(),
  qty: z.number().int().nonnegative(),
  inStock: z.boolean(),
});

const Large = z.object({
  seq: z.number().int(),
  source: z.string().min(1),
  ts: z.number().int(),
  tags: z.array(z.string()).max(16),
  items: z.array(Item).max(64),
  note: z.string().max(512),
});

const Reply = z.object({ seq: z.number().int(), ok: z.boolean() });

const SMALL_TEMPLATE: z.input<typeof Small> = { seq: 0, sym: "ABCD", px: 101.25, qty: 300 };

const LARGE_TEMPLATE: z.input<typeof Large> = {
  seq: 0,
  source: "bench-feed-01",
  ts: 1_764_180_000_000,
  tags: ["alpha", "beta", "gamma"],
  items: Array.from({ length: 9 }, (_, k) => ({
    id: k,
    sku: `SKU-${String(1000 + k)}`,
    name: `Widget number ${k}`,
    price: 12.5 + k,
    qty: k + 1,
    inStock: k % 3 !== 0,
  })),
  note: "",
};
// Pad the note so that the encoded object is 1 KiB.
LARGE_TEMPLATE.note = "n".repeat(Math.max(0, 1024 - JSON.stringify({ ...LARGE_TEMPLATE, seq: 12_345 }).length));

/** A fresh message (a shallow copy of the template with its own `seq`), as a producer would build it. */
export function makeMessage(kind: PayloadKind, seq: number): object {
  return kind === "small" ? { ...SMALL_TEMPLATE, seq } : { ...LARGE_TEMPLATE, seq };
}

/** Encoded JSON size of a message of this kind, for the report. */
export function jsonBytes(kind: PayloadKind): number {
  return Buffer.byteLength(JSON.stringify(makeMessage(kind, 12_345)));
}

/** The `seq` field of a decoded message (typed and raw receivers both use this). */
export function seqOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return Number.NaN;
  const seq: unknown = Reflect.get(value, "seq");
  return typeof seq === "number" ? seq : Number.NaN;
}

/** The RPC handler's work, shared by typed and raw servers. */
export function replyTo(request: unknown): z.input<typeof Reply> {
  return { seq: seqOf(request), ok: true };
}

/** Contracts with payloads typed as `unknown` at the call sites, so one piece of code drives both variants. */
export type BenchTopics = TopicContract<{ readonly bench: z.ZodType }>;
export type BenchJobs = JobContract;
export type BenchRpc = RpcContract<{ readonly echo: { readonly request: z.ZodType; readonly response: z.ZodType } }>;

function schemaFor(kind: PayloadKind): z.ZodType {
  return kind === "small" ? Small : Large;
}

/** The real contract (`validate`) or one whose schemas are all `z.unknown()` (validation off). */
export function topicContract(kind: PayloadKind, validate: boolean): BenchTopics {
  return defineTopics("bench.topics.v1", { bench: validate ? schemaFor(kind) : z.unknown() });
}

export function jobContract(kind: PayloadKind, validate: boolean): BenchJobs {
  return validate
    ? defineJobs("bench.jobs.v1", { task: schemaFor(kind), result: z.null() })
    : defineJobs("bench.jobs.v1", { task: z.unknown(), result: z.unknown() });
}

/**
 * The end-to-end pipeline's contract (source → worker → sink): the task as {@link jobContract}, and a result that
 * names its task (`{ seq, ok }`, the RPC reply), so that the plain sink can count distinct tasks too.
 */
export function pipelineContract(kind: PayloadKind, validate: boolean): BenchJobs {
  return validate
    ? defineJobs("bench.jobs.v1", { task: schemaFor(kind), result: Reply })
    : defineJobs("bench.jobs.v1", { task: z.unknown(), result: z.unknown() });
}

export function rpcContract(kind: PayloadKind, validate: boolean): BenchRpc {
  return defineRpc("bench.rpc.v1", {
    echo: validate ? { request: schemaFor(kind), response: Reply } : { request: z.unknown(), response: z.unknown() },
  });
}

export function codecFor(name: "json" | "msgpack"): Codec {
  return name === "json" ? jsonCodec : msgpackCodec;
}
