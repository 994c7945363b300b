/**
 * @packageDocumentation
 * Option resolution, written once for every pattern class: a factory turns the user's options into a FROZEN config
 * object *before any socket exists*, so that bad options throw without leaving anything open. Every message names
 * its owner and the option, for example: Publisher.bind: `batch.maxMessages` must be a positive integer, got 0.
 *
 * Use:
 * ```ts
 * const config = resolveOptions("Publisher.bind", options, (read) => ({
 *   codec: read.codec("codec"),
 *   lingerMs: read.nonNegativeMs("lingerMs", 1_000),
 *   sendHighWaterMark: read.positiveInt("sendHighWaterMark", 1000),
 *   noDrop: read.flag("noDrop", false),
 *   onSubscription: read.hook<(event: SubscriptionEvent) => void>("onSubscription"),
 *   batch: read.nested("batch", (batch) => ({ maxMessages: batch.positiveInt("maxMessages", 256) })),
 * }));
 * // config is Readonly and Object.isFrozen(config) === true; then create the sockets from it.
 * ```
 * Misuse throws `TypeError` (wrong type) or `RangeError` (out of range), synchronously.
 * @internal
 */
import { InvalidArgumentError, OutOfRangeError } from "../errors/index.js";
import { jsonCodec, type Codec } from "../codec.js";
import { checkCodec } from "./codec-io.js";

/** Returns `value` (or `fallback` when undefined) after checking it is a positive integer. */
export function checkPositiveInt(value: number | undefined, fallback: number, option: string, owner: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new OutOfRangeError(`${owner}: \`${option}\` must be a positive integer, got ${String(value)}.`);
  }
  return value;
}

/** Returns `value` (or `fallback` when undefined) after checking it is a finite number of milliseconds \>= 0. */
export function checkNonNegative(value: number | undefined, fallback: number, option: string, owner: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new OutOfRangeError(`${owner}: \`${option}\` must be a number of milliseconds >= 0, got ${String(value)}.`);
  }
  return value;
}

/**
 * Reads the options of one owner. Each method takes the option's key in the options object (a nested reader's
 * messages name the full path, `batch.maxMessages`) and returns the checked value or the fallback.
 * @internal
 */
export class OptionReader {
  /** Who is being configured, for messages: `Publisher.bind`. */
  readonly owner: string;
  readonly #options: object;
  readonly #path: string;

  /** @param options - The user's options object (already checked to be an object). */
  constructor(owner: string, options: object, path = "") {
    this.owner = owner;
    this.#options = options;
    this.#path = path;
  }

  /** The full name of an option, for messages: `batch.maxMessages`. */
  name(key: string): string {
    return this.#path + key;
  }

  /** The raw value of an option, unchecked (for options a class checks itself). */
  raw(key: string): unknown {
    return Reflect.get(this.#options, key);
  }

  /** A positive integer (a count, a high-water mark). */
  positiveInt(key: string, fallback: number): number {
    return checkPositiveInt(this.#number(key), fallback, this.name(key), this.owner);
  }

  /** A positive integer, or undefined when absent. */
  optionalPositiveInt(key: string): number | undefined {
    const value = this.#number(key);
    return value === undefined ? undefined : checkPositiveInt(value, 0, this.name(key), this.owner);
  }

  /** A finite number of milliseconds \>= 0 (a linger, a drain timeout). */
  nonNegativeMs(key: string, fallback: number): number {
    return checkNonNegative(this.#number(key), fallback, this.name(key), this.owner);
  }

  /** A boolean. */
  flag(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") throw this.#typeError(key, "true or false", value);
    return value;
  }

  /** One of a few strings. */
  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
      throw this.#typeError(key, `one of ${choices.map((c) => `"${c}"`).join(", ")}`, value);
    }
    return value as T; // checked just above
  }

  /** A non-empty string, or undefined when absent. */
  optionalString(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.length === 0) throw this.#typeError(key, "a non-empty string", value);
    return value;
  }

  /** A user callback (`onError`, `onDrop`), or undefined when absent. The caller names its type. */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the callback's type
  hook<F extends (...args: never[]) => unknown>(key: string): F | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== "function") throw this.#typeError(key, "a function", value);
    return value as F; // a function: its parameters are the caller's declared hook type
  }

  /** A body codec; {@link jsonCodec} when absent. */
  codec(key = "codec"): Codec {
    const value = this.raw(key);
    if (value === undefined) return jsonCodec;
    try {
      return checkCodec(value, this.name(key));
    } catch (err) {
      throw new InvalidArgumentError(`${this.owner}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * A nested options object (`batch: { maxMessages }`), read by `read`. `true` means "on, with the defaults" (read
   * from an empty object); `false` and undefined mean off (undefined is returned). The result is frozen.
   */
  nested<T extends object>(key: string, read: (reader: OptionReader) => T): Readonly<T> | undefined {
    const value = this.raw(key);
    if (value === undefined || value === false) return undefined;
    const inner = value === true ? {} : value;
    if (typeof inner !== "object" || inner === null || Array.isArray(inner)) {
      throw this.#typeError(key, "an options object, true or false", value);
    }
    return Object.freeze(read(new OptionReader(this.owner, inner, `${this.name(key)}.`)));
  }

  /** A TypeError naming the owner and the option, for example: Publisher.bind: `noDrop` must be true or false, got "yes". */
  fail(key: string, expected: string, got: unknown): TypeError {
    return this.#typeError(key, expected, got);
  }

  /** The raw value for the numeric checkers, which refuse anything that is not a number in range themselves. */
  #number(key: string): number | undefined {
    return this.raw(key) as number | undefined; // checked by checkPositiveInt / checkNonNegative
  }

  #typeError(key: string, expected: string, got: unknown): TypeError {
    return new InvalidArgumentError(`${this.owner}: \`${this.name(key)}\` must be ${expected}, got ${describe(got)}.`);
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- only primitives (and functions) reach String() here
  return typeof value === "object" ? "an object" : String(value);
}

/**
 * Resolves `options` (undefined or an object) into a frozen config with `build`. Call it before creating any socket:
 * whatever it throws leaves nothing open.
 * @throws `TypeError` when `options` is not an object, or for an option of the wrong type; `RangeError` for an
 *   option out of range. Messages start with `owner`.
 * @internal
 */
export function resolveOptions<TConfig extends object>(
  owner: string,
  options: unknown,
  build: (read: OptionReader) => TConfig,
): Readonly<TConfig> {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new InvalidArgumentError(`${owner}: \`options\` must be an object, got ${describe(options)}.`);
  }
  return Object.freeze(build(new OptionReader(owner, options ?? {})));
}
