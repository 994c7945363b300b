/**
 * @packageDocumentation
 * W3C Trace Context (the Recommendation, https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate`
 * values that protocol 1.1 carries in its headers frame (docs/protocol.md, "Trace context").
 *
 * Pure functions, no sockets. A value that breaks the rules is reported as invalid, never thrown: a receiver then
 * acts as if the message carried no trace context (the recommendation's "restart the trace").
 * @internal
 */

/** A parsed `traceparent`: the four fields every version starts with. */
export interface TraceParent {
  /** Two lowercase hex digits; `"00"` for the layout this package writes. */
  readonly version: string;
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the id of the sender's span. */
  readonly parentId: string;
  /** The trace flags, a byte; bit 0 is `sampled`. */
  readonly flags: number;
}

/** Result of {@link parseTraceparent}. */
export type TraceparentParse =
  { readonly kind: "traceparent"; readonly value: TraceParent } | { readonly kind: "invalid"; readonly reason: string };

/** The length of a version 00 `traceparent`: `vv-<32>-<16>-ff`. */
const V00_LENGTH = 55;
const HEX2 = /^[0-9a-f]{2}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = "0".repeat(32);
const ZERO16 = "0".repeat(16);

function invalid(reason: string): TraceparentParse {
  return { kind: "invalid", reason };
}

/**
 * Reads a `traceparent` value. Version 00 must be exactly `00-<trace-id>-<parent-id>-<flags>` (55 characters,
 * lowercase hex). Version `ff` is invalid. A higher version is read by its first four fields, as the recommendation
 * says: it must be at least 55 characters, and anything after them must start with `-`.
 */
export function parseTraceparent(value: string): TraceparentParse {
  if (value.length < V00_LENGTH) return invalid(`it is ${value.length} characters, shorter than the 55 of version 00`);
  const version = value.slice(0, 2);
  if (!HEX2.test(version)) return invalid(`its version "${version}" is not two lowercase hex digits`);
  if (version === "ff") return invalid('its version is "ff", which the recommendation forbids');
  if (version === "00" && value.length !== V00_LENGTH) {
    return invalid(`it is ${value.length} characters; version 00 has exactly 55`);
  }
  if (value.length > V00_LENGTH && value[V00_LENGTH] !== "-") {
    return invalid("a higher version's fields after the fourth must start with a dash");
  }
  if (value[2] !== "-" || value[35] !== "-" || value[52] !== "-") {
    return invalid("its fields are not separated by dashes at positions 2, 35 and 52");
  }
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!HEX32.test(traceId)) return invalid("its trace-id is not 32 lowercase hex digits");
  if (traceId === ZERO32) return invalid("its trace-id is all zeros");
  if (!HEX16.test(parentId)) return invalid("its parent-id is not 16 lowercase hex digits");
  if (parentId === ZERO16) return invalid("its parent-id is all zeros");
  if (!HEX2.test(flags)) return invalid("its trace-flags are not two lowercase hex digits");
  return { kind: "traceparent", value: { version, traceId, parentId, flags: Number.parseInt(flags, 16) } };
}

/**
 * Writes a version 00 `traceparent` (only the flags' low byte is kept). The ids are not checked here: pass what
 * {@link parseTraceparent} or a tracer produced.
 */
export function formatTraceparent(traceId: string, parentId: string, flags: number): string {
  return `00-${traceId}-${parentId}-${(flags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The most list-members a `tracestate` may have. */
export const TRACESTATE_MAX_MEMBERS = 32;
/**
 * The longest `tracestate` this package accepts and passes on, in characters. The recommendation asks vendors to
 * propagate at least 512 and lets them drop what does not fit; a longer value is dropped whole.
 */
export const TRACESTATE_MAX_LENGTH = 512;

/** `simple-key`, or `tenant-id@system-id` (the recommendation's multi-tenant key). */
const KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
/** Up to 256 printable ASCII characters other than `,` and `=`, not ending in a space. */
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** Result of {@link checkTracestate}: the members' keys in order, or why the value is invalid. */
export type TracestateCheck =
  { readonly kind: "tracestate"; readonly keys: readonly string[] } | { readonly kind: "invalid"; readonly reason: string };

/**
 * Checks a `tracestate` value: comma-separated `key=value` list-members (optional spaces and tabs around each; empty
 * members are allowed and not counted), at most 32 members, each key once, at most 512 characters in all.
 */
export function checkTracestate(value: string): TracestateCheck {
  if (value.length > TRACESTATE_MAX_LENGTH) {
    return { kind: "invalid", reason: `it is ${value.length} characters, over the limit of ${TRACESTATE_MAX_LENGTH}` };
  }
  const keys: string[] = [];
  for (const raw of value.split(",")) {
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    if (member === "") continue;
    const eq = member.indexOf("=");
    const key = eq < 0 ? member : member.slice(0, eq);
    if (eq < 0) return { kind: "invalid", reason: `list-member "${member}" has no "="` };
    if (!KEY.test(key)) return { kind: "invalid", reason: `key "${key}" is not a valid tracestate key` };
    if (!VALUE.test(member.slice(eq + 1))) return { kind: "invalid", reason: `the value of key "${key}" is not valid` };
    if (keys.includes(key)) return { kind: "invalid", reason: `key "${key}" appears twice` };
    keys.push(key);
    if (keys.length > TRACESTATE_MAX_MEMBERS) {
      return { kind: "invalid", reason: `it has more than ${TRACESTATE_MAX_MEMBERS} list-members` };
    }
  }
  return { kind: "tracestate", keys };
}

/** A trace context as it travels: a valid `traceparent` and, when there is one and it is valid, its `tracestate`. */
export interface WireTraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/**
 * The trace context of a message's headers, or undefined when it has no valid `traceparent`. An invalid
 * `tracestate` is left out (the recommendation: a receiver discards a `tracestate` it cannot parse).
 */
export function readTraceContext(traceparent: unknown, tracestate: unknown): WireTraceContext | undefined {
  if (typeof traceparent !== "string" || parseTraceparent(traceparent).kind !== "traceparent") return undefined;
  if (typeof tracestate !== "string" || tracestate === "" || checkTracestate(tracestate).kind !== "tracestate") {
    return { traceparent };
  }
  return { traceparent, tracestate };
}
