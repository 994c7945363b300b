/**
 * @packageDocumentation
 * RPC framing, protocol 1.4 (docs/protocol.md, "RPC"): pure functions over frames, no sockets.
 *
 * A request is `[...envelope, "", method, body, headers?, ...ignored]` and a reply
 * `[...envelope, "", status, body, headers?, ...ignored]`. Every v1 message (`[...envelope, "", method, body]`)
 * is a valid 1.1 message. Parsers return discriminated results so that every message kind has table-driven tests.
 *
 * 1.4 adds call batches (docs/protocol.md, "Call batches"): `[...envelope, "", "$batch", calls, headers?]`, each
 * record of `calls` a packed `[id, method, body, headers?]`, answered by `[...envelope, "", "$batch", replies]`, each
 * record of `replies` a packed `[id, status, body, headers?]` (`protocol/batch.ts` packs both levels).
 *
 * A server in worker mode reads the same payload (`[method, body, headers?]`) from the body of an MDP REQUEST
 * (`protocol/mdp.ts`) with {@link parsePayload}: one grammar for both.
 * @internal
 */
import { RECORD_HEADER_BYTES, pack, unpack } from "./batch.js";
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
/**
 * The method frame of a call batch (1.4), and the status frame of a reply batch:
 * `[...envelope, "", "$batch", packed, headers?]`. Sent only to a server that announced `"batch": true` in a reply's
 * headers.
 */
export const BATCH_METHOD = "$batch";
export const BATCH_FRAME = Buffer.from(BATCH_METHOD);

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
  | {
      readonly kind: "cancel";
      readonly envelope: Buffer[];
      readonly headers: MessageHeaders | undefined;
      /** 1.4: the id of the cancelled call inside the batch sent with this envelope (the notice's body frame). */
      readonly callId: Buffer | undefined;
    }
  /** 1.4: a call batch; `calls` is the packed frame, read with {@link parseBatchCalls}. */
  | { readonly kind: "batch"; readonly envelope: Buffer[]; readonly calls: Buffer }
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
    const callId = frames[start + 1];
    return {
      kind: "cancel",
      envelope,
      headers: parsed?.kind === "headers" ? parsed.headers : undefined,
      callId: callId === undefined || callId.length === 0 ? undefined : callId,
    };
  }
  if (isFrame(methodFrame, BATCH_FRAME)) {
    const calls = frames[start + 1];
    if (calls === undefined) {
      return { kind: "malformed", envelope, method: undefined, reason: "a $batch message without its packed calls frame" };
    }
    // A headers frame of the batch itself, and any later frame, is ignored: each call carries its own headers.
    return { kind: "batch", envelope, calls };
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

// ---------------------------------------------------------------------------------------------------------------
// Call batches (1.4): many calls in one message, many replies in another.

/** One call read from a batch: a request as {@link parsePayload} would give it, or why it is malformed. */
export type BatchCall =
  | {
      readonly kind: "request";
      readonly id: Buffer;
      readonly method: string;
      readonly body: Buffer;
      readonly headers: MessageHeaders | undefined;
    }
  | { readonly kind: "malformed"; readonly id: Buffer; readonly method: string | undefined; readonly reason: string };

/** What {@link parseBatchCalls} found: the calls, or a packed frame broken as a whole (no call can be answered). */
export type BatchParse =
  { readonly kind: "calls"; readonly calls: BatchCall[] } | { readonly kind: "malformed"; readonly reason: string };

/**
 * Reads the packed `calls` frame of a call batch. Each record is itself packed, `[id, method, body, headers?]`; a
 * record whose id can be read and whose rest is wrong is a malformed call (answered on its own), a record without a
 * readable non-empty id, or lengths that do not add up, make the whole batch malformed. Never throws.
 */
export function parseBatchCalls(packed: Buffer): BatchParse {
  const records = unpack(packed);
  if (records === undefined)
    return { kind: "malformed", reason: "the packed calls frame of a $batch: its lengths do not add up" };
  if (records.length === 0) return { kind: "malformed", reason: "a $batch with no calls" };
  const calls: BatchCall[] = [];
  for (const record of records) {
    const parts = unpack(record);
    const id = parts?.[0];
    if (parts === undefined || id === undefined || id.length === 0) {
      return {
        kind: "malformed",
        reason: "a call of a $batch whose id cannot be read (each call is packed [id, method, body, headers?])",
      };
    }
    const [, methodFrame, body, headersFrame] = parts;
    let method: string | undefined;
    try {
      method = methodFrame === undefined ? undefined : strictUtf8.decode(methodFrame);
    } catch {
      calls.push({ kind: "malformed", id, method: undefined, reason: "the method of a batched call is not valid UTF-8" });
      continue;
    }
    if (method === undefined || method.length === 0 || body === undefined || parts.length > 4) {
      const reason = `a batched call of ${parts.length} parts; each is packed [id, method, body, headers?], the method non-empty`;
      calls.push({ kind: "malformed", id, method: method || undefined, reason });
      continue;
    }
    if (method.startsWith("$")) {
      calls.push({ kind: "malformed", id, method, reason: `a batched call to "${method}": control methods cannot be batched` });
      continue;
    }
    if (headersFrame === undefined) {
      calls.push({ kind: "request", id, method, body, headers: undefined });
      continue;
    }
    const parsed = parseHeaders(headersFrame);
    if (parsed.kind === "malformed") calls.push({ kind: "malformed", id, method, reason: parsed.reason });
    else calls.push({ kind: "request", id, method, body, headers: parsed.headers });
  }
  return { kind: "calls", calls };
}

/** One record of a call batch: `[id, method, body, headers?]`, packed. */
export function encodeBatchCall(id: Uint8Array, method: Uint8Array, body: Uint8Array, headers?: Uint8Array): Buffer {
  const parts = headers === undefined ? [id, method, body] : [id, method, body, headers];
  return packAll(parts);
}

/**
 * {@link encodeBatchCall} for a typed client: the same bytes, `[id, method, body, headers]` packed, written into one
 * Buffer (no correlation frame, no headers Buffer, one copy of the body); `headers` is the headers' JSON text.
 */
export function encodeBatchCallRecord(id: number, method: Uint8Array, body: Uint8Array, headers: string): Buffer {
  const headersBytes = Buffer.byteLength(headers);
  const out = Buffer.allocUnsafe(4 * RECORD_HEADER_BYTES + 4 + method.length + body.length + headersBytes);
  out.writeUInt32BE(4, 0);
  out.writeUInt32BE(id, RECORD_HEADER_BYTES);
  let at = RECORD_HEADER_BYTES + 4;
  out.writeUInt32BE(method.length, at);
  out.set(method, at + RECORD_HEADER_BYTES);
  at += RECORD_HEADER_BYTES + method.length;
  out.writeUInt32BE(body.length, at);
  out.set(body, at + RECORD_HEADER_BYTES);
  at += RECORD_HEADER_BYTES + body.length;
  out.writeUInt32BE(headersBytes, at);
  out.write(headers, at + RECORD_HEADER_BYTES);
  return out;
}

/** One record of a reply batch: `[id, status, body, headers?]`, packed. */
export function encodeBatchReply(id: Uint8Array, ok: boolean, body: Uint8Array, headers?: Uint8Array): Buffer {
  const status = ok ? STATUS_OK_FRAME : STATUS_ERROR_FRAME;
  return packAll(headers === undefined ? [id, status, body] : [id, status, body, headers]);
}

/** Packs records, counting their bytes. */
export function packAll(records: readonly Uint8Array[]): Buffer {
  let bytes = 0;
  for (const record of records) bytes += record.length;
  return pack(records, bytes);
}

/** A batch message: `[...envelope, "", "$batch", packed]` (envelope without its delimiter). */
export function encodeBatch(envelope: readonly Uint8Array[], records: readonly Uint8Array[], bytes: number): Uint8Array[] {
  return [...envelope, DELIMITER, BATCH_FRAME, pack(records, bytes)];
}

/** The cancel notice of a call sent in a batch: `[...batch envelope, "", "$cancel", id]`. */
export function encodeBatchedCancel(batchFrame: Uint8Array, id: Uint8Array): Uint8Array[] {
  return [batchFrame, DELIMITER, CANCEL_FRAME, id];
}

/**
 * Reads the packed `replies` frame of a reply batch into replies as {@link parseReply} gives them, for a typed
 * client whose call ids are 4-byte frames. Undefined when the frame is broken as a whole. Never throws.
 */
export function parseBatchReplies(packed: Buffer): ReplyParse[] | undefined {
  const records = unpack(packed);
  if (records === undefined) return undefined;
  const replies: ReplyParse[] = [];
  for (const record of records) {
    const parts = unpack(record);
    const head = parts?.[0];
    const id = head?.length === 4 ? head.readUInt32BE(0) : undefined;
    const status = parts?.[1];
    const body = parts?.[2];
    if (parts === undefined || id === undefined || status === undefined || body === undefined) {
      replies.push({ kind: "malformed", id, reason: "a batched reply that is not packed [id, status, body, headers?]" });
      continue;
    }
    const tail = parseReplyTail(status, parts[3]);
    replies.push(
      typeof tail === "string"
        ? { kind: "malformed", id, reason: tail }
        : { kind: "reply", id, ok: tail.ok, body, headers: tail.headers },
    );
  }
  return replies;
}
