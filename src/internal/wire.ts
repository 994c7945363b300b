/**
 * @packageDocumentation
 * Frame helpers shared by RPC, pipelines and the broker: the RPC framing constants (their home is
 * `protocol/rpc.ts`), strict UTF-8 decoding, and the error body shape.
 * A pipeline worker's failure result is `["error", body]`, with the same status frame and error body as an RPC reply.
 * @internal
 */
import type { RpcErrorBody } from "../errors/index.js";

export { DELIMITER, STATUS_ERROR, STATUS_ERROR_FRAME, STATUS_OK, STATUS_OK_FRAME, delimiterIndex } from "../protocol/rpc.js";

export { strictUtf8 } from "../protocol/headers.js";

/** Narrows a decoded error body to `{ code, message, details? }`, or returns undefined. */
export function asErrorBody(value: unknown): RpcErrorBody | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const code: unknown = Reflect.get(value, "code");
  const message: unknown = Reflect.get(value, "message");
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  const details: unknown = Reflect.get(value, "details");
  return details === undefined ? { code, message } : { code, message, details };
}
