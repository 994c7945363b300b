/**
 * @packageDocumentation
 * {@link UnrepresentableSchemaError}: a contract exported to JSON Schema holds a type that JSON Schema cannot
 * describe (a date, a bigint, a bare transform, a custom check, a Map, ...).
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** One place in a contract whose schema has no JSON Schema equivalent. */
export interface UnrepresentableSite {
  /** Contract name and version, for example `orders.v1`. */
  readonly contract: string;
  /** The message: an RPC method, a declared topic, or `task` / `result` of a pipeline. */
  readonly message: string;
  /** Which schema of the message: `request` or `response` (RPC), `payload` (topics), `task` or `result` (jobs). */
  readonly part: "request" | "response" | "payload" | "task" | "result";
  /** JSON Pointer into the message's JSON Schema, for example `/properties/at` (`""` for the whole schema). */
  readonly path: string;
  /** The zod type found there, for example `date`, `bigint`, `transform`, `custom`, `map`. */
  readonly type: string;
  /** zod's reason, for example `Date cannot be represented in JSON Schema`. */
  readonly reason: string;
}

/**
 * `toJsonSchema` or `toAsyncApi` met one or more types that JSON Schema cannot describe. Nothing is returned: a
 * document that silently said "anything" in their place would mislead the peers it is handed to.
 *
 * `sites` lists every such place (contract, message, part, JSON Pointer, zod type). What to do: describe what
 * travels on the wire (the input side), for example `z.iso.datetime()` instead of `z.date()`, or a `z.string()`
 * before a transform; or pass the `unrepresentable` option to supply a JSON Schema for each site.
 *
 * @example
 * ```ts
 * try { toJsonSchema(Events); } catch (err) { if (isUnrepresentableSchemaError(err)) console.error(err.sites); }
 * ```
 */
export class UnrepresentableSchemaError extends TypedZmqError {
  override readonly name = "UnrepresentableSchemaError";
  /** Always {@link ErrorCode}.UNREPRESENTABLE_SCHEMA. */
  readonly code = ErrorCode.UNREPRESENTABLE_SCHEMA;
  /** Contract name and version. */
  readonly contract: string;
  /** Every place that could not be represented, in the order met. */
  readonly sites: readonly UnrepresentableSite[];
  constructor(contract: string, sites: readonly UnrepresentableSite[], options?: TypedZmqErrorOptions) {
    const listed = sites.map((s) => `${s.message}.${s.part} at "${s.path || "/"}" is a ${s.type} (${s.reason})`);
    super(
      `Contract "${contract}" cannot be exported to JSON Schema: ${listed.join("; ")}. The export describes what ` +
        `travels on the wire (each schema's input side): use a representable type there (z.iso.datetime() instead ` +
        `of z.date(), a z.string() or z.number() before a transform, z.record() instead of z.map()), or pass ` +
        `{ unrepresentable: (site) => jsonSchema } to give the JSON Schema of each site yourself.`,
      errorOptions(options),
    );
    this.contract = contract;
    this.sites = Object.freeze([...sites]);
  }
}

/** True for an {@link UnrepresentableSchemaError}, also across realms. */
export const isUnrepresentableSchemaError = errorGuard(UnrepresentableSchemaError, "UnrepresentableSchemaError");
