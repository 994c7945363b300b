/**
 * @packageDocumentation
 * {@link toJsonSchema}: the JSON Schema of every message of a contract, for peers written in other languages.
 *
 * Built on zod 4's `z.toJSONSchema` with `io: "input"`: senders send the value they were given (after checking it),
 * and receivers parse it, so what travels on the wire is each schema's *input* side (a `z.string().transform(...)`
 * travels as a string; a field with a `.default()` may be left out). Types with no JSON Schema equivalent are
 * collected over the whole contract and reported together in one {@link UnrepresentableSchemaError}, unless the
 * `unrepresentable` option says what to put in their place.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import * as z from "zod";
import type { JobContract, RpcContract, Schema, TopicContract } from "../contract.js";
import { InvalidArgumentError, UnrepresentableSchemaError } from "../errors/index.js";
import { contractName } from "../internal/export-contract.js";
import { isZodSchema } from "../internal/validator.js";
import type { UnrepresentableSite } from "../errors/index.js";

/** A JSON Schema object, as zod 4 produces it (`z.core.JSONSchema.BaseSchema`). */
export type JsonSchema = z.core.JSONSchema.BaseSchema;

/** Any contract made by `defineRpc`, `defineTopics` or `defineJobs`. */
export type AnyContract = RpcContract | TopicContract | JobContract;

/**
 * Gives the JSON Schema to use at one site that JSON Schema cannot describe, or `undefined` to leave it an error.
 * It sees where the site is ({@link UnrepresentableSite}: contract, message, part, path, zod type), so one function
 * can serve several contracts.
 */
export type UnrepresentableHandler = (site: UnrepresentableSite) => JsonSchema | undefined;

/** Options of {@link toJsonSchema}. */
export interface JsonSchemaOptions {
  /**
   * The JSON Schema dialect. `draft-07` is the one AsyncAPI 3 schemas extend (`toAsyncApi` uses it).
   * @defaultValue "draft-2020-12"
   */
  readonly target?: "draft-2020-12" | "draft-07";
  /**
   * What to do with a type JSON Schema cannot describe (a date, a bigint, a bare transform, a custom check, a Map,
   * a Set, a symbol, a function, ...):
   * - `"throw"` (the default): collect every such site of the contract and throw one
   *   {@link UnrepresentableSchemaError} listing them;
   * - a function: called once per site with its {@link UnrepresentableSite}; it returns the JSON Schema of what the
   *   codec puts on the wire there (for example `{ type: "string", format: "date-time" }` for a date a custom codec
   *   sends as ISO text), or `undefined` to keep that site an error;
   * - `"any"`: put `{}` (any value) in their place. Prefer the function: `{}` tells a peer nothing, and a peer that
   *   trusts the document then sends values the receiver rejects.
   *
   * Usually the better fix is in the contract: describe what travels (`z.iso.datetime()` rather than `z.date()`).
   * @defaultValue "throw"
   */
  readonly unrepresentable?: "throw" | "any" | UnrepresentableHandler;
}

/** The JSON Schemas of one RPC method. */
export interface MethodJsonSchema {
  /** What a caller sends (the request schema's input side). */
  readonly request: JsonSchema;
  /** What a server answers with status `ok` (the response schema's input side). */
  readonly response: JsonSchema;
  /** The contract marks the method idempotent (it may be retried). */
  readonly idempotent: boolean;
}

/** The JSON Schemas of an RPC contract, by method. */
export interface RpcJsonSchema<TMethod extends string = string> {
  /** Always `"rpc"`. */
  readonly kind: "rpc";
  /** Contract name and version. */
  readonly contract: string;
  /** Each method's request and response schemas. */
  readonly methods: { readonly [K in TMethod]: MethodJsonSchema };
}

/** The JSON Schemas of a topic contract, by declared topic. */
export interface TopicsJsonSchema<TTopic extends string = string> {
  /** Always `"topics"`. */
  readonly kind: "topics";
  /** Contract name and version. */
  readonly contract: string;
  /** Each declared topic's payload schema (it covers the wire topics `<topic>` and `<topic>.<anything>`). */
  readonly topics: { readonly [K in TTopic]: JsonSchema };
}

/** The JSON Schemas of a pipeline contract. */
export interface JobsJsonSchema {
  /** Always `"jobs"`. */
  readonly kind: "jobs";
  /** Contract name and version. */
  readonly contract: string;
  /** What a source pushes to workers. */
  readonly task: JsonSchema;
  /** What workers push to the sink. */
  readonly result: JsonSchema;
}

/** What {@link toJsonSchema} returns for a contract of type `TContract`, keyed by its own method or topic names. */
export type ContractJsonSchema<TContract extends AnyContract> =
  TContract extends RpcContract<infer $Methods>
    ? RpcJsonSchema<keyof $Methods & string>
    : TContract extends TopicContract<infer $Topics>
      ? TopicsJsonSchema<keyof $Topics & string>
      : JobsJsonSchema;

/**
 * Gives the JSON Schema of every message of a contract: per method the request and the response (RPC), per
 * declared topic the payload (topics), or the task and the result (jobs).
 *
 * Each schema describes what travels on the wire: the input side of the zod schema (`io: "input"`), encoded by the
 * JSON codec. Metadata set with `.meta({ description })` is kept. The wire frames around the payloads are in
 * docs/protocol.md; `toAsyncApi` describes both.
 *
 * @param contract - A contract made by `defineRpc`, `defineTopics` or `defineJobs`.
 * @param options - `target` dialect and the `unrepresentable` policy.
 * @returns A plain, JSON-ready object, keyed like the contract.
 * @throws {@link UnrepresentableSchemaError} when a schema holds types JSON Schema cannot describe (every site is
 *   listed), unless `unrepresentable` supplies them.
 * @throws {@link InvalidArgumentError} when `contract` is not a contract.
 * @example
 * ```ts
 * const { methods } = toJsonSchema(Greeter);
 * console.log(JSON.stringify(methods.hello.request)); // {"$schema":…,"type":"object","properties":{"name":…}}
 * ```
 */
export function toJsonSchema<const TContract extends AnyContract>(
  contract: TContract,
  options: JsonSchemaOptions = {},
): ContractJsonSchema<TContract> {
  const converter = new Converter(contractName(contract, "toJsonSchema"), options);
  const result = converter.contract(contract);
  converter.finish();
  // The object built by `contract()` has exactly the keys of TContract: the conditional type cannot be checked by
  // the compiler inside a generic body, so this is the one cast.
  return result as ContractJsonSchema<TContract>;
}

/** Converts the schemas of one contract, collecting the unrepresentable sites. */
/** Whether the zod in use calls an `unrepresentable` function (probed once). */
let reportingZod: boolean | undefined;

/**
 * Refuses to export with a zod 4 release that does not call an `unrepresentable` function: such a release writes
 * `{}` (a schema that accepts anything) where a date, a bigint or a transform sits, and reports nothing, which is
 * the silently wrong document this export exists to prevent. Probed once with a `z.date()`.
 */
function requireReportingZod(): void {
  if (reportingZod === undefined) {
    try {
      const probe = z.toJSONSchema(z.date(), { unrepresentable: () => ({ type: "string" }) });
      reportingZod = probe.type === "string";
    } catch {
      reportingZod = false;
    }
  }
  if (!reportingZod) {
    throw new InvalidArgumentError(
      "toJsonSchema/toAsyncApi: the zod in use does not report the types JSON Schema cannot describe (it would write {} in their place, a schema that accepts anything). Upgrade zod (npm install zod@^4.6.7; 4.6.7 is known to work).",
    );
  }
}

class Converter {
  readonly #name: string;
  readonly #options: JsonSchemaOptions;
  readonly #sites: UnrepresentableSite[] = [];

  constructor(name: string, options: JsonSchemaOptions) {
    this.#name = name;
    this.#options = options;
  }

  contract(contract: AnyContract): RpcJsonSchema | TopicsJsonSchema | JobsJsonSchema {
    const name = this.#name;
    switch (contract.kind) {
      case "rpc": {
        const methods: Record<string, MethodJsonSchema> = {};
        for (const [method, schemas] of Object.entries(contract.methods)) {
          methods[method] = {
            request: this.schema(schemas.request, method, "request"),
            response: this.schema(schemas.response, method, "response"),
            idempotent: schemas.idempotent === true,
          };
        }
        return { kind: "rpc", contract: name, methods };
      }
      case "topics": {
        const topics: Record<string, JsonSchema> = {};
        for (const [topic, schema] of Object.entries(contract.topics)) topics[topic] = this.schema(schema, topic, "payload");
        return { kind: "topics", contract: name, topics };
      }
      case "jobs":
        return {
          kind: "jobs",
          contract: name,
          task: this.schema(contract.task, "task", "task"),
          result: this.schema(contract.result, "result", "result"),
        };
    }
  }

  schema(schema: Schema, message: string, part: UnrepresentableSite["part"]): JsonSchema {
    const policy = this.#options.unrepresentable ?? "throw";
    if (policy !== "throw" && policy !== "any" && typeof policy !== "function") {
      throw new InvalidArgumentError(
        `toJsonSchema: \`unrepresentable\` must be "throw", "any" or a function (site) => JSON Schema, got ${String(policy)}.`,
      );
    }
    if (!isZodSchema(schema)) return this.#standard(schema, message, part, policy);
    requireReportingZod();
    try {
      return z.toJSONSchema(schema, {
        io: "input",
        target: this.#options.target ?? "draft-2020-12",
        unrepresentable:
          policy === "any"
            ? "any"
            : (ctx) => {
                const site: UnrepresentableSite = {
                  contract: this.#name,
                  message,
                  part,
                  path: jsonPointer(ctx.path),
                  type: zodTypeName(ctx.zodSchema),
                  reason: ctx.message,
                };
                const given = typeof policy === "function" ? policy(site) : undefined;
                if (given !== undefined) return given;
                this.#sites.push(site);
                return {};
              },
      });
    } catch (err) {
      throw new InvalidArgumentError(
        `toJsonSchema("${this.#name}"): zod could not convert the ${part} schema of "${message}" to JSON Schema ` +
          `(${err instanceof Error ? err.message : String(err)}). Check that it is a zod 4 schema.`,
        { cause: err },
      );
    }
  }

  /**
   * A Standard Schema validator: its Standard JSON Schema interface (`~standard.jsonSchema.input`) gives the input
   * side. A validator without one, or whose converter refuses, is one unrepresentable site for the whole schema.
   */
  #standard(
    schema: StandardSchemaV1,
    message: string,
    part: UnrepresentableSite["part"],
    policy: "throw" | "any" | UnrepresentableHandler,
  ): JsonSchema {
    const vendor = schema["~standard"].vendor;
    const converter: unknown = Reflect.get(schema["~standard"], "jsonSchema");
    const input: unknown = typeof converter === "object" && converter !== null ? Reflect.get(converter, "input") : undefined;
    let reason: string;
    if (typeof input === "function") {
      try {
        // A Standard JSON Schema converter returns a plain JSON Schema object (StandardJSONSchemaV1.Converter).
        const converted: unknown = Reflect.apply(input, converter, [{ target: this.#options.target ?? "draft-2020-12" }]);
        if (typeof converted === "object" && converted !== null) return converted as JsonSchema;
        reason = `its Standard JSON Schema converter returned ${typeof converted}, not a JSON Schema object`;
      } catch (err) {
        reason = `its Standard JSON Schema converter refused it (${err instanceof Error ? err.message : String(err)}); describe what travels on the wire with types JSON Schema has`;
      }
    } else {
      reason =
        `a ${vendor} schema has no Standard JSON Schema interface (~standard.jsonSchema), so it cannot be exported; ` +
        (vendor === "valibot"
          ? "wrap it with toStandardJsonSchema() from @valibot/to-json-schema"
          : "use a validator release that implements Standard JSON Schema (arktype does)") +
        ", or pass { unrepresentable } to give its JSON Schema";
    }
    const site: UnrepresentableSite = { contract: this.#name, message, part, path: "", type: `${vendor} schema`, reason };
    if (policy === "any") return {};
    const given = typeof policy === "function" ? policy(site) : undefined;
    if (given !== undefined) return given;
    this.#sites.push(site);
    return {};
  }

  /** Throws the collected sites, if any. */
  finish(): void {
    if (this.#sites.length > 0) throw new UnrepresentableSchemaError(this.#name, this.#sites);
  }
}

/** RFC 6901 JSON Pointer of a path into the generated schema. */
function jsonPointer(path: readonly (string | number)[]): string {
  return path.map((segment) => `/${String(segment).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/** The zod type's name (`date`, `bigint`, ...), read through the public `type` property of zod's classic schemas. */
function zodTypeName(schema: unknown): string {
  const type: unknown = schema instanceof z.ZodType ? schema.type : undefined;
  return typeof type === "string" ? type : "unrepresentable type";
}
