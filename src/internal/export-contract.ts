/**
 * @packageDocumentation
 * Run-time checks shared by the exporters (`export/json-schema.ts`, `export/asyncapi.ts`): callers may be untyped
 * JavaScript, so a contract argument is checked before it is read.
 */
import { InvalidArgumentError } from "../errors/index.js";

/** The contract's name, after checking at run time that it is a contract (callers may be untyped JavaScript). */
export function contractName(contract: unknown, owner: string): string {
  const kind: unknown = typeof contract === "object" && contract !== null ? Reflect.get(contract, "kind") : undefined;
  const name: unknown = typeof contract === "object" && contract !== null ? Reflect.get(contract, "name") : undefined;
  if ((kind !== "rpc" && kind !== "topics" && kind !== "jobs") || typeof name !== "string") {
    throw new InvalidArgumentError(
      `${owner}: expected a contract made by defineRpc, defineTopics or defineJobs, got ${describe(contract)}.`,
    );
  }
  return name;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object without `kind` and `name`" : typeof value;
}
