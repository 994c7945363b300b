/**
 * @packageDocumentation
 * Checks of numeric options, shared by the factories: misuse throws a RangeError naming the option.
 * @internal
 */
import { OutOfRangeError } from "../errors/index.js";

/** Returns `value` (or `fallback` when undefined) after checking it is a positive integer. */
export function checkPositiveInt(value: number | undefined, fallback: number, option: string, owner: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new OutOfRangeError(`${owner}: \`${option}\` must be a positive integer, got ${String(value)}.`);
  }
  return value;
}

/** Returns `value` (or `fallback` when undefined) after checking it is a finite number of milliseconds >= 0. */
export function checkNonNegative(value: number | undefined, fallback: number, option: string, owner: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new OutOfRangeError(`${owner}: \`${option}\` must be a number of milliseconds >= 0, got ${String(value)}.`);
  }
  return value;
}
