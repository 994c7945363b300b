/**
 * @packageDocumentation
 * The reliable pipeline, protocol 1.3 (docs/protocol.md, "Reliable pipeline"): pure functions over frames, no
 * sockets. Two faces of a `PipelineBroker`:
 *
 * - **Queue clients** (sources and sinks, `DEALER` to the broker's frontend `ROUTER`) speak `TZPC01`:
 *   `["", "TZPC01", command, ...]`, as MDP's clients do, so the grammar of control traffic is its own.
 * - **Workers** (the backend `ROUTER`) speak Majordomo 0.1 (mdp.ts): the service is the queue's name, a REQUEST's
 *   body is a task (this file's {@link encodeTask}/{@link parseTask}) and the REPLY's body its outcome
 *   ({@link encodeTaskReply}/{@link parseTaskReply}). A worker written from RFC 7 takes one task per REQUEST and may
 *   ignore the task's headers frame; typed workers that announce the `"batch"` feature get several at once.
 *
 * Lists travel as packed frames (batch.ts: `[u32 length][bytes]` records). Parsers never throw and return
 * discriminated results, so every message kind has a table-driven test.
 * @internal
 */
import { isAscii, isUtf8 } from "node:buffer";
import { pack, RECORD_HEADER_BYTES, unpack } from "./batch.js";
import { parseHeaders } from "./headers.js";
import { STATUS_ERROR_FRAME } from "../internal/wire.js";

/** The queue-client protocol's signature frame. */
export const TZPC01 = Buffer.from("TZPC01");

/** Queue-client commands (one byte each); which side sends each is in docs/protocol.md. */
export const QueueCommand = {
  /** Source → broker: `[queue, ids, bodies]`. */
  PUSH: 0x01,
  /** Broker → source: `[ids]`: stored (durable: committed). */
  ACCEPTED: 0x02,
  /** Broker → source: `[ids, error]`, error JSON `{ code, message }`: not stored. */
  REJECTED: 0x03,
  /** Sink → broker: `[queue, window]`: "I am a sink of queue; send me at most window results not yet taken". */
  FETCH: 0x04,
  /** Broker → sink: `[queue, ids, outcomes]`. */
  RESULTS: 0x05,
  /** Sink → broker: `[queue, ids]`: these results reached user code; forget them. */
  TAKEN: 0x06,
  /** Either way. */
  HEARTBEAT: 0x07,
  /** Either way: the sender forgets the peer (a sink hearing it from the broker sends FETCH again). */
  DISCONNECT: 0x08,
} as const;
/** One of the {@link QueueCommand} values. */
export type QueueCommand = (typeof QueueCommand)[keyof typeof QueueCommand];

/**
 * The status byte of an outcome record: worker → broker in a batch REPLY (0, 1, 2) and broker → sink in RESULTS
 * (0, 1, 3).
 */
export const OutcomeStatus = {
  /** A result: the body is the codec-encoded result. */
  OK: 0,
  /** A final failure: the body is the codec-encoded `{ code, message, details? }` the worker sent. */
  FAILED: 1,
  /** Worker → broker only: a failure worth another delivery (an unexpected handler error). Body as FAILED. */
  RETRY: 2,
  /** Broker → sink only: a failure the broker made (`POISON_TASK`): the body is JSON `{ code, message, details }`. */
  BROKER_FAILED: 3,
} as const;
/** One of the {@link OutcomeStatus} values. */
export type OutcomeStatus = (typeof OutcomeStatus)[keyof typeof OutcomeStatus];

/** An outcome: its status and body. */
export interface Outcome {
  readonly status: OutcomeStatus;
  readonly body: Buffer;
}

/** Longest task id and queue name, in UTF-8 bytes (as MDP service names). */
export const MAX_ID_BYTES = 255;
/** Largest FETCH window. */
export const MAX_WINDOW = 1_000_000;

const EMPTY = Buffer.alloc(0);
const COMMAND_FRAMES: readonly Buffer[] = Array.from({ length: 9 }, (_, i) => Buffer.from([i]));

function same(frame: Uint8Array | undefined, text: Buffer): boolean {
  return frame !== undefined && frame.length === text.length && text.equals(frame);
}

/** A queue name or task id: 1 to 255 bytes of UTF-8. */
function readName(frame: Buffer | undefined, what: string): string | { readonly error: string } {
  if (frame === undefined) return { error: `the ${what} frame is missing` };
  if (frame.length === 0 || frame.length > MAX_ID_BYTES)
    return { error: `a ${what} must be 1 to ${MAX_ID_BYTES} bytes, got ${frame.length}` };
  return isUtf8(frame) ? frame.toString("utf8") : { error: `the ${what} is not valid UTF-8` };
}

function readIds(frame: Buffer | undefined): string[] | { readonly error: string } {
  if (frame === undefined) return { error: "the ids frame is missing" };
  // Every id of every PUSH, REPLY, ACCEPTED, RESULTS and TAKEN passes here, so this is a hot path. The records are
  // walked by their lengths (no view per id). When the whole frame is ASCII (ids as typed sources make them, and
  // the length prefixes of ids under 128 bytes), it is decoded once and each id is a slice of that string: one
  // native call per frame instead of a UTF-8 check and a decode per id (the broker core's CPU per task fell by
  // about a fifth). Other frames take the careful path, one id at a time; both give the same ids and errors.
  const bounds: number[] = [];
  let at = 0;
  while (at < frame.length) {
    if (at + RECORD_HEADER_BYTES > frame.length) return { error: "the ids frame has lengths that do not add up to its size" };
    const end = at + RECORD_HEADER_BYTES + frame.readUInt32BE(at);
    if (end > frame.length) return { error: "the ids frame has lengths that do not add up to its size" };
    bounds.push(at + RECORD_HEADER_BYTES, end);
    at = end;
  }
  if (bounds.length === 0) return { error: "the ids frame holds no id" };
  const ids: string[] = new Array<string>(bounds.length / 2);
  const text = isAscii(frame) ? frame.toString("latin1") : undefined;
  for (let i = 0; i < bounds.length; i += 2) {
    const start = bounds[i]!;
    const end = bounds[i + 1]!;
    if (text !== undefined) {
      const length = end - start;
      if (length === 0 || length > MAX_ID_BYTES) return { error: `a task id must be 1 to ${MAX_ID_BYTES} bytes, got ${length}` };
      ids[i / 2] = text.slice(start, end);
    } else {
      const id = readName(frame.subarray(start, end), "task id");
      if (typeof id !== "string") return id;
      ids[i / 2] = id;
    }
  }
  return ids;
}

/**
 * Packs strings (ids, queue-side lists) into one frame. ASCII ids (the usual case) are written char by char into
 * one allocation, with no Buffer per id (per id, a `Buffer.from` cost more than the rest of the packing); the first
 * char over 0x7f sends the whole list down the UTF-8 path.
 */
export function packIds(ids: readonly string[]): Buffer {
  let chars = 0;
  for (const id of ids) chars += id.length;
  const out = Buffer.allocUnsafe(chars + RECORD_HEADER_BYTES * ids.length);
  let at = 0;
  for (const id of ids) {
    const length = id.length;
    out.writeUInt32BE(length, at);
    at += RECORD_HEADER_BYTES;
    for (let k = 0; k < length; k++) {
      const code = id.charCodeAt(k);
      if (code > 0x7f) return packBuffers(ids.map((each) => Buffer.from(each, "utf8")));
      out[at + k] = code;
    }
    at += length;
  }
  return out;
}

function packBuffers(bodies: readonly Uint8Array[]): Buffer {
  let bytes = 0;
  for (const body of bodies) bytes += body.length;
  return pack(bodies, bytes);
}

/** Packs outcomes: each record is the status byte followed by the body. */
export function packOutcomes(outcomes: readonly Outcome[]): Buffer {
  let bytes = 0;
  for (const outcome of outcomes) bytes += outcome.body.length + 1;
  const out = Buffer.allocUnsafe(bytes + RECORD_HEADER_BYTES * outcomes.length);
  let at = 0;
  for (const { status, body } of outcomes) {
    out.writeUInt32BE(body.length + 1, at);
    out[at + RECORD_HEADER_BYTES] = status;
    out.set(body, at + RECORD_HEADER_BYTES + 1);
    at += RECORD_HEADER_BYTES + 1 + body.length;
  }
  return out;
}

function readOutcomes(
  frame: Buffer | undefined,
  count: number,
  allowed: readonly OutcomeStatus[],
): Outcome[] | { readonly error: string } {
  if (frame === undefined) return { error: "the outcomes frame is missing" };
  const records = unpack(frame);
  if (records === undefined) return { error: "the outcomes frame has lengths that do not add up to its size" };
  if (records.length !== count) return { error: `${count} ids but ${records.length} outcomes` };
  const outcomes: Outcome[] = [];
  for (const record of records) {
    const status = record[0];
    if (status === undefined || !(allowed as readonly number[]).includes(status))
      return { error: `an outcome record has status ${status ?? "(none)"}, expected one of ${allowed.join(", ")}` };
    outcomes.push({ status: status as OutcomeStatus, body: record.subarray(1) });
  }
  return outcomes;
}

// ---------------------------------------------------------------------------------------------------------------
// Queue clients: every command is ["", "TZPC01", command, ...] as the DEALER sends it; the broker parses the frames
// after its ROUTER's routing-id frame.

/** What a queue client sent, parsed by the broker. */
export type QueueClientMessage =
  | { readonly kind: "push"; readonly queue: string; readonly ids: string[]; readonly bodies: Buffer[] }
  | { readonly kind: "fetch"; readonly queue: string; readonly window: number }
  | { readonly kind: "taken"; readonly queue: string; readonly ids: string[] }
  | { readonly kind: "heartbeat" }
  | { readonly kind: "disconnect" }
  | { readonly kind: "malformed"; readonly reason: string };

/** What the broker sent, parsed by a queue client. */
export type QueueBrokerMessage =
  | { readonly kind: "accepted"; readonly ids: string[] }
  | { readonly kind: "rejected"; readonly ids: string[]; readonly code: string; readonly message: string }
  | { readonly kind: "results"; readonly queue: string; readonly ids: string[]; readonly outcomes: Outcome[] }
  | { readonly kind: "heartbeat" }
  | { readonly kind: "disconnect" }
  | { readonly kind: "malformed"; readonly reason: string };

function commandOf(frames: readonly Buffer[]): number | { readonly error: string } {
  if (frames[0]?.length !== 0 || !same(frames[1], TZPC01))
    return { error: `a ${frames.length}-frame message that does not start with ["", "TZPC01"]` };
  const command = frames[2];
  if (command?.length !== 1) return { error: "the command frame must be one byte (0x01 to 0x08)" };
  return command[0]!;
}

const CLIENT_NAMES: Readonly<Record<number, string>> = { 1: "PUSH", 4: "FETCH", 6: "TAKEN" };

/** Parses what a source or sink sent (the frames after the routing id). Never throws. */
export function parseQueueClientMessage(frames: readonly Buffer[]): QueueClientMessage {
  const command = commandOf(frames);
  if (typeof command === "object") return { kind: "malformed", reason: command.error };
  if (command === QueueCommand.HEARTBEAT) return { kind: "heartbeat" };
  if (command === QueueCommand.DISCONNECT) return { kind: "disconnect" };
  const name = CLIENT_NAMES[command];
  if (name === undefined) {
    return { kind: "malformed", reason: `command 0x${command.toString(16).padStart(2, "0")} is not one a client sends` };
  }
  const queue = readName(frames[3], "queue name");
  if (typeof queue !== "string") return { kind: "malformed", reason: `${name}: ${queue.error}` };
  if (command === QueueCommand.FETCH) {
    const text = frames[4]?.toString("latin1") ?? "";
    if (!/^[1-9]\d{0,6}$/.test(text) || Number(text) > MAX_WINDOW)
      return {
        kind: "malformed",
        reason: `FETCH: the window must be a decimal count from 1 to ${MAX_WINDOW}, got "${text.slice(0, 20)}"`,
      };
    return { kind: "fetch", queue, window: Number(text) };
  }
  const ids = readIds(frames[4]);
  if (!Array.isArray(ids)) return { kind: "malformed", reason: `${name}: ${ids.error}` };
  if (command === QueueCommand.TAKEN) return { kind: "taken", queue, ids };
  const bodies = frames[5] === undefined ? undefined : unpack(frames[5]);
  if (bodies === undefined)
    return { kind: "malformed", reason: "PUSH: the bodies frame is missing or its lengths do not add up" };
  if (bodies.length !== ids.length) return { kind: "malformed", reason: `PUSH: ${ids.length} ids but ${bodies.length} bodies` };
  return { kind: "push", queue, ids, bodies };
}

/** Parses what the broker sent to a source or sink. Never throws. */
export function parseQueueBrokerMessage(frames: readonly Buffer[]): QueueBrokerMessage {
  const command = commandOf(frames);
  if (typeof command === "object") return { kind: "malformed", reason: command.error };
  switch (command) {
    case QueueCommand.HEARTBEAT:
      return { kind: "heartbeat" };
    case QueueCommand.DISCONNECT:
      return { kind: "disconnect" };
    case QueueCommand.ACCEPTED:
    case QueueCommand.REJECTED: {
      const ids = readIds(frames[3]);
      const name = command === QueueCommand.ACCEPTED ? "ACCEPTED" : "REJECTED";
      if (!Array.isArray(ids)) return { kind: "malformed", reason: `${name}: ${ids.error}` };
      if (command === QueueCommand.ACCEPTED) return { kind: "accepted", ids };
      const error = readError(frames[4]);
      if (error === undefined) return { kind: "malformed", reason: "REJECTED: the error frame is not JSON { code, message }" };
      return { kind: "rejected", ids, code: error.code, message: error.message };
    }
    case QueueCommand.RESULTS: {
      const queue = readName(frames[3], "queue name");
      if (typeof queue !== "string") return { kind: "malformed", reason: `RESULTS: ${queue.error}` };
      const ids = readIds(frames[4]);
      if (!Array.isArray(ids)) return { kind: "malformed", reason: `RESULTS: ${ids.error}` };
      const outcomes = readOutcomes(frames[5], ids.length, [OutcomeStatus.OK, OutcomeStatus.FAILED, OutcomeStatus.BROKER_FAILED]);
      if (!Array.isArray(outcomes)) return { kind: "malformed", reason: `RESULTS: ${outcomes.error}` };
      return { kind: "results", queue, ids, outcomes };
    }
    default:
      return { kind: "malformed", reason: `command 0x${command.toString(16).padStart(2, "0")} is not one the broker sends` };
  }
}

function readError(frame: Buffer | undefined): { code: string; message: string } | undefined {
  if (frame === undefined) return undefined;
  if (!isUtf8(frame)) return undefined;
  try {
    const value: unknown = JSON.parse(frame.toString("utf8"));
    if (typeof value !== "object" || value === null) return undefined;
    const { code, message } = value as { code?: unknown; message?: unknown };
    return typeof code === "string" && typeof message === "string" ? { code, message } : undefined;
  } catch {
    return undefined;
  }
}

function command(code: QueueCommand): Buffer {
  return COMMAND_FRAMES[code]!;
}

/** PUSH (source → broker): `["", "TZPC01", 0x01, queue, ids, bodies]`. */
export function encodePush(queue: string, ids: readonly string[], bodies: readonly Uint8Array[]): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.PUSH), Buffer.from(queue, "utf8"), packIds(ids), packBuffers(bodies)];
}

/** ACCEPTED (broker → source): `["", "TZPC01", 0x02, ids]`. */
export function encodeAccepted(ids: readonly string[]): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.ACCEPTED), packIds(ids)];
}

/** REJECTED (broker → source): `["", "TZPC01", 0x03, ids, error]`, error JSON `{ code, message }`. */
export function encodeRejected(ids: readonly string[], code: string, message: string): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.REJECTED), packIds(ids), Buffer.from(JSON.stringify({ code, message }))];
}

/** FETCH (sink → broker): `["", "TZPC01", 0x04, queue, window]`. */
export function encodeFetch(queue: string, window: number): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.FETCH), Buffer.from(queue, "utf8"), Buffer.from(String(window))];
}

/** RESULTS (broker → sink): `["", "TZPC01", 0x05, queue, ids, outcomes]`. */
export function encodeResults(queue: string, ids: readonly string[], outcomes: readonly Outcome[]): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.RESULTS), Buffer.from(queue, "utf8"), packIds(ids), packOutcomes(outcomes)];
}

/** TAKEN (sink → broker): `["", "TZPC01", 0x06, queue, ids]`. */
export function encodeTaken(queue: string, ids: readonly string[]): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.TAKEN), Buffer.from(queue, "utf8"), packIds(ids)];
}

/** HEARTBEAT (either way): `["", "TZPC01", 0x07]`. */
export function encodeQueueHeartbeat(): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.HEARTBEAT)];
}

/** DISCONNECT (either way): `["", "TZPC01", 0x08]`. */
export function encodeQueueDisconnect(): Buffer[] {
  return [EMPTY, TZPC01, command(QueueCommand.DISCONNECT)];
}

/** The JSON body of a failure the broker makes (status {@link OutcomeStatus.BROKER_FAILED}). */
export function encodeBrokerFailure(code: string, message: string, details: Readonly<Record<string, unknown>>): Buffer {
  return Buffer.from(JSON.stringify({ code, message, details }));
}

// ---------------------------------------------------------------------------------------------------------------
// Workers: the body of an MDP REQUEST (a task, or a batch of tasks) and of its REPLY (the outcome, or outcomes).

/** One task as the broker dispatches it. */
export interface DispatchedTask {
  readonly id: string;
  /** 1 on the first delivery. */
  readonly delivery: number;
  readonly body: Buffer;
}

/** The body of a REQUEST, parsed by a worker. */
export type TaskFrames =
  | { readonly kind: "task"; readonly task: DispatchedTask }
  | { readonly kind: "batch"; readonly tasks: DispatchedTask[] }
  | { readonly kind: "malformed"; readonly reason: string };

/**
 * One task: `[body, H]`, H the JSON `{"taskId": id, "delivery": n}`. A worker written from RFC 7 alone may ignore H
 * and answer `[result]`.
 */
export function encodeTask(task: DispatchedTask): Buffer[] {
  return [task.body, Buffer.from(JSON.stringify({ taskId: task.id, delivery: task.delivery }))];
}

/**
 * Several tasks, to a worker that announced `"batch"`: `["", ids, bodies, deliveries]`, deliveries one byte per
 * task (the delivery count, 255 for 255 or more).
 */
export function encodeTaskBatch(tasks: readonly DispatchedTask[]): Buffer[] {
  const deliveries = Buffer.allocUnsafe(tasks.length);
  tasks.forEach((task, i) => (deliveries[i] = Math.min(task.delivery, 255)));
  return [EMPTY, packIds(tasks.map((task) => task.id)), packBuffers(tasks.map((task) => task.body)), deliveries];
}

/** Parses the body of a REQUEST (what follows the client-address and empty frames). Never throws. */
export function parseTask(frames: readonly Buffer[]): TaskFrames {
  const first = frames[0];
  if (first === undefined) return { kind: "malformed", reason: "a REQUEST without a task" };
  if (first.length === 0) {
    if (frames.length !== 4) return { kind: "malformed", reason: `a task batch has 4 frames, got ${frames.length}` };
    const ids = readIds(frames[1]);
    if (!Array.isArray(ids)) return { kind: "malformed", reason: `task batch: ${ids.error}` };
    const bodies = unpack(frames[2]!);
    if (bodies?.length !== ids.length)
      return { kind: "malformed", reason: `task batch: ${ids.length} ids but ${bodies?.length ?? "unreadable"} bodies` };
    const deliveries = frames[3]!;
    if (deliveries.length !== ids.length)
      return { kind: "malformed", reason: `task batch: ${ids.length} ids but ${deliveries.length} delivery counts` };
    return { kind: "batch", tasks: ids.map((id, i) => ({ id, delivery: deliveries[i]!, body: bodies[i]! })) };
  }
  if (frames.length !== 2) return { kind: "malformed", reason: `a task has 2 frames ([body, H]), got ${frames.length}` };
  const headers = parseHeaders(frames[1]!);
  if (headers.kind === "malformed") return { kind: "malformed", reason: `task headers: ${headers.reason}` };
  const { taskId, delivery } = headers.headers as { taskId?: unknown; delivery?: unknown };
  if (typeof taskId !== "string" || taskId.length === 0)
    return { kind: "malformed", reason: 'task headers: "taskId" must be a non-empty string' };
  if (typeof delivery !== "number" || !Number.isInteger(delivery) || delivery < 1)
    return { kind: "malformed", reason: 'task headers: "delivery" must be a positive integer' };
  return { kind: "task", task: { id: taskId, delivery, body: first } };
}

/** The body of a REPLY, parsed by the broker. */
export type TaskReplyFrames =
  | { readonly kind: "outcome"; readonly outcome: Outcome }
  | { readonly kind: "batch"; readonly ids: string[]; readonly outcomes: Outcome[] }
  | { readonly kind: "malformed"; readonly reason: string };

const RETRY_HEADERS = Buffer.from('{"retry":true}');

/**
 * The REPLY body for one task: `[result]`, `["error", failure]` (final), or `["error", failure, {"retry":true}]`
 * (deliver again).
 */
export function encodeTaskReply(outcome: Outcome): Buffer[] {
  switch (outcome.status) {
    case OutcomeStatus.OK:
      return [outcome.body];
    case OutcomeStatus.RETRY:
      return [STATUS_ERROR_FRAME, outcome.body, RETRY_HEADERS];
    default:
      return [STATUS_ERROR_FRAME, outcome.body];
  }
}

/** The REPLY body for a batch (any subset of its tasks): `["", ids, outcomes]`. */
export function encodeTaskBatchReply(ids: readonly string[], outcomes: readonly Outcome[]): Buffer[] {
  return [EMPTY, packIds(ids), packOutcomes(outcomes)];
}

/** Parses the body of a REPLY (what follows the client-address and empty frames). Never throws. */
export function parseTaskReply(frames: readonly Buffer[]): TaskReplyFrames {
  const first = frames[0];
  if (first === undefined) return { kind: "malformed", reason: "a REPLY without a body" };
  if (frames.length === 1) return { kind: "outcome", outcome: { status: OutcomeStatus.OK, body: first } };
  if (first.length === 0) {
    if (frames.length !== 3) return { kind: "malformed", reason: `a batch reply has 3 frames, got ${frames.length}` };
    const ids = readIds(frames[1]);
    if (!Array.isArray(ids)) return { kind: "malformed", reason: `batch reply: ${ids.error}` };
    const outcomes = readOutcomes(frames[2], ids.length, [OutcomeStatus.OK, OutcomeStatus.FAILED, OutcomeStatus.RETRY]);
    if (!Array.isArray(outcomes)) return { kind: "malformed", reason: `batch reply: ${outcomes.error}` };
    return { kind: "batch", ids, outcomes };
  }
  if (!same(first, STATUS_ERROR_FRAME) || frames.length > 3)
    return { kind: "malformed", reason: 'a REPLY is [result], ["error", failure] or ["error", failure, H]' };
  let retry = false;
  if (frames.length === 3) {
    const headers = parseHeaders(frames[2]!);
    if (headers.kind === "malformed") return { kind: "malformed", reason: `reply headers: ${headers.reason}` };
    retry = headers.headers["retry"] === true;
  }
  return { kind: "outcome", outcome: { status: retry ? OutcomeStatus.RETRY : OutcomeStatus.FAILED, body: frames[1]! } };
}
