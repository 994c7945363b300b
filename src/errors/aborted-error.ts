/**
 * @packageDocumentation
 * {@link AbortedError}: the caller's `AbortSignal` fired.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** The caller's `AbortSignal` fired; `cause` is the signal's `reason`. */
export class AbortedError extends TypedZmqError {
  override readonly name = "AbortedError";
  readonly code = ErrorCode.ABORTED;
  constructor(what: string, options?: TypedZmqErrorOptions) {
    super(`${what} was aborted by its signal${describeReason(options?.cause)}.`, errorOptions(options));
  }
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return `: ${reason.message}`;
  if (reason === undefined) return "";
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- any abort reason a caller chose, shown as best we can
  return `: ${String(reason)}`;
}

/** True for an {@link AbortedError}, also across realms. */
export const isAbortedError = errorGuard(AbortedError, "AbortedError");
