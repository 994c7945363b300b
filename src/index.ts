/**
 * @packageDocumentation
 * typed-zmq: typed, validated ZeroMQ messaging. Contracts are zod schemas written once; both ends infer their
 * types from them. This barrel lists every public export by name.
 *
 * Intentionally not exported:
 * - `src/protocol/` (pure framing) and `src/internal/` (socket mechanics, `IsUnion` and other type helpers) are
 *   internal: a file's location decides its visibility, and the public files hold only public names.
 * - `Closable` and `PatternBase` (`internal/lifecycle.ts`), the base classes of the pattern classes: their
 *   constructors and `shutdown()` are internal, so a subclass outside the package could not work. Use the pattern
 *   classes; every one has `close()`, `closed` and `Symbol.asyncDispose`.
 * - `security/z85.ts` and `security/zpl.ts`: the Z85 and ZPL helpers behind the certificate functions.
 * - `tools/` (the PGM addon build, run by the `typed-zmq build-zmq-system` command).
 * - The CLI (`cli.ts`): it is the package's `bin`, not a module to import.
 */
export { jsonCodec, msgpackCodec } from "./codec.js";
export type { Codec } from "./codec.js";
export { defineJobs, defineRpc, defineTopics } from "./contract.js";
export type {
  InferHandlerRequest,
  InferHandlerResponse,
  InferHandlerResult,
  InferHandlerTask,
  InferPublish,
  InferRequest,
  InferResponse,
  InferResult,
  InferTask,
  InferTopicData,
  InputOf,
  JobContract,
  MethodMap,
  MethodName,
  MethodSchemas,
  OutputOf,
  ResolveTopic,
  RpcContract,
  Schema,
  TopicContract,
  TopicMap,
  TopicMessage,
  TopicName,
  TypeLevelError,
  ValidationOptions,
  WireTopic,
} from "./contract.js";
export { MAX_IPC_PATH_BYTES, TRANSPORTS, parseEndpoint } from "./endpoint.js";
export type { ParsedEndpoint, Transport } from "./endpoint.js";
export {
  AbortedError,
  ApplicationError,
  ClosedError,
  ConnectionLostError,
  ContractValidationError,
  EndpointInUseError,
  ErrorCode,
  InvalidArgumentError,
  InvalidEndpointError,
  MalformedMessageError,
  MessageTooLargeError,
  NoServerError,
  OutOfRangeError,
  RemoteCallError,
  RemoteError,
  RpcError,
  StoreCorruptError,
  StoreFullError,
  StoreLockedError,
  StoreUnavailableError,
  SubscriberStalledError,
  TaskRejectedError,
  TimeoutError,
  TransportError,
  TransportUnavailableError,
  TypedZmqError,
  UnknownMethodError,
  UnknownTopicError,
  UnrepresentableSchemaError,
  WireErrorCode,
  isAbortedError,
  isApplicationError,
  isClosedError,
  isConnectionLostError,
  isContractValidationError,
  isEndpointInUseError,
  isInvalidArgumentError,
  isInvalidEndpointError,
  isMalformedMessageError,
  isMessageTooLargeError,
  isNoServerError,
  isOutOfRangeError,
  isRemoteCallError,
  isRemoteError,
  isRpcError,
  isStoreCorruptError,
  isStoreFullError,
  isStoreLockedError,
  isStoreUnavailableError,
  isSubscriberStalledError,
  isTaskRejectedError,
  isTimeoutError,
  isTransportError,
  isTransportUnavailableError,
  isTypedZmqError,
  isUnknownMethodError,
  isUnknownTopicError,
  isUnrepresentableSchemaError,
} from "./errors/index.js";
export type {
  CallAttempt,
  EndpointState,
  EndpointStatus,
  RpcErrorBody,
  TimeoutErrorOptions,
  TypedZmqErrorOptions,
  UnrepresentableSite,
  ValidationIssue,
} from "./errors/index.js";
export type { WaitOptions } from "./signal.js";
export type { ConnectionOptions } from "./internal/connection-options.js";
export type { LimitOptions } from "./internal/limits.js";
export type { LatencyStats } from "./internal/latency.js";
export type {
  BrokerConnectionEvent,
  ConnectedEvent,
  ConnectionEvent,
  DisconnectedEvent,
  DroppedEvent,
  HandshakeFailedEvent,
  RequestExpiredEvent,
  ResentEvent,
  SendTimedOutEvent,
  TimedOutEvent,
  ValidationFailedEvent,
} from "./events.js";
export { RpcClient } from "./rpc-client.js";
export type {
  CallOptions,
  RetryOptions,
  RpcClientDropInfo,
  RpcClientEvent,
  RpcClientOptions,
  RpcClientStats,
} from "./rpc-client.js";
export { RpcServer } from "./rpc-server.js";
export type {
  HandlerContext,
  RpcHandler,
  RpcHandlers,
  RpcServerDropInfo,
  RpcServerErrorInfo,
  RpcServerEvent,
  RpcServerOptions,
  RpcServerStats,
} from "./rpc-server.js";
export { Publisher } from "./publisher.js";
export type {
  PublisherEvent,
  PublisherHeadersOptions,
  PublisherOptions,
  PublisherStats,
  PublishOptions,
  SubscriptionEvent,
  WaitForSubscribersOptions,
} from "./publisher.js";
export { Subscriber } from "./subscriber.js";
export type {
  SubscribeOptions,
  SubscriberDropInfo,
  SubscriberDropReason,
  SubscriberEvent,
  SubscriberOptions,
  SubscriberGap,
  SubscriberStats,
  SubscriptionPrefix,
  TopicMatch,
} from "./subscriber.js";
export { PipelineSource } from "./pipeline-source.js";
export type { PipelineSourceEvent, PipelineSourceOptions, PipelineSourceStats, PushOptions } from "./pipeline-source.js";
export { PipelineWorker } from "./pipeline-worker.js";
export type {
  JobContext,
  JobHandler,
  PipelineWorkerEndpoints,
  PipelineWorkerErrorInfo,
  PipelineWorkerEvent,
  PipelineWorkerOptions,
  PipelineWorkerStats,
} from "./pipeline-worker.js";
export { PipelineSink } from "./pipeline-sink.js";
export type {
  JobOutcome,
  PipelineSinkDropInfo,
  PipelineSinkDropReason,
  PipelineSinkEvent,
  PipelineSinkOptions,
  PipelineSinkStats,
  SinkDropInfo,
  SinkDropReason,
} from "./pipeline-sink.js";
export { RpcBroker } from "./rpc-broker.js";
export type {
  BrokerEndpoints,
  RpcBrokerEvent,
  RpcBrokerOptions,
  RpcBrokerStats,
  ServiceInfo,
  WaitForServersOptions,
  WorkerInfo,
} from "./rpc-broker.js";
export { PipelineStreamer, PubSubForwarder } from "./devices.js";
export type { DeviceOptions } from "./devices.js";
export { PipelineBroker } from "./pipeline-broker.js";
export type {
  PipelineBrokerEvent,
  PipelineBrokerOptions,
  PipelineBrokerStats,
  PipelineQueueStats,
  WaitForQueuePeersOptions,
} from "./pipeline-broker.js";
export { Broker } from "./broker.js";
export type {
  BrokerEvent,
  BrokerKind,
  BrokerOptions,
  BrokerStats,
  ReliablePipelineConfig,
  ReliablePipelineOptions,
} from "./broker.js";
export type { MulticastOptions } from "./multicast.js";
export type { CurveAllow, CurveCertificate, CurveOptions } from "./curve.js";
export { CAPABILITIES, doctor, formatDoctorReport } from "./doctor.js";
export type { DoctorReport } from "./doctor.js";
export type { BatchOptions } from "./batch.js";
export { generateCertificate, readCertificate, readPublicKeys, writeCertificate } from "./security/certificate.js";
export type {
  Certificate,
  CertificateFiles,
  CertificateFormat,
  ReadCertificateOptions,
  WriteCertificateOptions,
} from "./security/certificate.js";
export { Authenticator } from "./security/authenticator.js";
export type {
  AuthEvent,
  AuthenticatorDomain,
  AuthenticatorStats,
  DenialReason,
  ZapMechanism,
  ZapPolicy,
  ZapRequest,
} from "./security/authenticator.js";
export { toJsonSchema } from "./export/json-schema.js";
export type {
  AnyContract,
  ContractJsonSchema,
  JobsJsonSchema,
  JsonSchema,
  JsonSchemaOptions,
  MethodJsonSchema,
  RpcJsonSchema,
  TopicsJsonSchema,
  UnrepresentableHandler,
} from "./export/json-schema.js";
export { toAsyncApi } from "./export/asyncapi.js";
export type {
  AsyncApiChannel,
  AsyncApiContractInput,
  AsyncApiDocument,
  AsyncApiMessage,
  AsyncApiOperation,
  AsyncApiOptions,
  AsyncApiRef,
  AsyncApiServer,
  AsyncApiServerInput,
  ZmqChannelExtension,
  ZmqDocumentExtension,
  ZmqServerExtension,
} from "./export/asyncapi.js";
export { getInstrumentation, setInstrumentation } from "./tracing.js";
export type {
  Instrumentation,
  InstrumentationOptions,
  TraceAttributes,
  TraceContext,
  TraceSpan,
  TraceSpanError,
  TraceSpanKind,
  TraceSpanOptions,
} from "./tracing.js";
