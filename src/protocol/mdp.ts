/**
 * @packageDocumentation
 * Majordomo Protocol 0.1 (rfc.zeromq.org 7/MDP) and its management interface (8/MMI): pure functions over
 * frames, no sockets. docs/protocol.md, "Majordomo", describes the wire and typed-zmq's two extensions.
 *
 * Frames are given as a ROUTER or DEALER sees them: a broker's parsers take the frames after the ROUTER's routing-id
 * frame has been split off; a worker's parser takes what its DEALER received. Parsers never throw and return
 * discriminated results, so every message kind has a table-driven test.
 *
 * typed-zmq extensions, each an extra trailing frame on a standard command (a strict peer ignores or never sees it):
 * - READY may carry a capacity after the service name: a decimal count of requests the worker takes at once, and
 *   after it a feature frame: `"batch"` (protocol 1.3, a reliable-pipeline worker that takes several tasks in one
 *   REQUEST; docs/protocol.md, "Reliable pipeline").
 * - HEARTBEAT may carry `"leaving"`: from a worker, "send me nothing new, I am closing"; the broker answers with the
 *   same frame once it has stopped, so every REQUEST it sent before has arrived (an acknowledged departure).
 * @internal
 */
import { strictUtf8 } from "./headers.js";

/** MDP/Client v0.1 header frame. */
export const MDPC01 = Buffer.from("MDPC01");
/** MDP/Worker v0.1 header frame. */
export const MDPW01 = Buffer.from("MDPW01");

/** Worker commands (one byte each). */
export const Command = { READY: 0x01, REQUEST: 0x02, REPLY: 0x03, HEARTBEAT: 0x04, DISCONNECT: 0x05 } as const;
/** One of the {@link Command} values. */
export type Command = (typeof Command)[keyof typeof Command];

const COMMAND_FRAMES: Readonly<Record<Command, Buffer>> = {
  [Command.READY]: Buffer.from([Command.READY]),
  [Command.REQUEST]: Buffer.from([Command.REQUEST]),
  [Command.REPLY]: Buffer.from([Command.REPLY]),
  [Command.HEARTBEAT]: Buffer.from([Command.HEARTBEAT]),
  [Command.DISCONNECT]: Buffer.from([Command.DISCONNECT]),
};

const EMPTY = Buffer.alloc(0);
/** The frame of the departure extension, on HEARTBEAT both ways. */
export const LEAVING = "leaving";
const LEAVING_FRAME = Buffer.from(LEAVING);
/** The READY feature frame of a worker that takes batched reliable-pipeline tasks (protocol 1.3). */
export const BATCH_FEATURE = "batch";
const BATCH_FEATURE_FRAME = Buffer.from(BATCH_FEATURE);

/** The MMI namespace: services starting with it are answered by the broker itself. */
export const MMI_PREFIX = "mmi.";
/** MMI reply codes (8/MMI). */
export const MmiStatus = { FOUND: "200", NOT_FOUND: "404", NOT_IMPLEMENTED: "501" } as const;
/** The MMI query every broker answers: is there a worker for this service? */
export const MMI_SERVICE = "mmi.service";
/** typed-zmq's discovery query: every service, its workers, their capacity and load, as JSON. */
export const MMI_SERVICES = "mmi.services";

/** Longest service name accepted, in bytes (a printable string that is also a map key). */
export const MAX_SERVICE_BYTES = 255;

function same(frame: Uint8Array | undefined, text: Buffer): boolean {
  return frame !== undefined && frame.length === text.length && Buffer.compare(frame, text) === 0;
}

/** Reads a service name: printable UTF-8 text of 1 to 255 bytes, no control characters. */
export function readServiceName(frame: Uint8Array | undefined): string | { readonly error: string } {
  if (frame === undefined) return { error: "the service name frame is missing" };
  if (frame.length === 0 || frame.length > MAX_SERVICE_BYTES) {
    return { error: `the service name is ${frame.length} bytes; it must be 1 to ${MAX_SERVICE_BYTES}` };
  }
  let name: string;
  try {
    name = strictUtf8.decode(frame);
  } catch {
    return { error: "the service name is not valid UTF-8" };
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) return { error: "the service name contains control characters" };
  return name;
}

// ---------------------------------------------------------------------------------------------------------------
// MDP/Client, as the broker's frontend ROUTER sees it (routing id already split off).

/** What a broker's frontend received. */
export type ClientMessage =
  /** An MDP request: `envelope` is every frame before the delimiter (usually none after the routing id). */
  | {
      readonly kind: "request";
      readonly envelope: Buffer[];
      readonly service: string;
      readonly body: Buffer[];
    }
  /** A request of typed-zmq's RPC protocol without the MDPC01 frame (a v1 client): `[method, body, headers?]`. */
  | { readonly kind: "legacy"; readonly envelope: Buffer[]; readonly body: Buffer[] }
  /** Has a delimiter, so it can be answered, but breaks MDP/Client: answer with `reason`. */
  | { readonly kind: "malformed"; readonly envelope: Buffer[]; readonly service: string | undefined; readonly reason: string }
  /** No delimiter: nothing to answer to; drop and count it. */
  | { readonly kind: "unanswerable"; readonly frames: number };

/**
 * Parses what a broker's frontend read after the routing id: `[...envelope, "", "MDPC01", service, ...body]`, or a
 * v1 RPC request `[...envelope, "", method, body, ...]` (no MDPC01 frame).
 */
export function parseClientMessage(frames: Buffer[]): ClientMessage {
  let d = -1;
  for (let i = 0; i < frames.length; i++) {
    if (frames[i]?.length === 0) {
      d = i;
      break;
    }
  }
  if (d < 0) return { kind: "unanswerable", frames: frames.length };
  const envelope = frames.slice(0, d);
  if (!same(frames[d + 1], MDPC01)) return { kind: "legacy", envelope, body: frames.slice(d + 1) };
  const service = readServiceName(frames[d + 2]);
  if (typeof service !== "string") {
    return { kind: "malformed", envelope, service: undefined, reason: `${service.error}; send ["MDPC01", service, ...body]` };
  }
  const body = frames.slice(d + 3);
  if (body.length === 0) {
    return { kind: "malformed", envelope, service, reason: "the request has no body frame; send at least one after the service" };
  }
  return { kind: "request", envelope, service, body };
}

/** A reply to an MDP client: `[...envelope, "", "MDPC01", service, ...body]` (the frontend ROUTER adds the routing id). */
export function encodeClientReply(envelope: readonly Uint8Array[], service: string, body: readonly Uint8Array[]): Uint8Array[] {
  return [...envelope, EMPTY, MDPC01, Buffer.from(service, "utf8"), ...body];
}

/** A DEALER client's request: `["", "MDPC01", service, ...body]` (a REQ socket adds the empty frame itself). */
export function encodeClientRequest(service: Buffer, body: readonly Uint8Array[]): Uint8Array[] {
  return [EMPTY, MDPC01, service, ...body];
}

/** What a DEALER client received from a broker. */
export type ClientReply =
  | { readonly kind: "reply"; readonly service: string; readonly body: Buffer[] }
  | { readonly kind: "malformed"; readonly reason: string };

/** Parses a broker's reply as a DEALER client receives it: `["", "MDPC01", service, ...body]`. */
export function parseClientReply(frames: Buffer[]): ClientReply {
  if (frames[0]?.length !== 0 || !same(frames[1], MDPC01)) {
    return { kind: "malformed", reason: `a ${frames.length}-frame message that is not ["", "MDPC01", service, ...body]` };
  }
  const service = readServiceName(frames[2]);
  if (typeof service !== "string") return { kind: "malformed", reason: service.error };
  return { kind: "reply", service, body: frames.slice(3) };
}

// ---------------------------------------------------------------------------------------------------------------
// MDP/Worker. Every command is ["", "MDPW01", command, ...].

/** A worker command, parsed. Used both ways: the broker parses what workers send, a worker what the broker sends. */
export type WorkerCommand =
  /** Worker to broker. `capacity` is the typed-zmq extension (undefined when absent: one at a time). */
  | {
      readonly kind: "ready";
      readonly service: string;
      readonly capacity: number | undefined;
      /** Protocol 1.3: the worker takes several reliable-pipeline tasks in one REQUEST (the `"batch"` feature frame). */
      readonly batch: boolean;
    }
  /** Broker to worker: `client` is the opaque client-address frame to echo in the REPLY. */
  | { readonly kind: "request"; readonly client: Buffer; readonly body: Buffer[] }
  /** Worker to broker. */
  | { readonly kind: "reply"; readonly client: Buffer; readonly body: Buffer[] }
  /** Either way; `leaving` is the departure extension. */
  | { readonly kind: "heartbeat"; readonly leaving: boolean }
  /** Either way. */
  | { readonly kind: "disconnect" }
  /** Not a valid MDP/Worker command. */
  | { readonly kind: "invalid"; readonly reason: string };

function parseCapacity(frame: Buffer | undefined): number | undefined | { readonly error: string } {
  if (frame === undefined) return undefined;
  const text = frame.toString("latin1");
  if (!/^[1-9]\d{0,5}$/.test(text))
    return { error: `the capacity frame must be a decimal count from 1 to 999999, got "${text.slice(0, 20)}"` };
  return Number(text);
}

/**
 * Parses an MDP/Worker command: `["", "MDPW01", command, ...]`. Frames a standard command does not define are
 * ignored, except the typed-zmq extensions (a READY's capacity, a HEARTBEAT's `"leaving"`), which are read unless
 * `strict` is set.
 */
export function parseWorkerCommand(frames: Buffer[], strict = false): WorkerCommand {
  if (frames[0]?.length !== 0 || !same(frames[1], MDPW01)) {
    return { kind: "invalid", reason: `a ${frames.length}-frame message that does not start with ["", "MDPW01"]` };
  }
  const command = frames[2];
  if (command?.length !== 1) return { kind: "invalid", reason: "the command frame must be one byte (0x01 to 0x05)" };
  switch (command[0]) {
    case Command.READY: {
      const service = readServiceName(frames[3]);
      if (typeof service !== "string") return { kind: "invalid", reason: `READY: ${service.error}` };
      const capacity = strict ? undefined : parseCapacity(frames[4]);
      if (typeof capacity === "object") return { kind: "invalid", reason: `READY: ${capacity.error}` };
      // The feature frame follows the capacity frame only: a READY without a capacity has none.
      const batch = capacity !== undefined && same(frames[5], BATCH_FEATURE_FRAME);
      return { kind: "ready", service, capacity, batch };
    }
    case Command.REQUEST:
    case Command.REPLY: {
      const client = frames[3];
      const name = command[0] === Command.REQUEST ? "REQUEST" : "REPLY";
      if (client === undefined || frames[4]?.length !== 0) {
        return { kind: "invalid", reason: `${name}: expected a client address frame and an empty frame after the command` };
      }
      const body = frames.slice(5);
      return command[0] === Command.REQUEST ? { kind: "request", client, body } : { kind: "reply", client, body };
    }
    case Command.HEARTBEAT:
      return { kind: "heartbeat", leaving: !strict && same(frames[3], LEAVING_FRAME) };
    case Command.DISCONNECT:
      return { kind: "disconnect" };
    default:
      return { kind: "invalid", reason: `unknown command 0x${command[0]!.toString(16).padStart(2, "0")}` };
  }
}

/**
 * READY: `["", "MDPW01", 0x01, service(, capacity(, "batch"))]`; the capacity frame is left out when undefined
 * (strict MDP), and the feature frame with it.
 */
export function encodeReady(service: string, capacity?: number, batch = false): Buffer[] {
  const frames = [EMPTY, MDPW01, COMMAND_FRAMES[Command.READY], Buffer.from(service, "utf8")];
  if (capacity !== undefined) {
    frames.push(Buffer.from(String(capacity)));
    if (batch) frames.push(BATCH_FEATURE_FRAME);
  }
  return frames;
}

/** REQUEST (broker to worker): `["", "MDPW01", 0x02, client, "", ...body]`. */
export function encodeWorkerRequest(client: Buffer, body: readonly Uint8Array[]): Uint8Array[] {
  return [EMPTY, MDPW01, COMMAND_FRAMES[Command.REQUEST], client, EMPTY, ...body];
}

/** REPLY (worker to broker): `["", "MDPW01", 0x03, client, "", ...body]`. */
export function encodeWorkerReply(client: Buffer, body: readonly Uint8Array[]): Uint8Array[] {
  return [EMPTY, MDPW01, COMMAND_FRAMES[Command.REPLY], client, EMPTY, ...body];
}

/** HEARTBEAT: `["", "MDPW01", 0x04]`, or with the departure extension `["", "MDPW01", 0x04, "leaving"]`. */
export function encodeHeartbeat(leaving = false): Buffer[] {
  const frames = [EMPTY, MDPW01, COMMAND_FRAMES[Command.HEARTBEAT]];
  if (leaving) frames.push(LEAVING_FRAME);
  return frames;
}

/** DISCONNECT: `["", "MDPW01", 0x05]`. */
export function encodeDisconnect(): Buffer[] {
  return [EMPTY, MDPW01, COMMAND_FRAMES[Command.DISCONNECT]];
}
