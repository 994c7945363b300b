/**
 * @packageDocumentation
 * Publish-subscribe framing, protocol 1.1 (docs/protocol.md, "Publish-subscribe"). Pure functions over frames, no
 * sockets. Every v1 shape stays valid:
 *
 * ```
 * [topic, body]                 v1 message
 * [topic, "", packed]           v1 batch
 * [topic, body, H]              1.1 message with headers
 * [topic, "", packed, H]        1.1 batch with headers
 * ```
 * H (the codec-independent JSON headers frame) is always last. The shapes are told apart by the frame count and the
 * empty batch marker: a body is never empty.
 * @internal
 */
import { unpack } from "./batch.js";
import { parseHeaders, strictUtf8, type MessageHeaders } from "./headers.js";

/** What {@link parsePubSub} found in one ZeroMQ message. */
export type PubSubFrames =
  | { readonly kind: "message"; readonly topic: string; readonly body: Buffer; readonly headers?: MessageHeaders }
  | { readonly kind: "batch"; readonly topic: string; readonly bodies: readonly Buffer[]; readonly headers?: MessageHeaders }
  /** `topic` is set when the topic frame could be read. */
  | { readonly kind: "malformed"; readonly topic?: string; readonly reason: string };

const SHAPES = '[topic, body] or [topic, "", packed], each optionally followed by a headers frame';

/** Parses one pub-sub message. Never throws. */
export function parsePubSub(frames: readonly Buffer[]): PubSubFrames {
  const count = frames.length;
  if (count < 2 || count > 4) {
    return { kind: "malformed", reason: `expected 2 frames [topic, body], got ${count} (the shapes are ${SHAPES})` };
  }
  const batched = count >= 3 && frames[1]!.length === 0;
  if (count === 4 && !batched) {
    return { kind: "malformed", reason: `got 4 frames, but the second is not the empty batch marker (the shapes are ${SHAPES})` };
  }
  let topic: string;
  try {
    topic = strictUtf8.decode(frames[0]);
  } catch {
    return { kind: "malformed", reason: "the topic frame is not valid UTF-8" };
  }
  let headers: MessageHeaders | undefined;
  if (count === 4 || (count === 3 && !batched)) {
    const parsed = parseHeaders(frames[count - 1]!);
    if (parsed.kind === "malformed") {
      return {
        kind: "malformed",
        topic,
        reason: `got ${count} frames on "${topic}", and the last is not a headers frame: ${parsed.reason}`,
      };
    }
    headers = parsed.headers;
  }
  if (!batched) {
    return headers === undefined
      ? { kind: "message", topic, body: frames[1]! }
      : { kind: "message", topic, body: frames[1]!, headers };
  }
  const bodies = unpack(frames[2]!);
  if (bodies === undefined) {
    return { kind: "malformed", topic, reason: `a batch on "${topic}" has lengths that do not add up to its size` };
  }
  return headers === undefined ? { kind: "batch", topic, bodies } : { kind: "batch", topic, bodies, headers };
}

const EMPTY = Buffer.alloc(0);

/** Frames of one message: `[topic, body]`, or `[topic, body, H]` with headers. */
export function encodePubSubMessage(topic: string, body: Uint8Array, headers?: Uint8Array): (string | Uint8Array)[] {
  return headers === undefined ? [topic, body] : [topic, body, headers];
}

/** Frames of a batch: `[topic, "", packed]`, or `[topic, "", packed, H]` with headers. */
export function encodePubSubBatch(topic: string, packed: Uint8Array, headers?: Uint8Array): (string | Uint8Array)[] {
  return headers === undefined ? [topic, EMPTY, packed] : [topic, EMPTY, packed, headers];
}

/**
 * True when `topic` matches `subscription` at a dot boundary: it equals it, or continues it after a dot
 * (`price.GOOG` matches `price.GOOG` and `price.GOOG.x`, not `price.GOOGL`). `""` and a subscription ending in a dot
 * match every topic they prefix.
 */
export function matchesAtBoundary(topic: string, subscription: string): boolean {
  if (!topic.startsWith(subscription)) return false;
  const n = subscription.length;
  return n === 0 || topic.length === n || subscription.charCodeAt(n - 1) === 46 || topic.charCodeAt(n) === 46;
}
