/**
 * @packageDocumentation
 * {@link UnknownMethodError}: a method name that the contract does not declare.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** A method name that the contract does not declare. */
export class UnknownMethodError extends TypedZmqError {
  override readonly name = "UnknownMethodError";
  readonly code = ErrorCode.UNKNOWN_METHOD;
  /** Contract name and version. */
  readonly contract: string;
  /** The method that was asked for. */
  readonly method: string;
  constructor(contract: string, method: string, known: readonly string[], options?: TypedZmqErrorOptions) {
    super(
      `Method "${method}" is not part of contract "${contract}". ` +
        `Known methods: ${known.map((m) => `"${m}"`).join(", ") || "(none)"}. ` +
        `Check the method name, or that both sides use the same contract version.`,
      errorOptions(options),
    );
    this.contract = contract;
    this.method = method;
  }
}

/** True for an {@link UnknownMethodError}, also across realms. */
export const isUnknownMethodError = errorGuard(UnknownMethodError, "UnknownMethodError");
