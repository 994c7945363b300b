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
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof Reflect.get(value, "then") === "function"
  );
}

/**
 * Calls `hook` with `info`; with no hook, writes `line` to stderr instead, so that a failure is never silent.
 * Used for what must not go unnoticed (a handler that failed unexpectedly), not for routine drops.
 */
export function callHookOrLog<T>(hook: ((info: T) => void) | undefined, info: T, line: string): void {
  if (hook === undefined) {
    process.stderr.write(`typed-zmq: ${line}\n`);
    return;
  }
  callHook(hook, info);
}
