/**
 * @packageDocumentation
 * Turns the options every error constructor takes into the `ErrorOptions` of `Error`, so that a `cause` is kept
 * exactly when one was given (a falsy `cause` too). Used by the classes in `src/errors/`; imports nothing.
 */

/** The options all typed-zmq error constructors accept (the public type is `TypedZmqErrorOptions`). */
interface CauseOption {
  readonly cause?: unknown;
}

/** `{ cause }` when `options` has a `cause` key, else `undefined` (so the error gets no `cause` property). */
export function errorOptions(options: CauseOption | undefined): ErrorOptions | undefined {
  return options !== undefined && "cause" in options ? { cause: options.cause } : undefined;
}
