/**
 * @packageDocumentation
 * The headers frame of protocol 1.1 (docs/protocol.md): one JSON object in UTF-8, whatever codec the bodies use, so
 * any peer or broker can read it. Unknown keys are kept here and ignored by callers (the must-ignore rule).
 *
 * Minimal version written for pub-sub and pipelines; the RPC work reconciles it with the RPC keys.
 * @internal
 */
import { strictUtf8 } from "../internal/wire.js";

/** A decoded headers frame. Reserved pub-sub keys: `publisherId` (string), `epoch` (number), `seq` (number). */
export type Headers = {
  readonly [key: string]: unknown;
  /** Pub-sub: identifies the publisher (random per publisher unless configured). */
  readonly publisherId?: string;
  /** Pub-sub: the publisher's incarnation, ms since the epoch when it started. */
  readonly epoch?: number;
  /** Pub-sub: per-publisher sequence number of the message (1, 2, 3, ...). */
  readonly seq?: number;
};

/** Result of {@link parseHeaders}. */
export type ParsedHeaders = { readonly kind: "headers"; readonly headers: Headers } | { readonly kind: "malformed"; readonly reason: string };

/** Encodes headers as a JSON object in UTF-8. */
export function encodeHeaders(headers: Headers): Buffer {
  return Buffer.from(JSON.stringify(headers), "utf8");
}

/** Parses a headers frame: it must be UTF-8 JSON whose top level is an object (not an array, not null). */
export function parseHeaders(frame: Uint8Array): ParsedHeaders {
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(frame));
  } catch {
    return { kind: "malformed", reason: "the headers frame is not UTF-8 JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "malformed", reason: "the headers frame is not a JSON object" };
  }
  return { kind: "headers", headers: value as Headers }; // a JSON object: every key maps to a JSON value
}
