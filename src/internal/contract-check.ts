/**
 * @packageDocumentation
 * Checking messages against a contract: method lookup, payload validation with errors that say where, zod issues
 * in plain form, and the declared topic that governs a wire topic.
 */
import * as z from "zod";
import type { MethodName, RpcContract, TopicContract } from "../contract.js";
import { ContractValidationError, type ValidationIssue } from "../errors/index.js";

/**
 * True when `method` is declared by the contract (an own property, so `toString` and friends never match).
 */
export function hasMethod<TContract extends RpcContract>(contract: TContract, method: string): method is MethodName<TContract> {
  return Object.prototype.hasOwnProperty.call(contract.methods, method);
}

/**
 * Converts zod issues to plain, JSON-safe issues.
 */
export function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((key) => (typeof key === "number" ? key : String(key))),
    code: issue.code,
    message: issue.message,
  }));
}

/**
 * One line listing issues as `path: message`, for drop reports.
 */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** What {@link checkPayload} is checking, for the error message. */
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
 * The {@link ContractValidationError} for a failed parse at `place`.
 */
export function validationError(error: z.ZodError, place: PayloadPlace): ContractValidationError {
  return new ContractValidationError(
    `${place.what} "${place.contract}/${place.method}" does not match the ${place.schema} schema:\n` +
      `${z.prettifyError(error)}\n${place.hint}`,
    { issues: toIssues(error), direction: place.direction, contract: place.contract, method: place.method },
    { cause: error },
  );
}

/**
 * Parses `value` with `schema`; returns the parsed output or throws a {@link ContractValidationError}.
 * Hot paths call `schema.safeParse` themselves and build the place only on failure.
 */
export function checkPayload(schema: z.ZodType, value: unknown, place: PayloadPlace): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationError(result.error, place);
}

/**
 * Finds the declared topic that governs a wire topic: the longest declared topic equal to it or followed by a dot.
 * Returns undefined for an undeclared topic.
 */
export function resolveTopic(contract: TopicContract, topic: string): string | undefined {
  let candidate = topic;
  for (;;) {
    if (Object.prototype.hasOwnProperty.call(contract.topics, candidate)) return candidate;
    const dot = candidate.lastIndexOf(".");
    if (dot <= 0) return undefined;
    candidate = candidate.slice(0, dot);
  }
}

/**
 * A cached {@link resolveTopic} for one contract: wire topic to declared topic (null when undeclared).
 */
export function topicResolver(contract: TopicContract): (topic: string) => string | null {
  const cache = new Map<string, string | null>();
  return (topic) => {
    let declared = cache.get(topic);
    if (declared === undefined) {
      declared = resolveTopic(contract, topic) ?? null;
      if (cache.size >= 1024) cache.clear();
      cache.set(topic, declared);
    }
    return declared;
  };
}
