/**
 * @packageDocumentation
 * RPC framing, protocol 1.1 (docs/protocol.md, "RPC"): pure functions over frames, no sockets.
 *
 * A request is `[...envelope, "", method, body, headers?, ...ignored]` and a reply
 * `[...envelope, "", status, body, headers?, ...ignored]`. Every v1 message (`[...envelope, "", method, body]`)
 * is a valid 1.1 message. Parsers return discriminated results so that every message kind has table-driven tests.
 *
 * A server in worker mode reads the same payload (`[method, body, headers?]`) from the body of an MDP REQUEST
 * (`protocol/mdp.ts`) with {@link parsePayload}: one grammar for both.
 * @internal
 */
import { parseHeaders, strictUtf8, type MessageHeaders } from "./headers.js";

/** The empty delimiter frame between the envelope and the payload frames. */
export const DELIMITER = Buffer.alloc(0);
/** Status of a successful reply. */
export const STATUS_OK = "ok";
/** Status of an error reply. */
export const STATUS_ERROR = "error";
/** The status frames, built once. */
export const STATUS_OK_FRAME = Buffer.from(STATUS_OK);
export const STATUS_ERROR_FRAME = Buffer.from(STATUS_ERROR);
/** Method names no contract may use: they are reply statuses, and a server never answers them (no reply loops). */
export const RESERVED_METHODS: readonly string[] = [STATUS_OK, STATUS_ERROR];
/**
 * The method frame of a cancel notice, `[...envelope, "", "$cancel", "", headers?]`: the caller gave up on the call
 * sent with the same envelope (direct) or with the same `correlationId` header (through a broker). Never answered.
 * `$` cannot start a contract's method name, so no contract can collide with it.
 */
export const CANCEL_METHOD = "$cancel";
const CANCEL_FRAME = Buffer.from(CANCEL_METHOD);

/** Index of the first empty frame, or -1. */
export function delimiterIndex(frames: readonly Uint8Array[]): number {
  for (let i = 0; i < frames.length; i++) {
    if (frames[i]?.length === 0) return i;
  }
  return -1;
}

function isFrame(frame: Uint8Array, text: Buffer): boolean {
  return frame.length === text.length && Buffer.compare(frame, text) === 0;
}

/** What {@link parseRequest} found in a message that reached a server. */
export type RequestParse =
  /** A request to answer: `envelope` ends with the delimiter and is echoed in the reply. */
  | {
      readonly kind: "request";
      readonly envelope: Buffer[];
      readonly method: string;
      readonly body: Buffer;
      readonly headers: MessageHeaders | undefined;
    }
  /** A cancel notice for the call sent with this envelope (or this `correlationId`): abort it, answer nothing. */
  | { readonly kind: "cancel"; readonly envelope: Buffer[]; readonly headers: MessageHeaders | undefined }
  /** Answer `MALFORMED` with `reason`. */
  | { readonly kind: "malformed"; readonly envelope: Buffer[]; readonly method: string | undefined; readonly reason: string }
  /**
   * A reply (method frame `ok` or `error`) sent to a server: a bound server drops and counts it, never answers it
   * (no loops between two servers wired to each other).
   */
  | { readonly kind: "stray-reply"; readonly envelope: Buffer[]; readonly status: string }
  /** No delimiter, so no envelope to answer to: drop and count it. */
  | { readonly kind: "unanswerable"; readonly frames: number };

/** Parses a message a server's ROUTER received: `[...envelope, "", method, body, headers?]`. Never throws. */
export function parseRequest(frames: Buffer[]): RequestParse {
  const d = delimiterIndex(frames);
  if (d < 0) return { kind: "unanswerable", frames: frames.length };
  return parsePayload(frames, d + 1, frames.slice(0, d + 1));
}

/**
 * Parses the payload `[method, body, headers?, ...ignored]` that starts at `frames[start]`; `envelope` is what a
 * reply goes back to (a ROUTER's envelope with its delimiter, or a worker's client-address frame). Never throws.
 */
export function parsePayload(
  frames: Buffer[],
  start: number,
  envelope: Buffer[],
): Exclude<RequestParse, { kind: "unanswerable" }> {
  const methodFrame = frames[start];
  if (methodFrame === undefined) {
    return {
      kind: "malformed",
      envelope,
      method: undefined,
      reason: "nothing follows the empty delimiter frame; send [method, body] after it",
    };
  }
  if (isFrame(methodFrame, STATUS_OK_FRAME) || isFrame(methodFrame, STATUS_ERROR_FRAME)) {
    return { kind: "stray-reply", envelope, status: methodFrame.toString("latin1") };
  }
  if (isFrame(methodFrame, CANCEL_FRAME)) {
    const headersFrame = frames[start + 2];
    const parsed = headersFrame === undefined ? undefined : parseHeaders(headersFrame);
    return { kind: "cancel", envelope, headers: parsed?.kind === "headers" ? parsed.headers : undefined };
  }
  let method: string;
  try {
    method = strictUtf8.decode(methodFrame);
  } catch {
    return {
      kind: "malformed",
      envelope,
      method: undefined,
      reason: `the method frame (${methodFrame.length} bytes) is not valid UTF-8`,
    };
  }
  if (method.length === 0) {
    return {
      kind: "malformed",
      envelope,
      method: undefined,
      reason: "the method frame is empty (a doubled delimiter?); send the method name as UTF-8",
    };
  }
  const body = frames[start + 1];
  if (body === undefined) {
    return {
      kind: "malformed",
      envelope,
      method,
      reason: "the body frame is missing; send [method, body] after the empty delimiter",
    };
  }
  const headersFrame = frames[start + 2];
  if (headersFrame === undefined) return { kind: "request", envelope, method, body, headers: undefined };
  const parsed = parseHeaders(headersFrame);
  if (parsed.kind === "malformed") return { kind: "malformed", envelope, method, reason: parsed.reason };
  // Frames after the headers frame are ignored (must-ignore): later versions may add some.
  return { kind: "request", envelope, method, body, headers: parsed.headers };
}

/** A reply: the request's envelope (with its delimiter), the status, the body, and headers when there are some. */
export function encodeReply(envelope: readonly Buffer[], ok: boolean, body: Uint8Array, headers?: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [...envelope, ok ? STATUS_OK_FRAME : STATUS_ERROR_FRAME, body];
  if (headers !== undefined) frames.push(headers);
  return frames;
}

/** What {@link parseReply} found in a message that reached a client (a DEALER with a 4-byte correlation frame). */
export type ReplyParse =
  | {
      readonly kind: "reply";
      readonly id: number;
      readonly ok: boolean;
      readonly body: Buffer;
      readonly headers: MessageHeaders | undefined;
    }
  /** Not a reply of this protocol; `id` is set when the correlation frame could still be read. */
  | { readonly kind: "malformed"; readonly id: number | undefined; readonly reason: string };

/** Parses a reply to a typed client: `[id(4 bytes), "", status, body, headers?, ...ignored]`. Never throws. */
export function parseReply(frames: Buffer[]): ReplyParse {
  const head = frames[0];
  const id = head?.length === 4 ? head.readUInt32BE(0) : undefined;
  const status = frames[2];
  const body = frames[3];
  if (id === undefined || frames[1]?.length !== 0 || status === undefined || body === undefined) {
    return { kind: "malformed", id, reason: `a ${frames.length}-frame message that is not [correlation id, "", status, body]` };
  }
  const tail = parseReplyTail(status, frames[4]);
  return typeof tail === "string"
    ? { kind: "malformed", id, reason: tail }
    : { kind: "reply", id, ok: tail.ok, body, headers: tail.headers };
}

/** Reads a reply's status and optional headers frame; a string says why they are malformed. */
function parseReplyTail(
  status: Buffer,
  headersFrame: Buffer | undefined,
): { readonly ok: boolean; readonly headers: MessageHeaders | undefined } | string {
  const ok = isFrame(status, STATUS_OK_FRAME);
  if (!ok && !isFrame(status, STATUS_ERROR_FRAME)) {
    return `unknown status "${status.toString("utf8").slice(0, 40)}"; expected "ok" or "error"`;
  }
  if (headersFrame === undefined) return { ok, headers: undefined };
  const parsed = parseHeaders(headersFrame);
  return parsed.kind === "malformed" ? parsed.reason : { ok, headers: parsed.headers };
}

/** The 4-byte big-endian correlation frame of a typed client's request. */
export function correlationFrame(id: number): Buffer {
  const frame = Buffer.allocUnsafe(4);
  frame.writeUInt32BE(id, 0);
  return frame;
}

/** A typed client's request: `[id, "", method, body, headers?]`. */
export function encodeRequest(id: number, method: Buffer, body: Uint8Array, headers?: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [correlationFrame(id), DELIMITER, method, body];
  if (headers !== undefined) frames.push(headers);
  return frames;
}

// ---------------------------------------------------------------------------------------------------------------
// The cancel notice, and RPC inside MDP as a typed client (a DEALER) speaks it to a broker's frontend.

/** A direct cancel notice, best effort and never answered: `[id, "", "$cancel", ""]`, the envelope of the call. */
export function encodeCancel(id: number): Uint8Array[] {
  return [correlationFrame(id), DELIMITER, CANCEL_FRAME, DELIMITER];
}

/** The RPC body of a cancel notice through a broker: `["$cancel", "", headers{correlationId}]`. */
export function cancelBody(headers: Uint8Array): Uint8Array[] {
  return [CANCEL_FRAME, DELIMITER, headers];
}

/** Largest correlation id a typed client uses (it is a 32-bit counter, written in decimal in MDP mode). */
const MAX_CORRELATION_ID = 0xffff_ffff;

/**
 * Parses the RPC reply body of an MDP client reply, `[status, body, headers{correlationId}, ...ignored]` (the frames
 * after `["", "MDPC01", service]`): the same result as {@link parseReply}, the id coming from the `correlationId`
 * header (a decimal string). Never throws.
 */
export function parseServiceReply(body: readonly Buffer[]): ReplyParse {
  const [status, payload, headersFrame] = body;
  if (status === undefined || payload === undefined || headersFrame === undefined) {
    return { kind: "malformed", id: undefined, reason: `a ${body.length}-frame reply body that is not [status, body, headers]` };
  }
  const tail = parseReplyTail(status, headersFrame);
  const text = typeof tail === "string" ? undefined : tail.headers?.correlationId;
  const id = text !== undefined && /^\d{1,10}$/.test(text) && Number(text) <= MAX_CORRELATION_ID ? Number(text) : undefined;
  if (typeof tail === "string") return { kind: "malformed", id, reason: tail };
  if (id === undefined) return { kind: "malformed", id, reason: "the reply headers carry no correlationId this client sent" };
  return { kind: "reply", id, ok: tail.ok, body: payload, headers: tail.headers };
}
