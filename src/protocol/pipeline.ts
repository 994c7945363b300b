/**
 * @packageDocumentation
 * Pipeline framing, protocol 1.1 (docs/protocol.md, "Pipeline"). Pure functions over frames, no sockets. Every v1
 * shape stays valid:
 *
 * ```
 * [body]                 v1 task or result
 * ["error", body]        v1 failure result
 * ["", packed]           v1 batch (tasks or results)
 * [body, H]              1.1 with headers (also ["error", body, H] and ["", packed, H])
 * ```
 * The first of several frames is a marker only when it is empty (a batch) or exactly `error` (a failure); a body
 * made by the JSON or MessagePack codec can be neither (JSON text is never empty and `error` is not JSON; a
 * MessagePack value is at least one byte, and `error` is the one-byte value 101 followed by trailing bytes, which a
 * decoder refuses). A custom codec must keep to the same rule. H (the JSON headers frame) is always last.
 * @internal
 */
import { STATUS_ERROR, STATUS_ERROR_FRAME } from "../internal/wire.js";
import { unpack } from "./batch.js";
import { parseHeaders, type MessageHeaders } from "./headers.js";

/** What {@link parsePipeline} found in one ZeroMQ message. */
export type PipelineFrames =
  /** A task (at a worker) or a result (at a sink). */
  | { readonly kind: "message"; readonly body: Buffer; readonly headers?: MessageHeaders }
  /** A failure result: the body is an encoded `{ code, message, details? }`. */
  | { readonly kind: "failure"; readonly body: Buffer; readonly headers?: MessageHeaders }
  | { readonly kind: "batch"; readonly bodies: readonly Buffer[]; readonly headers?: MessageHeaders }
  | { readonly kind: "malformed"; readonly reason: string };

const ERROR_BYTES = STATUS_ERROR.length;

function isErrorMarker(frame: Buffer): boolean {
  return frame.length === ERROR_BYTES && frame.equals(STATUS_ERROR_FRAME);
}

const SHAPES =
  'a message ([body]), a failure (["error", body]) or a batch (["", packed]), each optionally followed by a headers frame';

/** Parses one pipeline message (a task, a result or a failure result). Never throws. */
export function parsePipeline(frames: readonly Buffer[]): PipelineFrames {
  const count = frames.length;
  if (count === 1) return { kind: "message", body: frames[0]! };
  if (count < 1 || count > 3) return { kind: "malformed", reason: `expected ${SHAPES}, got ${count} frames` };
  const first = frames[0]!;
  const marked = first.length === 0 ? "batch" : isErrorMarker(first) ? "failure" : undefined;
  // Two frames: a marker and its payload (v1), or a body and headers. Three: a marker, its payload and headers.
  if (count === 3 && marked === undefined) {
    return { kind: "malformed", reason: `expected ${SHAPES}, got 3 frames whose first is neither "" nor "error"` };
  }
  let headers: MessageHeaders | undefined;
  if (count === 3 || marked === undefined) {
    const parsed = parseHeaders(frames[count - 1]!);
    if (parsed.kind === "malformed") {
      return {
        kind: "malformed",
        reason: `expected ${SHAPES}, got ${count} frames whose last is not a headers frame (${parsed.reason})`,
      };
    }
    headers = parsed.headers;
  }
  if (marked === undefined) return { kind: "message", body: first, headers: headers! };
  const payload = frames[1]!;
  if (marked === "failure")
    return headers === undefined ? { kind: "failure", body: payload } : { kind: "failure", body: payload, headers };
  const bodies = unpack(payload);
  if (bodies === undefined) return { kind: "malformed", reason: "a batch has lengths that do not add up to its size" };
  return headers === undefined ? { kind: "batch", bodies } : { kind: "batch", bodies, headers };
}

const EMPTY = Buffer.alloc(0);

/** Frames of a task or result: `[body]`, or `[body, H]` with headers. */
export function encodePipelineMessage(body: Uint8Array, headers?: Uint8Array): Uint8Array[] {
  return headers === undefined ? [body] : [body, headers];
}

/** Frames of a failure result: `["error", body]`, or `["error", body, H]` with headers. */
export function encodePipelineFailure(body: Uint8Array, headers?: Uint8Array): Uint8Array[] {
  return headers === undefined ? [STATUS_ERROR_FRAME, body] : [STATUS_ERROR_FRAME, body, headers];
}

/** Frames of a batch: `["", packed]`, or `["", packed, H]` with headers. */
export function encodePipelineBatch(packed: Uint8Array, headers?: Uint8Array): Uint8Array[] {
  return headers === undefined ? [EMPTY, packed] : [EMPTY, packed, headers];
}
