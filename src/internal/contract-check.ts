/**
 * @packageDocumentation
 * Checking messages against a contract: method lookup, the errors that say where a payload failed its schema (the
 * check itself is `internal/validator.ts`), and the declared topic that governs a wire topic.
 */
import type { MethodName, RpcContract, TopicContract } from "../contract.js";
import { ContractValidationError, type ValidationIssue } from "../errors/index.js";
import type { ValidationFailure } from "./validator.js";

/**
 * True when `method` is declared by the contract (an own property, so `toString` and friends never match).
 */
export function hasMethod<TContract extends RpcContract>(contract: TContract, method: string): method is MethodName<TContract> {
  return Object.prototype.hasOwnProperty.call(contract.methods, method);
}

/**
 * One line listing issues as `path: message`, for drop reports.
 */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Where a payload was checked, for the error message. */
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
 * The {@link ContractValidationError} for a failed check at `place`.
 */
export function validationError(failure: ValidationFailure, place: PayloadPlace): ContractValidationError {
  return new ContractValidationError(
    `${place.what} "${place.contract}/${place.method}" does not match the ${place.schema} schema:\n` +
      `${failure.pretty}\n${place.hint}`,
    { issues: failure.issues, direction: place.direction, contract: place.contract, method: place.method },
    { cause: failure.cause },
  );
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
