/**
 * @packageDocumentation
 * {@link StoreCorruptError}: a durable broker's store file is damaged or is not a queue store.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * A durable `PipelineBroker`'s store file is not a SQLite database, is damaged (SQLite reports it malformed, or the
 * integrity check at open fails), or is a SQLite database that typed-zmq did not create. Nothing is read from such a
 * file and nothing is written to it.
 */
export class StoreCorruptError extends TypedZmqError {
  override readonly name = "StoreCorruptError";
  readonly code = ErrorCode.STORE_CORRUPT;
  /** The store file, as given to the broker. */
  readonly path: string;
  /**
   * @param path - The store file.
   * @param why - What is wrong with it, as a clause (`"it is not a SQLite database"`).
   */
  constructor(path: string, why: string, options?: TypedZmqErrorOptions) {
    super(
      `Queue store '${path}' cannot be used: ${why}. Move the file aside (keep it to inspect or restore it) and start ` +
        `the broker on a new file, or restore a backup of the store.`,
      errorOptions(options),
    );
    this.path = path;
  }
}

/** True for a {@link StoreCorruptError}, also across realms. */
export const isStoreCorruptError = errorGuard(StoreCorruptError, "StoreCorruptError");
