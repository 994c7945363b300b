/**
 * @packageDocumentation
 * {@link StoreFullError}: a durable broker's store has no room for a commit.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * A durable `PipelineBroker`'s store had no room for a commit: the database reached its `maxStoreBytes` limit, or the
 * disk is full. Nothing of that commit was stored (a commit is all or nothing); the store keeps its previous state
 * and stays usable. The broker rejects the tasks of that commit with the wire code `STORE_FULL`.
 */
export class StoreFullError extends TypedZmqError {
  override readonly name = "StoreFullError";
  readonly code = ErrorCode.STORE_FULL;
  /** The store file, as given to the broker. */
  readonly path: string;
  /** The size limit in bytes when the limit was reached; undefined when the disk itself is full. */
  readonly maxBytes: number | undefined;
  /**
   * @param path - The store file.
   * @param maxBytes - The limit that was reached, or undefined when the disk is full.
   */
  constructor(path: string, maxBytes: number | undefined, options?: TypedZmqErrorOptions) {
    const why =
      maxBytes === undefined
        ? "the disk it is on has no room left"
        : `it reached its size limit of ${maxBytes} bytes (maxStoreBytes)`;
    const what =
      maxBytes === undefined
        ? "Free disk space, or let sinks take the results waiting in the store"
        : "Let sinks take the results waiting in the store, or raise maxStoreBytes";
    super(`Queue store '${path}' is full: ${why}, so nothing of this commit was stored. ${what}.`, errorOptions(options));
    this.path = path;
    this.maxBytes = maxBytes;
  }
}

/** True for a {@link StoreFullError}, also across realms. */
export const isStoreFullError = errorGuard(StoreFullError, "StoreFullError");
