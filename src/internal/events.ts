/**
 * @packageDocumentation
 * Builders of the shared `onEvent` shapes (src/events.ts) from what the report paths already hold, so that every
 * class builds them the same way. Only called when the user gave `onEvent`.
 * @internal
 */
import { isContractValidationError } from "../errors/index.js";
import type { ValidationFailedEvent } from "../events.js";

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
