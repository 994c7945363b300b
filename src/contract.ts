/**
 * @packageDocumentation
 * Message contracts: zod schemas written once and shared by both ends, with the types inferred from them.
 *
 * Depends on zod (a peer dependency) and `errors.ts`. `defineRpc` makes an RPC contract; the `Infer*` helpers give the
 * types each side sees (callers pass `z.input` and receive `z.output`; handlers the other way round).
 */
import * as z from "zod";
import { ContractValidationError, type ValidationIssue } from "./errors.js";

/** Request and response schemas of one RPC method. */
export interface MethodSchemas<TRequest extends z.ZodType = z.ZodType, TResponse extends z.ZodType = z.ZodType> {
  /** Schema of what the caller sends. */
  readonly request: TRequest;
  /** Schema of what the handler answers. */
  readonly response: TResponse;
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
export type InferRequest<TContract extends RpcContract, TMethod extends MethodName<TContract>> = z.input<
  MethodOf<TContract, TMethod>["request"]
>;
/** What a handler receives: the request schema's output type (after parsing). */
export type InferHandlerRequest<TContract extends RpcContract, TMethod extends MethodName<TContract>> = z.output<
  MethodOf<TContract, TMethod>["request"]
>;
/** What a handler returns: the response schema's input type. */
export type InferHandlerResponse<TContract extends RpcContract, TMethod extends MethodName<TContract>> = z.input<
  MethodOf<TContract, TMethod>["response"]
>;
/** What a caller receives from `call(method, …)`: the response schema's output type. */
export type InferResponse<TContract extends RpcContract, TMethod extends MethodName<TContract>> = z.output<
  MethodOf<TContract, TMethod>["response"]
>;

const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]{0,199}$/;

/**
 * Defines an RPC contract once, for both client and server.
 *
 * @param name - Contract name with a version, for example `"orders.v1"`. Shown in errors and logs.
 * @param methods - For each method name, a zod `request` and `response` schema. Method names travel on the wire as
 *   UTF-8: they must start with a letter or `_` and use letters, digits, `_ . : / -` (at most 200 characters).
 * @returns The contract, typed by its methods.
 * @throws TypeError when the name, a method name or a schema is not usable.
 * @example
 * const Greeter = defineRpc("greeter.v1", {
 *   hello: { request: z.object({ name: z.string() }), response: z.object({ greeting: z.string() }) },
 * });
 */
export function defineRpc<const TMethods extends MethodMap>(name: string, methods: TMethods): RpcContract<TMethods> {
  if (typeof name !== "string" || name.trim().length === 0) {
    throw new TypeError('defineRpc: `name` must be a non-empty string such as "orders.v1".');
  }
  if (typeof methods !== "object" || methods === null) {
    throw new TypeError(`defineRpc("${name}"): \`methods\` must be an object of { request, response } schemas.`);
  }
  const names = Object.keys(methods);
  if (names.length === 0) {
    throw new TypeError(`defineRpc("${name}"): the contract declares no methods; add at least one.`);
  }
  for (const method of names) {
    if (!METHOD_NAME.test(method)) {
      throw new TypeError(
        `defineRpc("${name}"): method name "${method}" is not allowed; use a letter or _ first, then letters, digits or _ . : / - (max 200).`,
      );
    }
    const entry = methods[method];
    for (const part of ["request", "response"] as const) {
      if (!isZodSchema(entry?.[part])) {
        throw new TypeError(`defineRpc("${name}"): \`${method}.${part}\` must be a zod schema (zod 4), for example z.object({...}).`);
      }
    }
  }
  return Object.freeze({ kind: "rpc" as const, name, methods: Object.freeze({ ...methods }) });
}

function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === "object" && value !== null && typeof Reflect.get(value, "safeParse") === "function";
}

/**
 * True when `method` is declared by the contract (an own property, so `toString` and friends never match).
 * @internal
 */
export function hasMethod<TContract extends RpcContract>(contract: TContract, method: string): method is MethodName<TContract> {
  return Object.prototype.hasOwnProperty.call(contract.methods, method);
}

/**
 * Converts zod issues to plain, JSON-safe issues.
 * @internal
 */
export function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((key) => (typeof key === "number" ? key : String(key))),
    code: issue.code,
    message: issue.message,
  }));
}

/** What {@link checkPayload} is checking, for the error message. @internal */
export interface PayloadPlace {
  readonly direction: "outgoing" | "incoming";
  readonly contract: string;
  readonly method: string;
  /** For example `Request to` or `Reply from`. */
  readonly what: string;
  /** For example `request` or `response`. */
  readonly schema: string;
  /** What to do about it. */
  readonly hint: string;
}

/**
 * Parses `value` with `schema`; returns the parsed output or throws a {@link ContractValidationError}.
 * @internal
 */
export function checkPayload(schema: z.ZodType, value: unknown, place: PayloadPlace): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ContractValidationError(
    `${place.what} "${place.contract}/${place.method}" does not match the ${place.schema} schema:\n` +
      `${z.prettifyError(result.error)}\n${place.hint}`,
    { issues: toIssues(result.error), direction: place.direction, contract: place.contract, method: place.method },
    { cause: result.error },
  );
}
