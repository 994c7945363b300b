/**
 * @packageDocumentation
 * {@link StoreUnavailableError}: a durable broker's store cannot be opened or written.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * A durable `PipelineBroker`'s store cannot be opened or written: the optional `better-sqlite3` module is not
 * installed (or its native addon does not load), the path cannot hold a file (a missing directory, a directory, no
 * permission, a read-only file system), an I/O error, a store written by a newer typed-zmq, or a store already closed.
 * The SQLite or Node error is kept as `cause`.
 */
export class StoreUnavailableError extends TypedZmqError {
  override readonly name = "StoreUnavailableError";
  readonly code = ErrorCode.STORE_UNAVAILABLE;
  /** The store file, as given to the broker. */
  readonly path: string;
  /**
   * @param path - The store file.
   * @param why - What failed and why, as a clause (`"its directory '/data' does not exist"`).
   * @param whatToDo - What to do about it, as a sentence.
   */
  constructor(path: string, why: string, whatToDo: string, options?: TypedZmqErrorOptions) {
    super(`Queue store '${path}' cannot be used: ${why}. ${whatToDo}`, errorOptions(options));
    this.path = path;
  }
}

/** True for a {@link StoreUnavailableError}, also across realms. */
export const isStoreUnavailableError = errorGuard(StoreUnavailableError, "StoreUnavailableError");
