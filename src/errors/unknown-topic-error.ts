/**
 * @packageDocumentation
 * {@link UnknownTopicError}: a topic that no declared topic of the contract covers.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** A topic that no declared topic of the contract covers. */
export class UnknownTopicError extends TypedZmqError {
  override readonly name = "UnknownTopicError";
  readonly code = ErrorCode.UNKNOWN_TOPIC;
  /** Contract name and version. */
  readonly contract: string;
  /** The topic that was given. */
  readonly topic: string;
  constructor(contract: string, topic: string, declared: readonly string[], options?: TypedZmqErrorOptions) {
    super(
      `Topic "${topic}" is not covered by contract "${contract}": it declares ${declared.map((t) => `"${t}"`).join(", ")}, ` +
        `each covering itself and "<topic>.<anything>". Publish under a declared topic, or declare this one.`,
      errorOptions(options),
    );
    this.contract = contract;
    this.topic = topic;
  }
}

/** True for an {@link UnknownTopicError}, also across realms. */
export const isUnknownTopicError = errorGuard(UnknownTopicError, "UnknownTopicError");
