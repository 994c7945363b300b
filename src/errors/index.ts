/**
 * @packageDocumentation
 * Every failure typed-zmq reports: one class per file, each with its `isXxxError` guard, all recognised by
 * `instanceof TypedZmqError` and {@link isTypedZmqError}.
 *
 * One vocabulary of codes, {@link ErrorCode}; its wire part ({@link WireErrorCode}, the codes that travel in RPC
 * error replies and pipeline failure results, see `docs/protocol.md`) is kept in its own file.
 *
 * Intentionally not exported: the guard factory (`guard.ts`) and the helpers that turn thrown values and zeromq.js
 * failures into these errors (`src/internal/`).
 */
export { AbortedError, isAbortedError } from "./aborted-error.js";
export { ApplicationError, RpcError, isApplicationError, isRpcError } from "./application-error.js";
export { ClosedError, isClosedError } from "./closed-error.js";
export { ConnectionLostError, isConnectionLostError } from "./connection-lost-error.js";
export { ContractValidationError, isContractValidationError } from "./contract-validation-error.js";
export type { ValidationIssue } from "./contract-validation-error.js";
export { EndpointInUseError, isEndpointInUseError } from "./endpoint-in-use-error.js";
export { ErrorCode } from "./error-code.js";
export { InvalidArgumentError, isInvalidArgumentError } from "./invalid-argument-error.js";
export { InvalidEndpointError, isInvalidEndpointError } from "./invalid-endpoint-error.js";
export { MalformedMessageError, isMalformedMessageError } from "./malformed-message-error.js";
export { MessageTooLargeError, isMessageTooLargeError } from "./message-too-large-error.js";
export { NoServerError, isNoServerError } from "./no-server-error.js";
export type { EndpointState, EndpointStatus } from "./no-server-error.js";
export { OutOfRangeError, isOutOfRangeError } from "./out-of-range-error.js";
export { RemoteCallError, RemoteError, isRemoteCallError, isRemoteError } from "./remote-call-error.js";
export { StoreCorruptError, isStoreCorruptError } from "./store-corrupt-error.js";
export { StoreFullError, isStoreFullError } from "./store-full-error.js";
export { StoreLockedError, isStoreLockedError } from "./store-locked-error.js";
export { StoreUnavailableError, isStoreUnavailableError } from "./store-unavailable-error.js";
export { SubscriberStalledError, isSubscriberStalledError } from "./subscriber-stalled-error.js";
export { TaskRejectedError, isTaskRejectedError } from "./task-rejected-error.js";
export { TimeoutError, isTimeoutError } from "./timeout-error.js";
export type { TimeoutErrorOptions } from "./timeout-error.js";
export { TransportError, isTransportError } from "./transport-error.js";
export { TransportUnavailableError, isTransportUnavailableError } from "./transport-unavailable-error.js";
export { TypedZmqError, isTypedZmqError } from "./typed-zmq-error.js";
export type { CallAttempt, TypedZmqErrorOptions } from "./typed-zmq-error.js";
export { UnknownMethodError, isUnknownMethodError } from "./unknown-method-error.js";
export { UnknownTopicError, isUnknownTopicError } from "./unknown-topic-error.js";
export { UnrepresentableSchemaError, isUnrepresentableSchemaError } from "./unrepresentable-schema-error.js";
export type { UnrepresentableSite } from "./unrepresentable-schema-error.js";
export { WireErrorCode } from "./wire.js";
export type { RpcErrorBody } from "./wire.js";
