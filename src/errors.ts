/**
 * @packageDocumentation
 * Transitional: the errors moved to `src/errors/` (one class per file, public barrel `./errors/index.js`) and the
 * helpers to `src/internal/`. This file re-exports them by name so existing `import … from "./errors.js"` keeps
 * working; new code imports from `./errors/index.js` (public names) or `./internal/…` (helpers).
 */
export {
  AbortedError,
  ApplicationError,
  ClosedError,
  ContractValidationError,
  EndpointInUseError,
  ErrorCode,
  InvalidArgumentError,
  InvalidEndpointError,
  MalformedMessageError,
  MessageTooLargeError,
  OutOfRangeError,
  RemoteCallError,
  RemoteError,
  RpcError,
  TimeoutError,
  TransportError,
  TransportUnavailableError,
  TypedZmqError,
  UnknownMethodError,
  UnknownTopicError,
  WireErrorCode,
  isAbortedError,
  isApplicationError,
  isClosedError,
  isContractValidationError,
  isEndpointInUseError,
  isInvalidArgumentError,
  isInvalidEndpointError,
  isMalformedMessageError,
  isMessageTooLargeError,
  isOutOfRangeError,
  isRemoteCallError,
  isRemoteError,
  isRpcError,
  isTimeoutError,
  isTransportError,
  isTransportUnavailableError,
  isTypedZmqError,
  isUnknownMethodError,
  isUnknownTopicError,
} from "./errors/index.js";
export type { RpcErrorBody, TimeoutErrorOptions, TypedZmqErrorOptions, ValidationIssue } from "./errors/index.js";
export { fromZmqError, toError } from "./internal/zmq-errors.js";
