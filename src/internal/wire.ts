/**
 * @packageDocumentation
 * Wire protocol v1 (docs/protocol.md): frame constants and the error body shape, shared by RPC and pipelines.
 * A pipeline worker's failure result is `["error", body]`, with the same status frame and error body as an RPC reply.
 * @internal
 */
import type { RpcErrorBody } from "../errors.js";

/** The empty delimiter frame between the envelope and the payload frames. */
export const DELIMITER = Buffer.alloc(0);
/** Status frame of a successful reply. */
export const STATUS_OK = "ok";
/** Status frame of an error reply. */
export const STATUS_ERROR = "error";
/** Same frames as buffers, built once. */
export const STATUS_OK_FRAME = Buffer.from(STATUS_OK);
export const STATUS_ERROR_FRAME = Buffer.from(STATUS_ERROR);

/** Status frame of a server's readiness announcement to a broker: `[...envelope, "", "ready", capacity]`. */
export const STATUS_READY = "ready";
export const READY_FRAME = Buffer.from(STATUS_READY);

/** Decodes UTF-8, refusing invalid byte sequences. */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Index of the first empty frame, or -1. */
export function delimiterIndex(frames: readonly Uint8Array[]): number {
  for (let i = 0; i < frames.length; i++) {
    if (frames[i]?.length === 0) return i;
  }
  return -1;
}

/** Narrows a decoded error body to `{ code, message, details? }`, or returns undefined. */
export function asErrorBody(value: unknown): RpcErrorBody | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const code: unknown = Reflect.get(value, "code");
  const message: unknown = Reflect.get(value, "message");
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  const details: unknown = Reflect.get(value, "details");
  return details === undefined ? { code, message } : { code, message, details };
}
