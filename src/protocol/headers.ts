/**
 * @packageDocumentation
 * The headers frame of protocol 1.1 (docs/protocol.md, "Headers"): one optional frame holding a JSON object in
 * UTF-8, whatever codec the bodies use, so that any peer and any broker can read it without knowing the body codec.
 *
 * Pure functions, no sockets. Unknown keys are kept and ignored by every reader (the must-ignore rule); a known key
 * with a value of the wrong type makes the frame malformed, because that is a peer's bug worth reporting.
 * @internal
 */
import { isUtf8 } from "node:buffer";

/** The protocol version this package speaks, sent as the `version` header. */
export const PROTOCOL_VERSION = "1.4";

/**
 * The reserved header keys and their meaning. Every key is optional. Times are milliseconds.
 * @internal
 */
export interface MessageHeaders {
  /** Protocol version of the sender, for example `"1.2"`. */
  readonly version?: string;
  /** Absolute deadline: milliseconds since the Unix epoch after which the sender no longer wants an answer. */
  readonly deadline?: number;
  /** The time the sender had left when it sent the message (immune to clock skew; read with `deadline`). */
  readonly remainingMs?: number;
  /** A correlation id chosen by the sender; a server echoes it in the reply's headers. */
  readonly correlationId?: string;
  /** Name and version of the contract the message was written for, for example `"orders.v1"`. */
  readonly contract?: string;
  /** True when the method may safely run more than once (a retry is harmless). */
  readonly idempotent?: boolean;
  /** W3C Trace Context `traceparent`. */
  readonly traceparent?: string;
  /** W3C Trace Context `tracestate`. */
  readonly tracestate?: string;
  /** Pub-sub: a stable id of the publishing process. */
  readonly publisherId?: string;
  /** Pub-sub: the publisher's epoch; it changes when the publisher restarts, so sequence numbers start again. */
  readonly epoch?: number;
  /** Pub-sub: the message's sequence number within the publisher's epoch. */
  readonly seq?: number;
  /**
   * Pub-sub (1.3): the message's sequence number among this publisher's messages on exactly its topic, within the
   * epoch: 1, 2, 3, ... per wire topic. A subscriber that receives a topic sees every loss on it as a jump.
   */
  readonly topicSeq?: number;
  /**
   * RPC (1.4): in a request, the client can send call batches and asks whether the server reads them; in a reply,
   * the server says it does. A server answers `true` only to a request that asked.
   */
  readonly batch?: boolean;
  /** Keys this version does not know: kept, and ignored. */
  readonly [key: string]: unknown;
}

/** The type each reserved key must have; a frame breaking one of these is malformed. */
const KNOWN: Readonly<Record<string, "string" | "number" | "boolean">> = {
  version: "string",
  deadline: "number",
  remainingMs: "number",
  correlationId: "string",
  contract: "string",
  idempotent: "boolean",
  traceparent: "string",
  tracestate: "string",
  publisherId: "string",
  epoch: "number",
  seq: "number",
  topicSeq: "number",
  batch: "boolean",
};

/** {@link KNOWN} as a Map, made once: `parseHeaders` runs for every message (and every batched call) with headers. */
const KNOWN_TYPES = new Map(Object.entries(KNOWN));

/** The largest headers frame accepted, in bytes: headers are small; a huge one is a peer's bug or an attack. */
export const MAX_HEADERS_BYTES = 8_192;

/** Result of {@link parseHeaders}. */
export type HeadersParse =
  { readonly kind: "headers"; readonly headers: MessageHeaders } | { readonly kind: "malformed"; readonly reason: string };

/** Decodes UTF-8, refusing invalid byte sequences (every text frame of the protocol is strict UTF-8). */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads a headers frame: a JSON object in UTF-8 whose reserved keys have their documented types. */
export function parseHeaders(frame: Uint8Array): HeadersParse {
  if (frame.length > MAX_HEADERS_BYTES) {
    return { kind: "malformed", reason: `the headers frame is ${frame.length} bytes, over the limit of ${MAX_HEADERS_BYTES}` };
  }
  // isUtf8 + toString is what the fatal TextDecoder did (a leading BOM dropped as it did), in about half the time.
  if (!isUtf8(frame)) return { kind: "malformed", reason: "the headers frame is not a JSON object in UTF-8" };
  let value: unknown;
  try {
    let text = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString("utf8");
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    value = JSON.parse(text);
  } catch {
    return { kind: "malformed", reason: "the headers frame is not a JSON object in UTF-8" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "malformed", reason: "the headers frame is not a JSON object in UTF-8" };
  }
  // Only the keys the frame has (a few), not every reserved key: a JSON.parse object has no inherited enumerable key.
  for (const key in value) {
    const type = KNOWN_TYPES.get(key);
    if (type === undefined) continue;
    const field: unknown = Reflect.get(value, key);
    if (typeof field !== type) {
      return { kind: "malformed", reason: `header \`${key}\` must be a ${type}, got ${field === null ? "null" : typeof field}` };
    }
    if (type === "number" && !Number.isFinite(field)) {
      return { kind: "malformed", reason: `header \`${key}\` must be a finite number` };
    }
  }
  return { kind: "headers", headers: value as MessageHeaders };
}

/** Encodes headers as a frame, leaving out keys whose value is undefined. */
export function encodeHeaders(headers: MessageHeaders): Buffer {
  return Buffer.from(JSON.stringify(headers), "utf8");
}
