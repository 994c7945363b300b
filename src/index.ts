/**
 * @packageDocumentation
 * typed-zmq: typed, validated ZeroMQ messaging. Contracts are zod schemas written once; both ends infer their
 * types from them. This barrel lists every public export by name.
 */
export { Closable } from "./lifecycle.js";
export { jsonCodec, msgpackCodec } from "./codec.js";
export type { Codec } from "./codec.js";
export { defineRpc } from "./contract.js";
export type {
  InferHandlerRequest,
  InferHandlerResponse,
  InferRequest,
  InferResponse,
  MethodMap,
  MethodName,
  MethodSchemas,
  RpcContract,
} from "./contract.js";
export { MAX_IPC_PATH_BYTES, TRANSPORTS, parseEndpoint } from "./endpoint.js";
export type { ParsedEndpoint, Transport } from "./endpoint.js";
export {
  AbortedError,
  ClosedError,
  ContractValidationError,
  EndpointInUseError,
  ErrorCode,
  InvalidEndpointError,
  MalformedMessageError,
  MessageTooLargeError,
  RemoteError,
  RpcError,
  TimeoutError,
  TransportError,
  TransportUnavailableError,
  TypedZmqError,
  UnknownMethodError,
  isAbortedError,
  isClosedError,
  isContractValidationError,
  isEndpointInUseError,
  isInvalidEndpointError,
  isMalformedMessageError,
  isMessageTooLargeError,
  isRemoteError,
  isRpcError,
  isTimeoutError,
  isTransportError,
  isTransportUnavailableError,
  isTypedZmqError,
  isUnknownMethodError,
} from "./errors.js";
export type { RpcErrorBody, TypedZmqErrorOptions, ValidationIssue } from "./errors.js";
export type { WaitOptions } from "./signal.js";
export { RpcClient } from "./rpc-client.js";
export type { CallOptions, RpcClientDropInfo, RpcClientOptions, RpcClientStats } from "./rpc-client.js";
export { RpcServer } from "./rpc-server.js";
export type {
  HandlerContext,
  RpcHandler,
  RpcHandlers,
  RpcServerErrorInfo,
  RpcServerOptions,
  RpcServerStats,
} from "./rpc-server.js";
