/**
 * @packageDocumentation
 * The one validation seam: {@link validatorOf} turns a contract schema (zod 4 or any Standard Schema v1 validator)
 * into one function, `(value) => Validation | Promise<Validation>`, that every class calls. {@link InOrder} keeps
 * the order of messages whose checks may finish asynchronously.
 *
 * zod keeps its synchronous fast path (`safeParse`, no promise and no object of ours per message); a zod schema with
 * an async refinement, which `safeParse` refuses, falls back to `safeParseAsync` from then on. Other vendors go
 * through `~standard.validate`, which may return a promise. Failures are converted to plain issues with paths only
 * when they happen.
 * @internal
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import * as z from "zod";
import type { Schema } from "../contract.js";
import type { ValidationIssue } from "../errors/index.js";
import type { OptionReader } from "./options.js";

/** A passed check: `value` is the schema's output. */
export interface ValidationSuccess {
  readonly ok: true;
  readonly value: unknown;
}

/** A failed check: plain issues (with paths), the issues as readable text, and the validator's own error. */
export interface ValidationFailure {
  readonly ok: false;
  readonly issues: ValidationIssue[];
  /** One issue per line, `✖ message` then `→ at path` (zod's `prettifyError` for zod schemas). */
  readonly pretty: string;
  /** The zod error, or the Standard Schema failure result. */
  readonly cause: unknown;
}

/** The result of one check. */
export type Validation = ValidationSuccess | ValidationFailure;

/**
 * Checks one value. A synchronous result may be a reused object: read `value` before the next call of the same
 * validator (every caller does so at once). A promise comes from an asynchronous validator and never rejects.
 */
export type Validator = (value: unknown) => Validation | Promise<Validation>;

const validators = new WeakMap<object, Validator>();

/** True for a zod schema: one with zod's `safeParse` (also from another copy of zod), which takes zod's paths. */
export function isZodSchema(schema: Schema): schema is z.ZodType {
  return schema instanceof z.ZodType || typeof Reflect.get(schema, "safeParse") === "function";
}

/** The validator of `schema`, made once per schema (cached). Resolve it once per method or topic, not per message. */
export function validatorOf(schema: Schema): Validator {
  let validator = validators.get(schema);
  if (validator === undefined) {
    validator = isZodSchema(schema) ? zodValidator(schema) : standardValidator(schema);
    validators.set(schema, validator);
  }
  return validator;
}

/** The validator of every schema in a map (the topics of a contract), resolved once. */
export function validatorsOf(schemas: { readonly [name: string]: Schema }): ReadonlyMap<string, Validator> {
  return new Map(Object.entries(schemas).map(([name, schema]) => [name, validatorOf(schema)]));
}

/** The success object of {@link unchecked}, reused: its value is read at once by every caller. */
const passed: Reused = { ok: true, value: undefined };

/** The check used with `validateOutgoing: false`: every value passes as it is, synchronously, with no allocation. */
const unchecked: Validator = (value) => {
  passed.value = value;
  return passed;
};

/**
 * The check of a sender's outgoing messages of `schema`: its validator, or with `validateOutgoing: false` one that
 * passes every value unchecked. Resolve it once per method or topic, not per message.
 */
export function outgoingValidator(schema: Schema, validateOutgoing: boolean): Validator {
  return validateOutgoing ? validatorOf(schema) : unchecked;
}

/** {@link outgoingValidator} for every schema in a map (the topics of a contract), resolved once. */
export function outgoingValidators(
  schemas: { readonly [name: string]: Schema },
  validateOutgoing: boolean,
): ReadonlyMap<string, Validator> {
  return validateOutgoing ? validatorsOf(schemas) : new Map(Object.keys(schemas).map((name) => [name, unchecked]));
}

/** Reads `validateOutgoing` (ValidationOptions), the same way for every sending class. */
export function readValidateOutgoing(read: OptionReader): boolean {
  return read.flag("validateOutgoing", true);
}

/** A success object reused by one synchronous validator: no allocation per message on the fast path. */
interface Reused {
  readonly ok: true;
  value: unknown;
}

function zodValidator(schema: z.ZodType): Validator {
  const success: Reused = { ok: true, value: undefined };
  let async = false;
  const fromResult = (result: z.ZodSafeParseResult<unknown>): Validation =>
    result.success ? { ok: true, value: result.data } : zodFailure(result.error);
  return (value) => {
    if (!async) {
      try {
        const result = schema.safeParse(value);
        if (!result.success) return zodFailure(result.error);
        success.value = result.data;
        return success;
      } catch (err) {
        // zod refuses a synchronous parse of a schema with an async refinement or transform: from now on, go async.
        if (!isZodAsyncError(err)) return thrownFailure(err, "zod");
        async = true;
      }
    }
    return schema.safeParseAsync(value).then(fromResult, (err: unknown) => thrownFailure(err, "zod"));
  };
}

/** zod's refusal of a synchronous parse; by message too, for a second copy of zod whose class differs. */
function isZodAsyncError(err: unknown): boolean {
  return (
    err instanceof z.core.$ZodAsyncError ||
    (err instanceof Error && err.message.startsWith("Encountered Promise during synchronous parse"))
  );
}

function standardValidator(schema: StandardSchemaV1): Validator {
  const standard = schema["~standard"];
  const vendor = standard.vendor;
  const success: Reused = { ok: true, value: undefined };
  const fromResult = (result: StandardSchemaV1.Result<unknown>): Validation =>
    result.issues === undefined ? { ok: true, value: result.value } : standardFailure(result);
  return (value) => {
    let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
    try {
      result = standard.validate(value);
    } catch (err) {
      return thrownFailure(err, vendor);
    }
    if (result instanceof Promise) return result.then(fromResult, (err: unknown) => thrownFailure(err, vendor));
    if (result.issues !== undefined) return standardFailure(result);
    success.value = result.value;
    return success;
  };
}

function zodFailure(error: z.ZodError): ValidationFailure {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map((key) => (typeof key === "number" ? key : String(key))),
    code: issue.code,
    message: issue.message,
  }));
  return { ok: false, issues, pretty: z.prettifyError(error), cause: error };
}

function standardFailure(result: StandardSchemaV1.FailureResult): ValidationFailure {
  const issues = Array.from(result.issues, (issue): ValidationIssue => {
    // Array.from, not map: a vendor's path may be an array subclass with extra fields (arktype's), not plain JSON.
    const path = Array.from(issue.path ?? [], (segment) => {
      const key = typeof segment === "object" ? segment.key : segment;
      return typeof key === "number" ? key : String(key);
    });
    return { path, code: vendorCode(issue), message: issue.message };
  });
  return { ok: false, issues, pretty: prettify(issues), cause: result };
}

/** The vendor's own code for an issue when it has one (arktype's `code`, valibot's `type`), else `invalid`. */
function vendorCode(issue: StandardSchemaV1.Issue): string {
  const code: unknown = Reflect.get(issue, "code") ?? Reflect.get(issue, "type");
  return typeof code === "string" ? code : "invalid";
}

/** The validator itself threw (a bug in a custom check): reported as one issue at the root, never thrown on. */
function thrownFailure(err: unknown, vendor: string): ValidationFailure {
  const message = `the ${vendor} validator threw: ${err instanceof Error ? err.message : String(err)}`;
  const issues = [{ path: [], code: "validator_threw", message }];
  return { ok: false, issues, pretty: prettify(issues), cause: err };
}

/** Issues as lines in zod's `prettifyError` layout: `✖ message`, then `  → at a.b[0]`. */
export function prettify(issues: readonly ValidationIssue[]): string {
  return issues
    .map((issue) => {
      const at = issue.path.map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? key : `.${key}`)).join("");
      return at === "" ? `✖ ${issue.message}` : `✖ ${issue.message}\n  → at ${at}`;
    })
    .join("\n");
}

/**
 * A result that may be read later: a synchronous success is copied out of its validator's reused object (which the
 * next check of the same validator overwrites). Call it on whatever is handed to {@link InOrder.after}.
 */
export function detached(checked: Validation | Promise<Validation>): Validation | Promise<Validation> {
  return checked instanceof Promise || !checked.ok ? checked : { ok: true, value: checked.value };
}

/**
 * Keeps messages in order when some checks finish asynchronously. While nothing is waiting, callers take their
 * synchronous path (`busy` is false); once one check returned a promise, every later message of this stream goes
 * through {@link InOrder.after}, so each continues only after the ones before it, in the order they came.
 */
export class InOrder {
  #tail: Promise<void> | undefined;
  #waiting = 0;

  /** True while a message waits for an asynchronous check: the next message must wait too. */
  get busy(): boolean {
    return this.#waiting > 0;
  }

  /**
   * Runs `then` with the result of `pending` once every message queued before it has run its own `then`. `then` is
   * called in queue order; the returned promise settles with what `then` returns (its rejection included).
   */
  after<TValue, TResult>(
    pending: TValue | Promise<TValue>,
    then: (value: TValue) => TResult | Promise<TResult>,
  ): Promise<TResult> {
    this.#waiting++;
    const previous = this.#tail;
    let outcome!: Promise<TResult>;
    const run = (next: () => TResult | Promise<TResult>): void => {
      if (--this.#waiting === 0) this.#tail = undefined;
      try {
        outcome = Promise.resolve(next());
      } catch (err) {
        outcome = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const base = previous === undefined ? Promise.resolve(pending) : previous.then(() => pending);
    const started = base.then(
      (value) => run(() => then(value)),
      (err: unknown) =>
        run(() => {
          throw err;
        }),
    );
    this.#tail = started;
    return started.then(() => outcome);
  }

  /** Resolves once every message queued so far has run its `then` (at once when none waits); never rejects. */
  idle(): Promise<void> {
    return this.#tail ?? Promise.resolve();
  }
}
