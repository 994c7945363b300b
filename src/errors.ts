/**
 * @packageDocumentation
 * Every failure typed-zmq reports: one class per code, all deriving from {@link TypedZmqError}.
 *
 * Depends on nothing else in the package. Wire codes (the `code` field of an RPC error body, see
 * `docs/protocol.md`) and local codes share one vocabulary, {@link ErrorCode}.
 */

/**
 * The codes typed-zmq uses, on the wire and locally.
 *
 * Wire codes (sent by an `RpcServer` in an error reply): `MALFORMED`, `UNKNOWN_METHOD`, `INVALID_REQUEST`,
 * `INVALID_RESPONSE`, `HANDLER_ERROR`, `MESSAGE_TOO_LARGE`, `UNAVAILABLE`, `CONTRACT_MISMATCH`; a pipeline worker's failure results use
 * `MALFORMED`, `INVALID_TASK`, `INVALID_RESULT` and `HANDLER_ERROR`. Handlers may add application codes of their
 * own through {@link RpcError}. The rest are local: they describe failures on this side of the wire.
 */
export const ErrorCode = {
  /** A message had the wrong frame layout or a body the codec could not decode. */
  MALFORMED: "MALFORMED",
  /** The requested method is not part of the contract. */
  UNKNOWN_METHOD: "UNKNOWN_METHOD",
  /** A topic is not covered by any declared topic of the contract. */
  UNKNOWN_TOPIC: "UNKNOWN_TOPIC",
  /** The server rejected a request that breaks the request schema. */
  INVALID_REQUEST: "INVALID_REQUEST",
  /** A handler returned data that breaks the response schema. */
  INVALID_RESPONSE: "INVALID_RESPONSE",
  /** A pipeline worker received a task that breaks the task schema. */
  INVALID_TASK: "INVALID_TASK",
  /** A pipeline worker's handler returned a result that breaks the result schema. */
  INVALID_RESULT: "INVALID_RESULT",
  /** A handler threw. */
  HANDLER_ERROR: "HANDLER_ERROR",
  /** A message exceeded the configured `maxMessageBytes`. */
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  /** The server is shutting down and did not run (or finish) the request. */
  UNAVAILABLE: "UNAVAILABLE",
  /** The request's `contract` header names another contract (or version) than the one the server serves. */
  CONTRACT_MISMATCH: "CONTRACT_MISMATCH",
  /** A payload failed its schema on this side (before sending, or on arrival). */
  VALIDATION_FAILED: "VALIDATION_FAILED",
  /** No reply arrived in time. */
  TIMEOUT: "TIMEOUT",
  /** The caller's `AbortSignal` fired. */
  ABORTED: "ABORTED",
  /** The object was closed. */
  CLOSED: "CLOSED",
  /** An endpoint string is not valid. */
  INVALID_ENDPOINT: "INVALID_ENDPOINT",
  /** Another socket is already bound to the endpoint. */
  ENDPOINT_IN_USE: "ENDPOINT_IN_USE",
  /** The loaded libzmq cannot use the endpoint's transport (for example pgm without PGM support). */
  TRANSPORT_UNAVAILABLE: "TRANSPORT_UNAVAILABLE",
  /** Any other failure reported by libzmq. */
  TRANSPORT: "TRANSPORT",
} as const;

/** One of the codes in {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One problem found by schema validation, in a form that survives JSON and names its place. */
export interface ValidationIssue {
  /** Where in the payload the problem is, from the root (`["items", 0, "price"]`). */
  readonly path: readonly (string | number)[];
  /** Zod's issue code, for example `invalid_type`. */
  readonly code: string;
  /** Human-readable description. */
  readonly message: string;
}

/**
 * Base class of every error typed-zmq throws or rejects with.
 *
 * Test for a specific failure with `code` or the `isXxxError` guards, which work across realms.
 */
export abstract class TypedZmqError extends Error {
  /** Machine-readable code; one of {@link ErrorCode}, or an application code carried by a {@link RemoteError}. */
  abstract readonly code: string;
}

/** Options shared by all error constructors. */
export interface TypedZmqErrorOptions {
  /** The underlying failure, kept as `cause`. */
  readonly cause?: unknown;
}

function errorOptions(options: TypedZmqErrorOptions | undefined): ErrorOptions | undefined {
  return options !== undefined && "cause" in options ? { cause: options.cause } : undefined;
}

/**
 * A payload broke its zod schema on this side of the wire.
 *
 * `direction` is `"outgoing"` when the check ran before sending (nothing was sent) and `"incoming"` when a message
 * that arrived was rejected (for example a reply that does not match the response schema).
 */
export class ContractValidationError extends TypedZmqError {
  override readonly name = "ContractValidationError";
  readonly code = ErrorCode.VALIDATION_FAILED;
  /** The problems zod found. */
  readonly issues: readonly ValidationIssue[];
  /** Whether the payload was about to leave (`outgoing`) or had just arrived (`incoming`). */
  readonly direction: "outgoing" | "incoming";
  /** Contract name and version, for example `orders.v1`. */
  readonly contract: string;
  /** Method or topic the payload belongs to. */
  readonly method: string;
  constructor(
    message: string,
    fields: {
      issues: readonly ValidationIssue[];
      direction: "outgoing" | "incoming";
      contract: string;
      method: string;
    },
    options?: TypedZmqErrorOptions,
  ) {
    super(message, errorOptions(options));
    this.issues = fields.issues;
    this.direction = fields.direction;
    this.contract = fields.contract;
    this.method = fields.method;
  }
}

/** A message could not be understood: wrong frame layout, or a body the codec could not decode. */
export class MalformedMessageError extends TypedZmqError {
  override readonly name = "MalformedMessageError";
  readonly code = ErrorCode.MALFORMED;
}

/** A method name that the contract does not declare. */
export class UnknownMethodError extends TypedZmqError {
  override readonly name = "UnknownMethodError";
  readonly code = ErrorCode.UNKNOWN_METHOD;
  /** Contract name and version. */
  readonly contract: string;
  /** The method that was asked for. */
  readonly method: string;
  constructor(contract: string, method: string, known: readonly string[], options?: TypedZmqErrorOptions) {
    super(
      `Method "${method}" is not part of contract "${contract}". ` +
        `Known methods: ${known.map((m) => `"${m}"`).join(", ") || "(none)"}. ` +
        `Check the method name, or that both sides use the same contract version.`,
      errorOptions(options),
    );
    this.contract = contract;
    this.method = method;
  }
}

/** A topic that no declared topic of the contract covers. */
export class UnknownTopicError extends TypedZmqError {
  override readonly name = "UnknownTopicError";
  readonly code = ErrorCode.UNKNOWN_TOPIC;
  /** Contract name and version. */
  readonly contract: string;
  /** The topic that was given. */
  readonly topic: string;
  constructor(contract: string, topic: string, declared: readonly string[], options?: TypedZmqErrorOptions) {
    super(
      `Topic "${topic}" is not covered by contract "${contract}": it declares ${declared.map((t) => `"${t}"`).join(", ")}, ` +
        `each covering itself and "<topic>.<anything>". Publish under a declared topic, or declare this one.`,
      errorOptions(options),
    );
    this.contract = contract;
    this.topic = topic;
  }
}

/** A message was larger than the configured `maxMessageBytes`. */
export class MessageTooLargeError extends TypedZmqError {
  override readonly name = "MessageTooLargeError";
  readonly code = ErrorCode.MESSAGE_TOO_LARGE;
  /** Size of the encoded body in bytes. */
  readonly size: number;
  /** The configured limit in bytes. */
  readonly limit: number;
  constructor(what: string, size: number, limit: number, options?: TypedZmqErrorOptions) {
    super(
      `${what} is ${size} bytes, over the limit of ${limit} bytes (maxMessageBytes). ` +
        `Send less data per message, or raise { maxMessageBytes } on both sides.`,
      errorOptions(options),
    );
    this.size = size;
    this.limit = limit;
  }
}

/** Options of {@link TimeoutError}. */
export interface TimeoutErrorOptions extends TypedZmqErrorOptions {
  /** What was awaited, for the message; default `a reply from <endpoint>`. */
  readonly waitingFor?: string;
  /** What to do about it, for the message; default: check a server is bound there, or raise `timeoutMs`. */
  readonly hint?: string;
}

/** Nothing arrived within the allowed time. */
export class TimeoutError extends TypedZmqError {
  override readonly name = "TimeoutError";
  readonly code = ErrorCode.TIMEOUT;
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** The endpoint(s) the awaited message was expected from. */
  readonly endpoint: string;
  constructor(what: string, timeoutMs: number, endpoint: string, options?: TimeoutErrorOptions) {
    super(
      `${what} timed out after ${timeoutMs} ms waiting for ${options?.waitingFor ?? `a reply from ${endpoint}`}. ` +
        (options?.hint ?? `Check that a server for this contract is bound there, or raise { timeoutMs }.`),
      errorOptions(options),
    );
    this.timeoutMs = timeoutMs;
    this.endpoint = endpoint;
  }
}

/** The caller's `AbortSignal` fired; `cause` is the signal's `reason`. */
export class AbortedError extends TypedZmqError {
  override readonly name = "AbortedError";
  readonly code = ErrorCode.ABORTED;
  constructor(what: string, options?: TypedZmqErrorOptions) {
    super(`${what} was aborted by its signal${describeReason(options?.cause)}.`, errorOptions(options));
  }
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return `: ${reason.message}`;
  if (reason === undefined) return "";
  return `: ${String(reason)}`;
}

/** The object was closed before or while the operation ran. */
export class ClosedError extends TypedZmqError {
  override readonly name = "ClosedError";
  readonly code = ErrorCode.CLOSED;
}

/** An endpoint string is not in a form typed-zmq accepts. */
export class InvalidEndpointError extends TypedZmqError {
  override readonly name = "InvalidEndpointError";
  readonly code = ErrorCode.INVALID_ENDPOINT;
  /** The endpoint as given. */
  readonly endpoint: string;
  constructor(endpoint: string, why: string, options?: TypedZmqErrorOptions) {
    super(
      `endpoint '${endpoint}' is not valid: ${why}. ` +
        `Expected tcp://host:port, ipc://path, inproc://name, pgm://interface;group:port or epgm://interface;group:port.`,
      errorOptions(options),
    );
    this.endpoint = endpoint;
  }
}

/** Another socket already holds the endpoint. */
export class EndpointInUseError extends TypedZmqError {
  override readonly name = "EndpointInUseError";
  readonly code = ErrorCode.ENDPOINT_IN_USE;
  /** The endpoint that could not be bound. */
  readonly endpoint: string;
  constructor(endpoint: string, options?: TypedZmqErrorOptions) {
    super(
      `Cannot bind '${endpoint}': the address is already in use. ` +
        `Stop the other process, pick another port or path, or bind to port 0 (or '*') for an ephemeral port.`,
      errorOptions(options),
    );
    this.endpoint = endpoint;
  }
}

/** The loaded libzmq cannot use this transport (for example `pgm://` when libzmq was built without PGM). */
export class TransportUnavailableError extends TypedZmqError {
  override readonly name = "TransportUnavailableError";
  readonly code = ErrorCode.TRANSPORT_UNAVAILABLE;
  /** The endpoint that was refused. */
  readonly endpoint: string;
  /** The transport the loaded libzmq lacks. */
  readonly transport: string;
  constructor(endpoint: string, transport: string, why: string, options?: TypedZmqErrorOptions) {
    super(`Cannot use '${endpoint}': ${why}`, errorOptions(options));
    this.endpoint = endpoint;
    this.transport = transport;
  }
}

/** Any other failure reported by libzmq; the original zeromq error is the `cause`. */
export class TransportError extends TypedZmqError {
  override readonly name = "TransportError";
  readonly code = ErrorCode.TRANSPORT;
}

/** Fields of an RPC error reply (`{ code, message, details? }` on the wire). */
export interface RpcErrorBody {
  /** Wire code: one of the server codes in {@link ErrorCode} or an application code. */
  readonly code: string;
  /** Human-readable explanation. */
  readonly message: string;
  /** Optional structured data (for `INVALID_REQUEST`: `{ issues }`). */
  readonly details?: unknown;
}

/**
 * Thrown by an RPC handler to answer with an application error code of its choosing.
 *
 * The client rejects the call with a {@link RemoteError} carrying the same `code`, `message` and `details`.
 *
 * @example
 * throw new RpcError("NOT_FOUND", `order ${id} does not exist`, { details: { id } });
 */
export class RpcError extends TypedZmqError {
  override readonly name = "RpcError";
  readonly code: string;
  /** Structured data sent to the client with the error. */
  readonly details: unknown;
  constructor(code: string, message: string, options?: TypedZmqErrorOptions & { readonly details?: unknown }) {
    if (typeof code !== "string" || code.length === 0) {
      throw new TypeError("RpcError: `code` must be a non-empty string, for example \"NOT_FOUND\".");
    }
    super(message, errorOptions(options));
    this.code = code;
    this.details = options?.details;
  }
}

/**
 * The server answered a call with an error reply.
 *
 * `code` is the remote code: a server code from {@link ErrorCode} (`INVALID_REQUEST`, `HANDLER_ERROR`, ...) or an
 * application code a handler raised with {@link RpcError}.
 */
export class RemoteError extends TypedZmqError {
  override readonly name = "RemoteError";
  readonly code: string;
  /** The message the server sent, without the local prefix. */
  readonly remoteMessage: string;
  /** Structured data the server sent, if any. */
  readonly details: unknown;
  /** Contract name and version. */
  readonly contract: string;
  /** The method that was called. */
  readonly method: string;
  constructor(contract: string, method: string, body: RpcErrorBody) {
    super(`${contract}/${method} failed on the server with ${body.code}: ${body.message}`);
    this.code = body.code;
    this.remoteMessage = body.message;
    this.details = body.details;
    this.contract = contract;
    this.method = method;
  }
}

function hasName(err: unknown, name: string): boolean {
  return typeof err === "object" && err !== null && (err as { name?: unknown }).name === name;
}

const ERROR_NAMES = new Set([
  "ContractValidationError",
  "MalformedMessageError",
  "UnknownMethodError",
  "UnknownTopicError",
  "MessageTooLargeError",
  "TimeoutError",
  "AbortedError",
  "ClosedError",
  "InvalidEndpointError",
  "EndpointInUseError",
  "TransportUnavailableError",
  "TransportError",
  "RpcError",
  "RemoteError",
]);

/** True for any error typed-zmq produced, also across realms (an Error with one of our names and a string `code`). */
export function isTypedZmqError(err: unknown): err is TypedZmqError {
  if (err instanceof TypedZmqError) return true;
  if (typeof err !== "object" || err === null) return false;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return typeof name === "string" && ERROR_NAMES.has(name) && typeof code === "string" && (name !== "TimeoutError" || code === ErrorCode.TIMEOUT);
}
/** True for a {@link ContractValidationError}, also across realms. */
export function isContractValidationError(err: unknown): err is ContractValidationError {
  return err instanceof ContractValidationError || hasName(err, "ContractValidationError");
}
/** True for a {@link MalformedMessageError}, also across realms. */
export function isMalformedMessageError(err: unknown): err is MalformedMessageError {
  return err instanceof MalformedMessageError || hasName(err, "MalformedMessageError");
}
/** True for an {@link UnknownMethodError}, also across realms. */
export function isUnknownMethodError(err: unknown): err is UnknownMethodError {
  return err instanceof UnknownMethodError || hasName(err, "UnknownMethodError");
}
/** True for an {@link UnknownTopicError}, also across realms. */
export function isUnknownTopicError(err: unknown): err is UnknownTopicError {
  return err instanceof UnknownTopicError || hasName(err, "UnknownTopicError");
}
/** True for a {@link MessageTooLargeError}, also across realms. */
export function isMessageTooLargeError(err: unknown): err is MessageTooLargeError {
  return err instanceof MessageTooLargeError || hasName(err, "MessageTooLargeError");
}
/** True for a {@link TimeoutError}, also across realms. */
export function isTimeoutError(err: unknown): err is TimeoutError {
  return err instanceof TimeoutError || (hasName(err, "TimeoutError") && hasCode(err, ErrorCode.TIMEOUT));
}
/** True for an {@link AbortedError}, also across realms. */
export function isAbortedError(err: unknown): err is AbortedError {
  return err instanceof AbortedError || hasName(err, "AbortedError");
}
/** True for a {@link ClosedError}, also across realms. */
export function isClosedError(err: unknown): err is ClosedError {
  return err instanceof ClosedError || hasName(err, "ClosedError");
}
/** True for an {@link InvalidEndpointError}, also across realms. */
export function isInvalidEndpointError(err: unknown): err is InvalidEndpointError {
  return err instanceof InvalidEndpointError || hasName(err, "InvalidEndpointError");
}
/** True for an {@link EndpointInUseError}, also across realms. */
export function isEndpointInUseError(err: unknown): err is EndpointInUseError {
  return err instanceof EndpointInUseError || hasName(err, "EndpointInUseError");
}
/** True for a {@link TransportUnavailableError}, also across realms. */
export function isTransportUnavailableError(err: unknown): err is TransportUnavailableError {
  return err instanceof TransportUnavailableError || hasName(err, "TransportUnavailableError");
}
/** True for a {@link TransportError}, also across realms. */
export function isTransportError(err: unknown): err is TransportError {
  return err instanceof TransportError || hasName(err, "TransportError");
}
/** True for an {@link RpcError}, also across realms. */
export function isRpcError(err: unknown): err is RpcError {
  return err instanceof RpcError || hasName(err, "RpcError");
}
/** True for a {@link RemoteError}, also across realms. */
export function isRemoteError(err: unknown): err is RemoteError {
  return err instanceof RemoteError || hasName(err, "RemoteError");
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * Turns any thrown value into an `Error`, so that code never has to handle non-Errors.
 * @internal
 */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  let text: string;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return new Error(`non-Error value thrown: ${text}`, { cause: value });
}

/** The fields zeromq.js puts on its errors. @internal */
interface ZmqErrorFields {
  readonly code?: unknown;
  readonly message?: unknown;
}

/**
 * Maps a zeromq.js failure during bind/connect/send to a typed error, keeping the original as `cause`.
 * @internal
 */
export function fromZmqError(err: unknown, what: string, endpoint: string): TypedZmqError {
  if (err instanceof TypedZmqError) return err;
  const fields: ZmqErrorFields = typeof err === "object" && err !== null ? (err as ZmqErrorFields) : {};
  const code = typeof fields.code === "string" ? fields.code : undefined;
  const text = typeof fields.message === "string" ? fields.message : String(err);
  switch (code) {
    case "EADDRINUSE":
      return new EndpointInUseError(endpoint, { cause: err });
    case "EBADF":
      return new ClosedError(`${what} failed: the socket is already closed (${text}).`, { cause: err });
    case "EPROTONOSUPPORT":
      return new TransportUnavailableError(
        endpoint,
        endpoint.split(":", 1)[0] ?? endpoint,
        `the loaded libzmq does not support this transport (${text}). Run with a libzmq built with it.`,
        { cause: err },
      );
    default:
      return new TransportError(
        `${what} failed for '${endpoint}': ${text}${code ? ` (${code})` : ""}. ` +
          `Check the address and that the peer or interface exists.`,
        { cause: err },
      );
  }
}
