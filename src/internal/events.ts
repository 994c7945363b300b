/**
 * @packageDocumentation
 * Builders of the shared `onEvent` shapes (src/events.ts) from what the report paths already hold, so that every
 * class builds and reports them the same way. With no `onEvent` they do nothing (and build nothing).
 * @internal
 */
import { isContractValidationError, type ValidationIssue } from "../errors/index.js";
import type { DroppedEvent, ValidationFailedEvent } from "../events.js";
import { callHook } from "./hooks.js";

/** The `validation-failed` event of an error, when it is a `ContractValidationError`; else undefined. */
export function validationFailedOf(error: unknown): ValidationFailedEvent | undefined {
  if (!isContractValidationError(error)) return undefined;
  return {
    type: "validation-failed",
    direction: error.direction,
    contract: error.contract,
    method: error.method,
    issues: error.issues,
  };
}

/** Reports `validation-failed` to `onEvent` when `error` is a `ContractValidationError`. */
export function emitValidationFailed(onEvent: ((event: ValidationFailedEvent) => void) | undefined, error: unknown): void {
  if (onEvent === undefined) return;
  const event = validationFailedOf(error);
  if (event !== undefined) callHook(onEvent, event);
}

/** What a stream's drop info must hold for its `invalid` drops to be reported as `validation-failed`. */
interface StreamDropInfo {
  readonly reason: string;
  readonly issues?: readonly ValidationIssue[];
}

/**
 * The drop hook of a receiving stream (Subscriber, PipelineSink): `onDrop` itself without `onEvent` (no cost
 * added), else a hook that calls `onDrop`, then reports `dropped` and, for an `invalid` message, `validation-failed`
 * first (`contract`, and `method` read from the info by `methodOf`).
 */
export function dropHook<TInfo extends StreamDropInfo>(
  onDrop: ((info: TInfo) => void) | undefined,
  onEvent: ((event: DroppedEvent<TInfo> | ValidationFailedEvent) => void) | undefined,
  contract: string,
  methodOf: (info: TInfo) => string,
): ((info: TInfo) => void) | undefined {
  if (onEvent === undefined) return onDrop;
  return (info) => {
    callHook(onDrop, info);
    if (info.reason === "invalid" && info.issues !== undefined) {
      callHook(onEvent, {
        type: "validation-failed",
        direction: "incoming",
        contract,
        method: methodOf(info),
        issues: info.issues,
      });
    }
    callHook(onEvent, { type: "dropped", ...info });
  };
}
