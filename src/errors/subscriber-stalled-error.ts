/**
 * @packageDocumentation
 * {@link SubscriberStalledError}: a lossless (`noDrop`) publish waited past the publisher's `stallLimitMs` for a
 * subscriber to make room.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/**
 * A `noDrop` publish waited `stallLimitMs` for room: some subscriber's queue stayed full because it is not reading
 * (stopped, frozen or far too slow). The message was not sent, to any subscriber.
 */
export class SubscriberStalledError extends TypedZmqError {
  override readonly name = "SubscriberStalledError";
  readonly code = ErrorCode.SUBSCRIBER_STALLED;
  /** The publisher's `stallLimitMs`. */
  readonly stallLimitMs: number;
  /** The wire topic of the message that was not sent. */
  readonly topic: string;
  /** The publisher's endpoint(s). */
  readonly endpoint: string;
  constructor(what: string, topic: string, stallLimitMs: number, endpoint: string, options?: TypedZmqErrorOptions) {
    super(
      `${what} failed: a subscriber of ${endpoint} is not reading, and the message on "${topic}" waited ` +
        `${stallLimitMs} ms (stallLimitMs) for room in its full queue; it was not sent to any subscriber. ` +
        `Fix or stop the stalled subscriber, raise { sendHighWaterMark } or { stallLimitMs }, or publish in lossy ` +
        `mode (noDrop: false) with headers and let subscribers count what they miss (stats.gaps).`,
      errorOptions(options),
    );
    this.stallLimitMs = stallLimitMs;
    this.topic = topic;
    this.endpoint = endpoint;
  }
}

/** True for a {@link SubscriberStalledError}, also across realms. */
export const isSubscriberStalledError = errorGuard(SubscriberStalledError, "SubscriberStalledError");
