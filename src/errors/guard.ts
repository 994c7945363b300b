/**
 * @packageDocumentation
 * The guard factory: one function makes every `isXxxError` guard, and remembers what it made them for, so that
 * `isTypedZmqError` recognises exactly the names of the classes that have a guard. Not part of the public barrel.
 */

/** How a guard recognises an error from another realm, where `instanceof` is false. */
interface ForeignMatch {
  /** The `name` values that identify the class: its own, then former names kept for compatibility. */
  readonly names: readonly string[];
  /** When set, a foreign object must also carry this `code` (the name alone is ambiguous, as for `TimeoutError`). */
  readonly code?: string;
}

const foreignMatches: ForeignMatch[] = [];

function fields(value: unknown): { readonly name?: unknown; readonly code?: unknown } {
  return typeof value === "object" && value !== null ? value : {};
}

function matches(value: unknown, match: ForeignMatch): boolean {
  const { name, code } = fields(value);
  return typeof name === "string" && match.names.includes(name) && (match.code === undefined || code === match.code);
}

/** Options of {@link errorGuard}. */
interface ErrorGuardOptions {
  /** A foreign object must also carry this code. */
  readonly code?: string;
  /** Former names of the class, still recognised on foreign objects. */
  readonly formerNames?: readonly string[];
}

/**
 * Makes the guard of one error class: true for an instance (`instanceof`), and for any object whose `name` is the
 * class name (or a former one) so that it also works across realms (a vm context, a worker's structured clone).
 */
export function errorGuard<T>(
  ctor: abstract new (...args: never[]) => T,
  name: string,
  options: ErrorGuardOptions = {},
): (err: unknown) => err is T {
  const match: ForeignMatch = {
    names: [name, ...(options.formerNames ?? [])],
    ...(options.code !== undefined && { code: options.code }),
  };
  foreignMatches.push(match);
  return (err: unknown): err is T => err instanceof ctor || matches(err, match);
}

/** True when `value` looks like one of the classes that have a guard, seen from another realm (with a string code). */
export function isForeignTypedZmqError(value: unknown): boolean {
  return typeof fields(value).code === "string" && foreignMatches.some((match) => matches(value, match));
}
