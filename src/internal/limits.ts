/**
 * @packageDocumentation
 * The receive limits every pattern class shares, read once with an {@link OptionReader} and turned into zeromq.js
 * socket options plus one frame-count check for the receive path.
 *
 * Two tiers of size limit:
 * - the application tier, `maxMessageBytes` (RPC only), checked by the class after a message was read and answered
 *   `MESSAGE_TOO_LARGE`;
 * - the hard tier, `hardMaxMessageBytes`, set as `ZMQ_MAXMSGSIZE`: libzmq checks it against each frame's size header
 *   and closes the connection before buffering a larger frame, with no reply. This is what bounds the memory a
 *   hostile peer can make a socket hold: without it libzmq buffers a whole frame of any size before the application
 *   sees it.
 *
 * `maxFrames` bounds the frames of one message: a message with more is dropped, counted and reported. libzmq
 * buffers a multipart message before delivering it, and its high-water marks count messages, not frames, so the
 * frame check runs when the message is read: it keeps such messages from the application, while the hard limit is
 * what bounds each frame in libzmq's queues.
 * @internal
 */
import { OutOfRangeError } from "../errors/index.js";
import type { OptionReader } from "./options.js";

/**
 * The documented default of the hard limit, when `maxMessageBytes` is not set: 8 MiB. Low enough that a flood of
 * 10 MB requests at a server started with no options is refused frame by frame (each connection dropped before
 * the frame is buffered), high enough for ordinary messages; raise it with `hardMaxMessageBytes`.
 */
export const DEFAULT_HARD_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** The default frame count for RPC and pipeline messages. */
export const DEFAULT_MAX_FRAMES = 16;
/** The default listen backlog (libzmq's own is 100). */
export const DEFAULT_BACKLOG = 1024;
/** The smallest margin of the hard limit over `maxMessageBytes`: room for the other frames of a message. */
const HARD_LIMIT_MARGIN = 64 * 1024;

/** The options, as users write them. Mixed into the options of every pattern class that receives. */
export interface LimitOptions {
  /**
   * The hard size limit of one received frame, in bytes (`ZMQ_MAXMSGSIZE`). libzmq reads each frame's size header
   * and, when it is over this limit, closes the connection before buffering the frame: the peer gets no reply (it
   * reconnects). This bounds the memory a hostile peer can make this socket hold. Set it above `maxMessageBytes`
   * (the application tier, answered `MESSAGE_TOO_LARGE`), so that well-meaning senders of large requests get an
   * answer. High-water marks are counted per connection (libzmq keeps one queue per peer), so the memory queued for
   * one peer is at most about `receiveHighWaterMark × maxFrames × hardMaxMessageBytes`.
   *
   * Behind an {@link RpcBroker}: a server connected as a worker keeps the default here (not one derived from
   * `maxMessageBytes`), the same as the broker's frontend, so that a request the broker accepted and forwarded is
   * answered `MESSAGE_TOO_LARGE` by the server, not cut off at the hard tier (which would cut the server off from the
   * broker). Lower it on a worker only together with the broker's.
   * @defaultValue `max(2 × maxMessageBytes, maxMessageBytes + 65536)` when `maxMessageBytes` is set (servers bound
   *   directly), else 8388608 (8 MiB)
   */
  readonly hardMaxMessageBytes?: number;
  /**
   * Most frames in one received message. A message with more is dropped (never handled), counted and reported
   * through the class's `onError`/`onDrop`.
   * @defaultValue 16 (RPC and pipeline), more on a broker's backend (the MDP envelope)
   */
  readonly maxFrames?: number;
  /**
   * Pending connections a bound socket lets the kernel queue (`ZMQ_BACKLOG`), so that a storm of connections does not
   * lose well-behaved peers' connections. The kernel caps it (`net.core.somaxconn`).
   * @defaultValue 1024
   */
  readonly backlog?: number;
}

/** The zeromq.js socket options the limits become. */
export interface LimitSocketOptions {
  /** `ZMQ_MAXMSGSIZE`, in bytes. */
  readonly maxMessageSize: number;
  /** `ZMQ_BACKLOG`. */
  readonly backlog: number;
}

/** The limits, resolved. @internal */
export interface Limits {
  /** The application tier, or undefined when not set. */
  readonly maxMessageBytes: number | undefined;
  readonly hardMaxMessageBytes: number;
  readonly maxFrames: number;
  readonly backlog: number;
  /** Spread these into the socket's options. */
  readonly socket: LimitSocketOptions;
}

/** How the owner reads its limits. @internal */
export interface LimitDefaults {
  /** The default of `maxFrames`. @defaultValue 16 */
  readonly maxFrames?: number;
  /**
   * Derive the hard limit from `maxMessageBytes` (a bound server). False keeps the documented default unless
   * `hardMaxMessageBytes` is given: for a server's worker links (see {@link LimitOptions.hardMaxMessageBytes}) and
   * for a client, whose `maxMessageBytes` limits what it sends, not what it receives.
   * @defaultValue true
   */
  readonly derive?: boolean;
}

/** The default hard limit for an application tier of `maxMessageBytes` (or none). @internal */
export function defaultHardLimit(maxMessageBytes: number | undefined): number {
  if (maxMessageBytes === undefined) return DEFAULT_HARD_MAX_MESSAGE_BYTES;
  return Math.max(2 * maxMessageBytes, maxMessageBytes + HARD_LIMIT_MARGIN);
}

/**
 * Reads {@link LimitOptions} (and `maxMessageBytes`) from `read` into limits.
 * @throws `RangeError` for a value that is not a positive integer, or a `hardMaxMessageBytes` under
 *   `maxMessageBytes` (the application tier could never answer).
 * @internal
 */
export function readLimits(read: OptionReader, defaults: LimitDefaults = {}): Limits {
  const maxMessageBytes = read.optionalPositiveInt("maxMessageBytes");
  const derived = defaults.derive === false ? DEFAULT_HARD_MAX_MESSAGE_BYTES : defaultHardLimit(maxMessageBytes);
  const explicit = read.optionalPositiveInt("hardMaxMessageBytes");
  if (explicit !== undefined && maxMessageBytes !== undefined && explicit < maxMessageBytes) {
    throw tooSmall(
      read,
      "hardMaxMessageBytes",
      explicit,
      `\`maxMessageBytes\` (${maxMessageBytes}), so that a message over the application limit can still be answered MESSAGE_TOO_LARGE`,
    );
  }
  const hardMaxMessageBytes = explicit ?? derived;
  const maxFrames = read.positiveInt("maxFrames", defaults.maxFrames ?? DEFAULT_MAX_FRAMES);
  const backlog = read.positiveInt("backlog", DEFAULT_BACKLOG);
  return Object.freeze({
    maxMessageBytes,
    hardMaxMessageBytes,
    maxFrames,
    backlog,
    socket: Object.freeze({ maxMessageSize: hardMaxMessageBytes, backlog }),
  });
}

/**
 * The frame-count check of the receive path: undefined when `frames` is within `limits.maxFrames`, else the reason
 * to report (the message is dropped). `where` names the socket for the message.
 * @internal
 */
export function tooManyFrames(limits: Limits, frames: readonly unknown[], where: string): string | undefined {
  if (frames.length <= limits.maxFrames) return undefined;
  return `${where}: dropped a ${frames.length}-frame message, over the limit of ${limits.maxFrames} frames (maxFrames); it was not handled. A peer that sends such messages is broken or hostile; raise { maxFrames } if its messages are legitimate.`;
}

/** Frames an MDP backend message carries besides the client's: worker id, "", MDPW01, command, client, "". */
const MDP_BACKEND_FRAMES = 8;

/**
 * The limits of a broker's backend, from its frontend's: the hard limit is `backendHardMaxMessageBytes`, at least
 * the frontend's (its default), so that a server's reply to the largest request the frontend accepts (an echo) never
 * makes the broker cut the connection to that server; `maxFrames` adds the MDP envelope.
 * @throws `RangeError` for a `backendHardMaxMessageBytes` under the frontend's hard limit.
 * @internal
 */
export function readBackendLimits(read: OptionReader, frontend: Limits): Limits {
  const explicit = read.optionalPositiveInt("backendHardMaxMessageBytes");
  if (explicit !== undefined && explicit < frontend.hardMaxMessageBytes) {
    throw tooSmall(
      read,
      "backendHardMaxMessageBytes",
      explicit,
      `the frontend's \`hardMaxMessageBytes\` (${frontend.hardMaxMessageBytes}), so that one large request cannot cut the broker off from its servers`,
    );
  }
  const hardMaxMessageBytes = explicit ?? frontend.hardMaxMessageBytes;
  return Object.freeze({
    maxMessageBytes: undefined,
    hardMaxMessageBytes,
    maxFrames: frontend.maxFrames + MDP_BACKEND_FRAMES,
    backlog: frontend.backlog,
    socket: Object.freeze({ maxMessageSize: hardMaxMessageBytes, backlog: frontend.backlog }),
  });
}

function tooSmall(read: OptionReader, key: string, got: number, floor: string): OutOfRangeError {
  return new OutOfRangeError(`${read.owner}: \`${read.name(key)}\` must be at least ${floor}, got ${got}.`);
}
