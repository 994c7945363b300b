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
