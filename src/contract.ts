/**
 * @packageDocumentation
 * Message contracts: schemas written once and shared by both ends, with the types inferred from them.
 *
 * Depends on zod (a peer dependency), the Standard Schema types (`@standard-schema/spec`, types only) and `errors/`.
 * A schema is a zod 4 schema or any Standard Schema v1 validator (valibot, arktype, ...). `defineRpc` makes an RPC
 * contract; the `Infer*` helpers give the types each side sees, through {@link InputOf} and {@link OutputOf}
 * (callers pass the input type and receive the output type; handlers the other way round).
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type * as z from "zod";
import { InvalidArgumentError } from "./errors/index.js";
import { RESERVED_METHODS } from "./protocol/rpc.js";

declare const typeLevelError: unique symbol;

/**
 * A compile-time error: a parameter of this type accepts no value, and the compiler's message shows `TMessage`.
 *
 * typed-zmq puts it where an argument cannot be typed safely, for example the payload of `call()` when the method
 * name is a union (`"a" | "b"`): the payload could belong to either method, so the call is refused with a message
 * saying what to do instead of accepting a mix. The brand is a private symbol, so no value has this type.
 *
 * @example
 * ```ts
 * // error TS2345: Argument of type '{ x: number; }' is not assignable to parameter of type
 * //   'TypeLevelError<"typed-zmq: call() needs one method name, not a union of them; narrow the method first ...">'.
 * await client.call(method as "add" | "echo", { x: 1 });
 * ```
 */
export type TypeLevelError<TMessage extends string> = TMessage & { readonly [typeLevelError]: TMessage };

/**
 * What a contract accepts as a schema: a zod 4 schema, or any validator that implements Standard Schema v1
 * (`~standard.version === 1` and a `validate` function), such as valibot or arktype.
 *
 * zod schemas are checked with `safeParse` (a synchronous fast path); other validators through
 * `~standard.validate`, which may return a promise (an asynchronous check). Both may sit in one contract.
 */
export type Schema = z.ZodType | StandardSchemaV1;

/**
 * The type a schema accepts (its input side), which senders pass: the Standard Schema input type
 * (`StandardSchemaV1.InferInput`), which for a zod schema is exactly `z.input` (zod 4 types its `~standard` with its
 * own input and output). Read without a conditional type, so that deep validator types (arktype's) stay cheap to
 * check.
 */
export type InputOf<TSchema extends Schema> = NonNullable<TSchema["~standard"]["types"]>["input"];

/**
 * The type a schema gives after validation (its output side, after any transform), which receivers get: the
 * Standard Schema output type (`StandardSchemaV1.InferOutput`), which for a zod schema is exactly `z.output`.
 */
export type OutputOf<TSchema extends Schema> = NonNullable<TSchema["~standard"]["types"]>["output"];

/** Request and response schemas of one RPC method. */
export interface MethodSchemas<TRequest extends Schema = Schema, TResponse extends Schema = Schema> {
  /** Schema of what the caller sends. */
  readonly request: TRequest;
  /** Schema of what the handler answers. */
  readonly response: TResponse;
  /**
   * The method may run more than once with the same effect as once (a read, or a write keyed by the request). Only
   * idempotent methods are retried by `RpcClient` (on a timeout, `UNAVAILABLE` or a lost connection) and sent to
   * another worker by `RpcBroker` when theirs dies. The flag travels in the request's `idempotent` header.
   * @defaultValue false
   */
  readonly idempotent?: boolean;
}

/** The methods of an RPC contract, by name. */
export type MethodMap = { readonly [method: string]: MethodSchemas };

/** An RPC contract made by {@link defineRpc}: a name with version, and its methods. */
export interface RpcContract<TMethods extends MethodMap = MethodMap> {
  /** Always `"rpc"`. */
  readonly kind: "rpc";
  /** Contract name and version, for example `orders.v1`; used in errors and logs (it does not travel on the wire). */
  readonly name: string;
  /** The methods, by name. */
  readonly methods: TMethods;
}

/** Names of the methods of a contract. */
export type MethodName<TContract extends RpcContract> = keyof TContract["methods"] & string;

type MethodOf<TContract extends RpcContract, TMethod extends MethodName<TContract>> = TContract["methods"][TMethod];

/** What a caller passes to `call(method, …)`: the request schema's input type. */
export type InferRequest<TContract extends RpcContract, TMethod extends MethodName<TContract>> = InputOf<
  MethodOf<TContract, TMethod>["request"]
>;
/** What a handler receives: the request schema's output type (after parsing). */
export type InferHandlerRequest<TContract extends RpcContract, TMethod extends MethodName<TContract>> = OutputOf<
  MethodOf<TContract, TMethod>["request"]
>;
/** What a handler returns: the response schema's input type. */
export type InferHandlerResponse<TContract extends RpcContract, TMethod extends MethodName<TContract>> = InputOf<
  MethodOf<TContract, TMethod>["response"]
>;
/** What a caller receives from `call(method, …)`: the response schema's output type. */
export type InferResponse<TContract extends RpcContract, TMethod extends MethodName<TContract>> = OutputOf<
  MethodOf<TContract, TMethod>["response"]
>;

const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]{0,199}$/;

/**
 * Defines an RPC contract once, for both client and server.
 *
 * Each schema is a zod 4 schema or any Standard Schema v1 validator (valibot, arktype, ...; see {@link Schema}),
 * mixed freely. zod is checked synchronously with `safeParse`. A validator whose check is asynchronous (valibot's
 * `pipeAsync`, a zod `refine(async ...)`) works too, and calls, requests and replies keep their order, but it costs a
 * promise and a queue step per check. Measured with `bench/validators.ts`: about 0.6 µs more per check than the
 * same check done synchronously (about four times a zod check), so a typed RPC over tcp makes about 40 % fewer
 * calls/s (four checks per call) and pub/sub about 20 % fewer messages/s (two checks); a synchronous valibot or
 * arktype schema costs about as much as zod (README, "Other validators (Standard Schema)").
 *
 * @param name - Contract name with a version, for example `"orders.v1"`. Shown in errors and logs.
 * @param methods - For each method name, a `request` and a `response` schema (zod or Standard Schema). Method names travel on the wire as
 *   UTF-8: they must start with a letter or `_` and use letters, digits, `_ . : / -` (at most 200 characters).
 *   `ok` and `error` are reserved (they are reply statuses).
 * @returns The contract, typed by its methods.
 * @throws TypeError when the name, a method name or a schema is not usable.
 * @example
 * ```ts
 * const Greeter = defineRpc("greeter.v1", {
 *   hello: { request: z.object({ name: z.string() }), response: z.object({ greeting: z.string() }) },
 * });
 * ```
 */
export function defineRpc<const TMethods extends MethodMap>(name: string, methods: TMethods): RpcContract<TMethods> {
  if (typeof name !== "string" || name.trim().length === 0) {
    throw new InvalidArgumentError('defineRpc: `name` must be a non-empty string such as "orders.v1".');
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
  if (typeof methods !== "object" || methods === null) {
    throw new InvalidArgumentError(`defineRpc("${name}"): \`methods\` must be an object of { request, response } schemas.`);
  }
  const names = Object.keys(methods);
  if (names.length === 0) {
    throw new InvalidArgumentError(`defineRpc("${name}"): the contract declares no methods; add at least one.`);
  }
  for (const method of names) {
    if (RESERVED_METHODS.includes(method)) {
      throw new InvalidArgumentError(
        `defineRpc("${name}"): method name "${method}" is reserved: "ok" and "error" are reply statuses on the wire, and a server never answers them (so that two servers wired to each other cannot loop). Choose another name.`,
      );
    }
    if (!METHOD_NAME.test(method)) {
      throw new InvalidArgumentError(
        `defineRpc("${name}"): method name "${method}" is not allowed; use a letter or _ first, then letters, digits or _ . : / - (max 200).`,
      );
    }
    const entry = methods[method];
    const idempotent: unknown = entry === undefined ? undefined : Reflect.get(entry, "idempotent");
    if (idempotent !== undefined && typeof idempotent !== "boolean") {
      throw new InvalidArgumentError(`defineRpc("${name}"): \`${method}.idempotent\` must be true or false when given.`);
    }
    for (const part of ["request", "response"] as const) {
      const problem = schemaProblem(entry?.[part]);
      if (problem !== undefined) throw new InvalidArgumentError(`defineRpc("${name}"): \`${method}.${part}\` ${problem}.`);
    }
  }
  return Object.freeze({ kind: "rpc" as const, name, methods: Object.freeze({ ...methods }) });
}

const SCHEMA_KINDS = "a zod 4 schema or a Standard Schema v1 validator (valibot, arktype, ...)";

/**
 * Why `value` cannot be a contract schema, or undefined when it can: a zod schema (it has `safeParse`), or a Standard
 * Schema v1 validator (`~standard.version === 1` and a `validate` function).
 */
function schemaProblem(value: unknown): string | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) {
    return `must be ${SCHEMA_KINDS}, for example z.object({...}) or v.object({...}); got ${value === null ? "null" : typeof value}`;
  }
  if (typeof Reflect.get(value, "safeParse") === "function") return undefined;
  const standard: unknown = Reflect.get(value, "~standard");
  if (typeof standard !== "object" || standard === null) {
    return `must be ${SCHEMA_KINDS}; this object has neither \`safeParse\` (zod) nor \`~standard\` (Standard Schema). Check that the validator library supports Standard Schema v1`;
  }
  const version: unknown = Reflect.get(standard, "version");
  const vendor: unknown = Reflect.get(standard, "vendor");
  const from = typeof vendor === "string" ? ` (vendor "${vendor}")` : "";
  if (version !== 1) {
    return `is a Standard Schema of version ${String(version)}${from}, but only version 1 is supported. Use a release of the validator that implements Standard Schema v1`;
  }
  if (typeof Reflect.get(standard, "validate") !== "function") {
    return `is a Standard Schema v1 object${from} without a \`~standard.validate\` function (a type-only Standard Typed object cannot check messages). Pass the validator's schema itself`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Publish-subscribe topics

/** The declared topics of a topic contract, each with the schema of its payload. */
export type TopicMap = { readonly [topic: string]: Schema };

/** A publish-subscribe contract made by {@link defineTopics}. */
export interface TopicContract<TTopics extends TopicMap = TopicMap> {
  /** Always `"topics"`. */
  readonly kind: "topics";
  /** Contract name and version, for example `sports.v1`; used in errors and logs. */
  readonly name: string;
  /** The declared topics and their payload schemas. */
  readonly topics: TTopics;
}

/** The declared topic names of a contract (the keys, such as `"football"`). */
export type TopicName<TContract extends TopicContract> = keyof TContract["topics"] & string;

/**
 * Every wire topic a contract covers: each declared topic `K` covers `K` itself and `K.<anything>`
 * (so `football` covers `football.Arsenal`).
 */
export type WireTopic<TContract extends TopicContract> = {
  [K in TopicName<TContract>]: K | `${K}.${string}`;
}[TopicName<TContract>];

type MatchingTopics<TContract extends TopicContract, TTopic extends string> = {
  [K in TopicName<TContract>]: TTopic extends K | `${K}.${string}` ? K : never;
}[TopicName<TContract>];

type Longest<TMatches extends string> = {
  [K in TMatches]: [Extract<Exclude<TMatches, K>, `${K}.${string}`>] extends [never] ? K : never;
}[TMatches];

/** The declared topic whose schema checks wire topic `TTopic`: the longest declared topic that prefixes it. */
export type ResolveTopic<TContract extends TopicContract, TTopic extends string> = Longest<MatchingTopics<TContract, TTopic>>;

/** What `publish(topic, …)` accepts for wire topic `TTopic`: the input type of its declared topic's schema. */
export type InferPublish<TContract extends TopicContract, TTopic extends string> = InputOf<
  TContract["topics"][ResolveTopic<TContract, TTopic>]
>;

/** The payload subscribers receive for declared topic `TName`: its schema's output type. */
export type InferTopicData<TContract extends TopicContract, TName extends TopicName<TContract>> = OutputOf<
  TContract["topics"][TName]
>;

/**
 * One message a `Subscriber` yields. `declared` (the declared topic that matched) narrows `data`:
 * `if (msg.declared === "football") msg.data.team`.
 */
export type TopicMessage<TContract extends TopicContract> = {
  [K in TopicName<TContract>]: {
    /** The topic as it travelled on the wire, for example `football.Arsenal`. */
    readonly topic: K | `${K}.${string}`;
    /** The declared topic whose schema validated `data`, for example `football`. */
    readonly declared: K;
    /** The payload, parsed by the declared topic's schema. */
    readonly data: OutputOf<TContract["topics"][K]>;
  };
}[TopicName<TContract>];

const TOPIC_NAME = /^[^\s.]+(\.[^\s.]+)*$/u;

function checkName(kind: string, name: string): void {
  if (typeof name !== "string" || name.trim().length === 0) {
    throw new InvalidArgumentError(`${kind}: \`name\` must be a non-empty string such as "sports.v1".`);
  }
}

/**
 * Defines a publish-subscribe contract: the declared topics and the schema of each one's payload.
 *
 * Topics are dot-separated. A declared topic `football` covers the wire topics `football` and `football.<anything>`
 * (`football.Arsenal`); a message is checked by the schema of the longest declared topic that prefixes its wire
 * topic at a dot.
 *
 * @param name - Contract name with a version, for example `"sports.v1"`.
 * @param topics - For each declared topic, the schema of its payload (zod or Standard Schema; an asynchronous check
 *   keeps publish and delivery order, at the cost described for {@link defineRpc}). Topic names are UTF-8 without spaces, and
 *   neither start nor end with a dot nor contain `..`.
 * @throws TypeError when the name, a topic or a schema is not usable.
 * @example
 * ```ts
 * const Sports = defineTopics("sports.v1", {
 *   football: z.object({ team: z.string(), event: z.enum(["goal", "red card"]), minute: z.number().int() }),
 * });
 * ```
 */
export function defineTopics<const TTopics extends TopicMap>(name: string, topics: TTopics): TopicContract<TTopics> {
  checkName("defineTopics", name);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
  if (typeof topics !== "object" || topics === null || Object.keys(topics).length === 0) {
    throw new InvalidArgumentError(
      `defineTopics("${name}"): \`topics\` must be an object with at least one topic and its schema.`,
    );
  }
  for (const [topic, schema] of Object.entries(topics)) {
    if (!TOPIC_NAME.test(topic)) {
      throw new InvalidArgumentError(
        `defineTopics("${name}"): topic "${topic}" is not allowed; use dot-separated words without spaces, such as "football" or "football.scores".`,
      );
    }
    const problem = schemaProblem(schema);
    if (problem !== undefined) {
      throw new InvalidArgumentError(`defineTopics("${name}"): the schema of topic "${topic}" ${problem}.`);
    }
  }
  return Object.freeze({ kind: "topics" as const, name, topics: Object.freeze({ ...topics }) });
}

// ---------------------------------------------------------------------------------------------------------------
// Pipelines

/** A pipeline contract made by {@link defineJobs}: the task schema and the result schema. */
export interface JobContract<TTask extends Schema = Schema, TResult extends Schema = Schema> {
  /** Always `"jobs"`. */
  readonly kind: "jobs";
  /** Contract name and version, for example `tasks.v1`. */
  readonly name: string;
  /** Schema of the tasks a source pushes and workers run. */
  readonly task: TTask;
  /** Schema of the results workers push to the sink. */
  readonly result: TResult;
}

/** What a source pushes: the task schema's input type. */
export type InferTask<TContract extends JobContract> = InputOf<TContract["task"]>;
/** What a worker's handler receives: the task schema's output type. */
export type InferHandlerTask<TContract extends JobContract> = OutputOf<TContract["task"]>;
/** What a worker's handler returns: the result schema's input type. */
export type InferHandlerResult<TContract extends JobContract> = InputOf<TContract["result"]>;
/** What the sink receives: the result schema's output type. */
export type InferResult<TContract extends JobContract> = OutputOf<TContract["result"]>;

/**
 * Defines a pipeline contract, shared by the source, the workers and the sink.
 *
 * @param name - Contract name with a version, for example `"tasks.v1"`.
 * @param schemas - `task`: what the source sends to workers; `result`: what workers send to the sink. Each is a zod
 *   or Standard Schema schema; an asynchronous check keeps push and task order, at the cost described for
 *   {@link defineRpc}.
 * @throws TypeError when the name or a schema is not usable.
 * @example
 * ```ts
 * const Tasks = defineJobs("tasks.v1", {
 *   task: z.object({ id: z.number().int(), workMs: z.number().int() }),
 *   result: z.object({ id: z.number().int(), worker: z.string() }),
 * });
 * ```
 */
export function defineJobs<const TTask extends Schema, const TResult extends Schema>(
  name: string,
  schemas: { readonly task: TTask; readonly result: TResult },
): JobContract<TTask, TResult> {
  checkName("defineJobs", name);
  for (const part of ["task", "result"] as const) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
    const problem = schemaProblem(schemas?.[part]);
    if (problem !== undefined) throw new InvalidArgumentError(`defineJobs("${name}"): \`${part}\` ${problem}.`);
  }
  return Object.freeze({ kind: "jobs" as const, name, task: schemas.task, result: schemas.result });
}

/**
 * The one validation option of every sending class (`Publisher`, `RpcClient` for its requests, `RpcServer` for its
 * replies, `PipelineSource`, `PipelineWorker` for its results).
 */
export interface ValidationOptions {
  /**
   * Check this side's **outgoing** messages against the contract before they are sent. `false` skips that check,
   * for senders whose TypeScript types already guarantee the shape (the sender's own code builds every message):
   * the value is encoded and sent as given, and a bad one is not caught here but refused by the receiver, whose
   * check of **incoming** messages always runs and cannot be turned off. The value sent is the same either way (the
   * caller's value, never the schema's parsed output), so good messages travel byte for byte as with the check.
   *
   * A boolean named after the one check it switches, rather than `validate: "both" | "incoming"`: tRPC validates
   * inputs always and outputs only when asked, and a zod user parses at trust boundaries; here the boundary that
   * always parses is the receiver, and there is no value of this option that switches the receiver's check off.
   * The word matches `ContractValidationError.direction` (`"outgoing"`).
   *
   * The cost it saves is one schema check per message (about 0.1 to 0.2 µs for a small zod object, several µs for
   * a large one; see the README's Performance section). What is lost: a bad message fails at the receiver (as an
   * error reply, a dropped message or a rejected task there) instead of at the call that sent it.
   * @defaultValue true: validate outgoing messages too
   */
  readonly validateOutgoing?: boolean;
}
