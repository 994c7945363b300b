/**
 * @packageDocumentation
 * ZAP 1.0 (rfc.zeromq.org 27/ZAP), the ZeroMQ Authentication Protocol: pure functions over frames, no sockets.
 *
 * libzmq, on a socket that has a security mechanism or a ZAP domain, asks the process's handler (a ROUTER bound to
 * {@link ZAP_ENDPOINT}) whether a connecting peer may pass. The handler's ROUTER receives
 * `[routing id…, "", "1.0", request id, domain, address, identity, mechanism, credentials…]` and answers
 * `[routing id…, "", "1.0", request id, status code, status text, user id, metadata]`.
 *
 * Credentials by mechanism: NULL none; PLAIN a username and a password; CURVE the client's 32-byte long-term
 * public key. The parser never throws: it returns a discriminated result, and a malformed request that still
 * carries an envelope and a request id can be answered (with status 500) instead of leaving libzmq waiting.
 *
 * One deviation from the letter of the RFC, on purpose: the domain may be empty. The RFC says it SHALL be
 * non-empty, but libzmq asks ZAP with an empty domain for a CURVE or PLAIN socket that has no `zapDomain`, and
 * that request must be answered (denied), not dropped.
 * @internal
 */
import { strictUtf8 } from "./headers.js";

/** Where a ZAP handler binds, in the same zmq context as the sockets it serves (27/ZAP). */
export const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
/** The version frame of ZAP 1.0. */
export const ZAP_VERSION = "1.0";
/** Longest string field (domain, address, mechanism, status text, user id, PLAIN credentials), in bytes. */
export const MAX_ZAP_STRING = 255;
/** Length of a CURVE long-term public key, in bytes. */
export const CURVE_KEY_BYTES = 32;

/** ZAP status codes: success, temporary error, authentication failure, internal error. */
export const ZapStatus = { OK: "200", TEMPORARY: "300", DENIED: "400", INTERNAL: "500" } as const;
/** One of the {@link ZapStatus} values. */
export type ZapStatus = (typeof ZapStatus)[keyof typeof ZapStatus];

/** A request's credentials, by mechanism. */
export type ZapCredentials =
  | { readonly mechanism: "NULL" }
  | { readonly mechanism: "PLAIN"; readonly username: string; readonly password: string }
  | { readonly mechanism: "CURVE"; readonly publicKey: Uint8Array };

/** Where a reply goes: the envelope (routing ids before the delimiter) and the request id to echo. */
export interface ZapReplyTo {
  readonly envelope: readonly Uint8Array[];
  readonly requestId: Uint8Array;
}

/** The fields every well-formed request has, whatever its mechanism. */
export interface ZapRequestHead extends ZapReplyTo {
  readonly domain: string;
  readonly address: string;
  readonly identity: Uint8Array;
}

/** What a ZAP handler received. */
export type ZapParse =
  /** A well-formed request of a mechanism ZAP defines. */
  | ({ readonly kind: "request"; readonly credentials: ZapCredentials } & ZapRequestHead)
  /** A well-formed request of another mechanism (GSSAPI, or one a future libzmq adds): answer, but deny. */
  | ({ readonly kind: "unsupported"; readonly mechanism: string } & ZapRequestHead)
  /** Not a ZAP 1.0 request. `replyTo` is present when the envelope and request id could be read. */
  | { readonly kind: "malformed"; readonly reason: string; readonly replyTo?: ZapReplyTo };

const EMPTY = Buffer.alloc(0);
const VERSION_FRAME = Buffer.from(ZAP_VERSION);

function readString(frame: Uint8Array, what: string, ascii: boolean): string | { readonly error: string } {
  if (frame.length > MAX_ZAP_STRING) return { error: `the ${what} is ${frame.length} bytes; at most ${MAX_ZAP_STRING}` };
  let text: string;
  try {
    text = strictUtf8.decode(frame);
  } catch {
    return { error: `the ${what} is not valid UTF-8` };
  }
  if (ascii && /[^\u0020-\u007e]/.test(text)) return { error: `the ${what} is not printable ASCII` };
  return text;
}

/**
 * Parses what a ZAP handler's ROUTER received (routing id frames included). Never throws.
 */
export function parseZapRequest(frames: readonly Uint8Array[]): ZapParse {
  const delimiter = frames.findIndex((frame) => frame.length === 0);
  if (delimiter < 1) return { kind: "malformed", reason: "no routing id and empty delimiter before the request" };
  const envelope = frames.slice(0, delimiter);
  const body = frames.slice(delimiter + 1);
  const [version, requestId, domainFrame, addressFrame, identity, mechanismFrame, ...credentials] = body;
  if (version === undefined || requestId === undefined) {
    return { kind: "malformed", reason: "the version or request id frame is missing" };
  }
  const replyTo: ZapReplyTo = { envelope, requestId };
  if (version.length !== VERSION_FRAME.length || Buffer.compare(version, VERSION_FRAME) !== 0) {
    return { kind: "malformed", reason: `the version is not "${ZAP_VERSION}"`, replyTo };
  }
  if (domainFrame === undefined || addressFrame === undefined || identity === undefined || mechanismFrame === undefined) {
    return { kind: "malformed", reason: `the request has ${body.length} frames after the delimiter; at least 6`, replyTo };
  }
  const domain = readString(domainFrame, "domain", true);
  if (typeof domain !== "string") return { kind: "malformed", reason: domain.error, replyTo };
  const address = readString(addressFrame, "address", true);
  if (typeof address !== "string") return { kind: "malformed", reason: address.error, replyTo };
  if (identity.length > MAX_ZAP_STRING) {
    return { kind: "malformed", reason: `the identity is ${identity.length} bytes; at most ${MAX_ZAP_STRING}`, replyTo };
  }
  const mechanism = readString(mechanismFrame, "mechanism", true);
  if (typeof mechanism !== "string") return { kind: "malformed", reason: mechanism.error, replyTo };
  if (mechanism === "") return { kind: "malformed", reason: "the mechanism is empty", replyTo };
  const head: ZapRequestHead = { envelope, requestId, domain, address, identity };
  const count = (expected: number): ZapParse | undefined =>
    credentials.length === expected
      ? undefined
      : {
          kind: "malformed",
          reason: `${mechanism} takes ${expected} credential frame${expected === 1 ? "" : "s"}, got ${credentials.length}`,
          replyTo,
        };
  switch (mechanism) {
    case "NULL":
      return count(0) ?? { kind: "request", ...head, credentials: { mechanism } };
    case "PLAIN": {
      const wrong = count(2);
      if (wrong !== undefined) return wrong;
      const username = readString(credentials[0] ?? EMPTY, "PLAIN username", false);
      if (typeof username !== "string") return { kind: "malformed", reason: username.error, replyTo };
      const password = readString(credentials[1] ?? EMPTY, "PLAIN password", false);
      if (typeof password !== "string") return { kind: "malformed", reason: password.error, replyTo };
      return { kind: "request", ...head, credentials: { mechanism, username, password } };
    }
    case "CURVE": {
      const wrong = count(1);
      if (wrong !== undefined) return wrong;
      const publicKey = credentials[0] ?? EMPTY;
      if (publicKey.length !== CURVE_KEY_BYTES) {
        return {
          kind: "malformed",
          reason: `the CURVE public key is ${publicKey.length} bytes; it must be ${CURVE_KEY_BYTES}`,
          replyTo,
        };
      }
      return { kind: "request", ...head, credentials: { mechanism, publicKey } };
    }
    default:
      return { kind: "unsupported", ...head, mechanism };
  }
}

/** What a reply says. `userId` is sent only with status 200 (the RFC requires it empty otherwise). */
export interface ZapReply {
  readonly status: ZapStatus;
  readonly statusText?: string;
  readonly userId?: string;
}

/** Keeps a text field within the RFC's limits: printable ASCII, at most 255 bytes. */
function asciiField(text: string | undefined): Buffer {
  return Buffer.from((text ?? "").replace(/[^\u0020-\u007e]/g, "?").slice(0, MAX_ZAP_STRING), "latin1");
}

/**
 * Encodes the reply to a request, envelope first, ready for the handler's ROUTER. The metadata frame is empty
 * (zeromq.js cannot read per-message metadata, so none is sent).
 */
export function encodeZapReply(to: ZapReplyTo, reply: ZapReply): Buffer[] {
  return [
    ...to.envelope.map((frame) => Buffer.from(frame)),
    EMPTY,
    VERSION_FRAME,
    Buffer.from(to.requestId),
    Buffer.from(reply.status),
    asciiField(reply.statusText),
    reply.status === ZapStatus.OK ? asciiField(reply.userId) : EMPTY,
    EMPTY,
  ];
}
