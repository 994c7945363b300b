/**
 * @packageDocumentation
 * {@link StoreLockedError}: a durable broker's store file is already owned by another broker.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * A durable `PipelineBroker` could not open its store because another broker owns the file.
 *
 * One broker owns a store at a time: the owner holds an exclusive SQLite lock on the file from open to close, in
 * this process or in another one. The operating system releases the lock when the owner exits, also when it is
 * killed (SIGKILL), so a restarted broker opens the file again.
 */
export class StoreLockedError extends TypedZmqError {
  override readonly name = "StoreLockedError";
  readonly code = ErrorCode.STORE_LOCKED;
  /** The store file, as given to the broker. */
  readonly path: string;
  constructor(path: string, options?: TypedZmqErrorOptions) {
    super(
      `Queue store '${path}' could not be opened: another broker (in this process or another) has it open, and one ` +
        `broker owns a store at a time. Close or stop that broker first, or give this broker a store file of its own.`,
      errorOptions(options),
    );
    this.path = path;
  }
}

/** True for a {@link StoreLockedError}, also across realms. */
export const isStoreLockedError = errorGuard(StoreLockedError, "StoreLockedError");
