/**
 * @packageDocumentation
 * Calls a user's observation hook (`onError`, `onDrop`) so that nothing it throws reaches a read loop.
 * @internal
 */

/** Calls `hook` with `info` if it is set; anything it throws is ignored (a logging hook must not stop a socket). */
export function callHook<T>(hook: ((info: T) => void) | undefined, info: T): void {
  if (hook === undefined) return;
  try {
    hook(info);
  } catch {
    // Ignored on purpose: see above.
  }
}

/** True for a promise or any other object with a `then` method. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof Reflect.get(value, "then") === "function";
}
