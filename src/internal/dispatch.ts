/**
 * @packageDocumentation
 * The transport-free dispatch core shared by `RpcServer` and `PipelineWorker`: decode and validate the input, run
 * the handler, validate and encode its output, and shape every failure as a wire error body (tRPC's getErrorShape).
 *
 * No sockets: the owner feeds it a body and sends what it returns. A handler that answers synchronously, with
 * schemas that check synchronously (zod, most validators), is finished in the same turn (no await on a plain value);
 * an asynchronous check makes the input or the outcome a promise.
 * @internal
 */
import { randomUUID } from "node:crypto";
import type { Codec } from "../codec.js";
import { ApplicationError, ErrorCode, type RpcErrorBody } from "../errors/index.js";
import { decodeBody, encodeBody } from "./codec-io.js";
import { validationError, type PayloadPlace } from "./contract-check.js";
import { toError } from "./zmq-errors.js";
import { isThenable } from "./hooks.js";
import type { OptionReader } from "./options.js";
import type { Validation, Validator } from "./validator.js";

/** A failed dispatch: the error body for the peer, and what the owner reports locally. */
export interface Failure {
  /** Sent to the peer. */
  readonly body: RpcErrorBody;
  /** Reported locally (`onError`): the real reason, which for an unexpected handler error the peer does not see. */
  readonly message: string;
  readonly cause?: unknown;
  /** Set for an unexpected handler error: the id sent to the peer and written to the local report. */
  readonly errorId?: string;
  /**
   * A bug on this side (the handler threw unexpectedly, or returned data that breaks the contract): reported on stderr
   * when the owner has no `onError`, so it is never silent.
   */
  readonly local?: boolean;
}

/** The result of one dispatch: the encoded output, or a failure. */
export type Outcome = { readonly ok: true; readonly body: Uint8Array } | { readonly ok: false; readonly failure: Failure };

/** Everything the core needs about one method (or one job contract). Built once per method, not per message. */
export interface DispatchStep {
  /** Checks the input (`internal/validator.ts`). */
  readonly input: Validator;
  /** Checks the output. */
  readonly output: Validator;
  /** `contract/method`, for messages. */
  readonly label: string;
  readonly inputPlace: PayloadPlace;
  readonly outputPlace: PayloadPlace;
  /** `Request to "contract/method"` and the like, for codec failures: built once, not per message. */
  readonly inputWhere: string;
  readonly outputWhere: string;
  /** Wire codes for a bad input and a bad output (`INVALID_REQUEST`/`INVALID_RESPONSE`, `INVALID_TASK`/`INVALID_RESULT`). */
  readonly invalidInput: string;
  readonly invalidOutput: string;
}

/** How failures are shaped; one per server or worker. */
export interface DispatchPolicy {
  readonly codec: Codec;
  /** Largest body accepted and produced, in bytes (`Infinity`: no limit). */
  readonly maxMessageBytes: number;
  /** Send an unexpected handler error's message to the peer (development); otherwise a generic one with an id. */
  readonly exposeErrors: boolean;
  /** Send the stack too (`details.stack`), when messages are exposed. */
  readonly exposeStack: boolean;
}

/**
 * Reads the options every dispatching class shares (`codec`, `exposeErrors`, `exposeStack`) into a frozen policy.
 * `exposeStack` implies `exposeErrors`.
 */
export function readDispatchPolicy(read: OptionReader, maxMessageBytes: number): DispatchPolicy {
  const exposeStack = read.flag("exposeStack", false);
  return Object.freeze({
    codec: read.codec(),
    maxMessageBytes,
    exposeErrors: read.flag("exposeErrors", false) || exposeStack,
    exposeStack,
  });
}

/** Decoded and validated input, or a failure to send back. */
export type Input = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly failure: Failure };

function fail(body: RpcErrorBody, cause?: unknown): { readonly ok: false; readonly failure: Failure } {
  return { ok: false, failure: cause === undefined ? { body, message: body.message } : { body, message: body.message, cause } };
}

/** A failure that is this side's bug (the handler's output breaks the contract): never silent. */
function localFail(body: RpcErrorBody, cause: unknown): { readonly ok: false; readonly failure: Failure } {
  return { ok: false, failure: { body, message: body.message, cause, local: true } };
}

function tooLarge(
  step: DispatchStep,
  what: string,
  size: number,
  limit: number,
): { readonly ok: false; readonly failure: Failure } {
  return fail({
    code: ErrorCode.MESSAGE_TOO_LARGE,
    message: `${step.label}: the ${what} body is ${size} bytes, over this server's limit of ${limit} bytes (maxMessageBytes).`,
    details: { size, limit },
  });
}

/**
 * Checks the size, decodes with the codec and checks with the input schema. A promise only when the schema checks
 * asynchronously.
 */
export function decodeInput(step: DispatchStep, policy: DispatchPolicy, bytes: Uint8Array): Input | Promise<Input> {
  if (bytes.length > policy.maxMessageBytes) return tooLarge(step, step.inputPlace.schema, bytes.length, policy.maxMessageBytes);
  let decoded: unknown;
  try {
    decoded = decodeBody(policy.codec, bytes, step.inputWhere);
  } catch (err) {
    return fail({ code: ErrorCode.MALFORMED, message: toError(err).message }, err);
  }
  const checked = step.input(decoded);
  return checked instanceof Promise ? checked.then((done) => checkedInput(step, done)) : checkedInput(step, checked);
}

function checkedInput(step: DispatchStep, checked: Validation): Input {
  if (checked.ok) return { ok: true, value: checked.value };
  const error = validationError(checked, step.inputPlace);
  return fail({ code: step.invalidInput, message: error.message, details: { issues: error.issues } }, error);
}

/**
 * Checks and encodes what the handler returned. The handler's own value is sent: the receiver parses it. A promise
 * only when the schema checks asynchronously.
 */
export function encodeOutput(step: DispatchStep, policy: DispatchPolicy, value: unknown): Outcome | Promise<Outcome> {
  const checked = step.output(value);
  return checked instanceof Promise
    ? checked.then((done) => checkedOutput(step, policy, value, done))
    : checkedOutput(step, policy, value, checked);
}

function checkedOutput(step: DispatchStep, policy: DispatchPolicy, value: unknown, checked: Validation): Outcome {
  if (!checked.ok) {
    const error = validationError(checked, step.outputPlace);
    return localFail({ code: step.invalidOutput, message: error.message, details: { issues: error.issues } }, error);
  }
  let body: Uint8Array;
  try {
    body = encodeBody(policy.codec, value, step.outputWhere);
  } catch (err) {
    return localFail({ code: step.invalidOutput, message: toError(err).message }, err);
  }
  if (body.length > policy.maxMessageBytes) return tooLarge(step, step.outputPlace.schema, body.length, policy.maxMessageBytes);
  return { ok: true, body };
}

/**
 * Shapes what a handler threw. An {@link ApplicationError}: its code, message and details are
 * sent as they are. Anything else is unexpected: by default the peer gets a generic message and an error id, and
 * the real message (with the same id) goes to the local report only, because it may reveal internals.
 */
export function handlerFailure(step: DispatchStep, policy: DispatchPolicy, thrown: unknown): Failure {
  if (thrown instanceof ApplicationError) {
    const body: RpcErrorBody =
      thrown.details === undefined
        ? { code: thrown.code, message: thrown.message }
        : { code: thrown.code, message: thrown.message, details: thrown.details };
    return { body, message: body.message, cause: thrown };
  }
  const error = toError(thrown);
  const what = thrown instanceof Error ? "threw" : "threw a non-Error value";
  const real = `the handler of "${step.label}" ${what}: ${thrown instanceof Error ? error.message : describe(thrown)}`;
  const errorId = randomUUID();
  if (policy.exposeErrors) {
    const details = policy.exposeStack && error.stack !== undefined ? { errorId, stack: error.stack } : { errorId };
    return {
      body: { code: ErrorCode.HANDLER_ERROR, message: real, details },
      message: `${real} (error id ${errorId})`,
      cause: thrown,
      errorId,
      local: true,
    };
  }
  const generic = `the handler of "${step.label}" failed unexpectedly (error id ${errorId}). The server's log has the details under this id.`;
  return {
    body: { code: ErrorCode.HANDLER_ERROR, message: generic, details: { errorId } },
    message: `${real} (error id ${errorId})`,
    cause: thrown,
    errorId,
    local: true,
  };
}

function describe(value: unknown): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify returns undefined for undefined, functions and symbols, whatever its lib type says
    return typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

/**
 * Runs the handler on a validated input and shapes the outcome. Returns a plain outcome when the handler answered
 * synchronously, a promise otherwise. `invoke` calls the user's handler with the input.
 */
export function runHandler(step: DispatchStep, policy: DispatchPolicy, invoke: () => unknown): Outcome | Promise<Outcome> {
  let returned: unknown;
  try {
    returned = invoke();
  } catch (thrown) {
    return { ok: false, failure: handlerFailure(step, policy, thrown) };
  }
  return handlerReturned(step, policy, returned);
}

/**
 * {@link runHandler} for a handler of the form `(input, context) => output`, called directly: no closure per
 * message (the pipeline worker's per-task path).
 */
export function callHandler<TContext>(
  step: DispatchStep,
  policy: DispatchPolicy,
  handler: (input: never, context: TContext) => unknown,
  input: unknown,
  context: TContext,
): Outcome | Promise<Outcome> {
  let returned: unknown;
  try {
    // The input is the schema's output, which is what the caller typed its handler to receive.
    returned = (handler as (input: unknown, context: TContext) => unknown)(input, context);
  } catch (thrown) {
    return { ok: false, failure: handlerFailure(step, policy, thrown) };
  }
  return handlerReturned(step, policy, returned);
}

function handlerReturned(step: DispatchStep, policy: DispatchPolicy, returned: unknown): Outcome | Promise<Outcome> {
  if (!isThenable(returned)) return encodeOutput(step, policy, returned);
  return Promise.resolve(returned).then(
    (value) => encodeOutput(step, policy, value),
    (thrown: unknown) => ({ ok: false, failure: handlerFailure(step, policy, thrown) }),
  );
}

/** Encodes an error body with the codec; falls back to code and message when the details cannot be encoded. */
export function encodeError(codec: Codec, body: RpcErrorBody): Uint8Array {
  try {
    return codec.encode(body);
  } catch {
    return codec.encode({ code: body.code, message: `${body.message} (the error details could not be encoded)` });
  }
}
