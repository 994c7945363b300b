/**
 * @packageDocumentation
 * {@link ContractValidationError}: a payload broke its zod schema on this side of the wire.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** One problem found by schema validation, in a form that survives JSON and names its place. */
export interface ValidationIssue {
  /** Where in the payload the problem is, from the root (`["items", 0, "price"]`). */
  readonly path: readonly (string | number)[];
  /** Zod's issue code, for example `invalid_type`. */
  readonly code: string;
  /** Human-readable description. */
  readonly message: string;
}

/**
 * A payload broke its zod schema on this side of the wire.
 *
 * `direction` is `"outgoing"` when the check ran before sending (nothing was sent) and `"incoming"` when a message
 * that arrived was rejected (for example a reply that does not match the response schema).
 */
export class ContractValidationError extends TypedZmqError {
  override readonly name = "ContractValidationError";
  readonly code = ErrorCode.VALIDATION_FAILED;
  /** The problems zod found. */
  readonly issues: readonly ValidationIssue[];
  /** Whether the payload was about to leave (`outgoing`) or had just arrived (`incoming`). */
  readonly direction: "outgoing" | "incoming";
  /** Contract name and version, for example `orders.v1`. */
  readonly contract: string;
  /** Method or topic the payload belongs to. */
  readonly method: string;
  constructor(
    message: string,
    fields: {
      issues: readonly ValidationIssue[];
      direction: "outgoing" | "incoming";
      contract: string;
      method: string;
    },
    options?: TypedZmqErrorOptions,
  ) {
    super(message, errorOptions(options));
    this.issues = fields.issues;
    this.direction = fields.direction;
    this.contract = fields.contract;
    this.method = fields.method;
  }
}

/** True for a {@link ContractValidationError}, also across realms. */
export const isContractValidationError = errorGuard(ContractValidationError, "ContractValidationError");
