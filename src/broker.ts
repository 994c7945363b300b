/**
 * @packageDocumentation
 * Deprecated names from before the split of `Broker` into {@link RpcBroker} and the two devices,
 * {@link PubSubForwarder} and {@link PipelineStreamer}. They forward to the new factories so that existing code
 * compiles; the counters of the two devices are gone (they run on zeromq.js's native proxy).
 */
import { PipelineStreamer, PubSubForwarder, type DeviceOptions } from "./devices.js";
import { PipelineBroker, type PipelineBrokerOptions } from "./pipeline-broker.js";
import {
  RpcBroker,
  type BrokerEndpoints,
  type RpcBrokerEvent,
  type RpcBrokerOptions,
  type RpcBrokerStats,
} from "./rpc-broker.js";

/** The one option the devices read. */
function deviceOptions(options: RpcBrokerOptions): DeviceOptions {
  return options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark };
}

/**
 * Which pattern a broker serves.
 * @deprecated Use the `kind` of {@link RpcBroker}, {@link PubSubForwarder} or {@link PipelineStreamer} instead.
 */
export type BrokerKind = "rpc" | "pubsub" | "pipeline";

/**
 * Something an RPC broker did.
 * @deprecated Use {@link RpcBrokerEvent} instead.
 */
export type BrokerEvent = RpcBrokerEvent;

/**
 * Counters of an RPC broker.
 * @deprecated Use {@link RpcBrokerStats} instead.
 */
export type BrokerStats = RpcBrokerStats;

/**
 * Options of the deprecated `Broker` factories. The devices read only `highWaterMark`.
 * @deprecated Use {@link RpcBrokerOptions} (or `DeviceOptions` for the devices) instead.
 */
export type BrokerOptions = RpcBrokerOptions;

/**
 * What a deprecated `Broker` factory returns.
 * @deprecated Use {@link RpcBroker}, {@link PubSubForwarder}, {@link PipelineStreamer} or {@link PipelineBroker} instead.
 */
export type Broker = RpcBroker | PubSubForwarder | PipelineStreamer | PipelineBroker;

/**
 * Options of `Broker.pipeline` that ask for the reliable pipeline: a `store` (durable) or `mode: "reliable"`
 * (in memory).
 */
export type ReliablePipelineOptions = PipelineBrokerOptions & ({ readonly store: string } | { readonly mode: "reliable" });

/** The one-object form of `Broker.pipeline`: the endpoints and the reliable pipeline's options together. */
export type ReliablePipelineConfig = BrokerEndpoints & ReliablePipelineOptions;

function isReliable(options: object | undefined): boolean {
  if (options === undefined) return false;
  return Reflect.get(options, "store") !== undefined || Reflect.get(options, "mode") === "reliable";
}

/** Splits the one-object form into endpoints and options. */
function splitConfig(config: ReliablePipelineConfig): [BrokerEndpoints, PipelineBrokerOptions] {
  const { frontend, backend, ...options } = config;
  return [{ frontend, backend }, options];
}

function pipeline(
  endpoints: BrokerEndpoints | ReliablePipelineConfig,
  options?: RpcBrokerOptions | ReliablePipelineOptions,
): Promise<PipelineStreamer | PipelineBroker> {
  if (options === undefined && isReliable(endpoints))
    return PipelineBroker.bind(...splitConfig(endpoints as ReliablePipelineConfig)); // checked by isReliable
  if (isReliable(options)) return PipelineBroker.bind(endpoints, options as PipelineBrokerOptions); // checked by isReliable
  return PipelineStreamer.bind(endpoints, deviceOptions((options ?? {}) as RpcBrokerOptions)); // not reliable: the device's options
}

/**
 * The factories of the old `Broker` class.
 * @deprecated Use {@link RpcBroker.bind}, {@link PubSubForwarder.bind} or {@link PipelineStreamer.bind} instead.
 */
export const Broker: {
  /** @deprecated Use {@link RpcBroker.bind} instead. */
  rpc(endpoints: BrokerEndpoints, options?: RpcBrokerOptions): Promise<RpcBroker>;
  /** @deprecated Use {@link PubSubForwarder.bind} instead. Only `highWaterMark` is read from `options`. */
  pubsub(endpoints: BrokerEndpoints, options?: RpcBrokerOptions): Promise<PubSubForwarder>;
  /**
   * The reliable pipeline broker when `options` has `store` (durable) or `mode: "reliable"`: the same as
   * {@link PipelineBroker.bind}.
   */
  pipeline(endpoints: BrokerEndpoints, options: ReliablePipelineOptions): Promise<PipelineBroker>;
  /** The reliable pipeline broker, endpoints and options in one object: `Broker.pipeline({ frontend, backend, store })`. */
  pipeline(config: ReliablePipelineConfig): Promise<PipelineBroker>;
  /** @deprecated Use {@link PipelineStreamer.bind} instead. Only `highWaterMark` is read from `options`. */
  pipeline(endpoints: BrokerEndpoints, options?: RpcBrokerOptions): Promise<PipelineStreamer>;
} = Object.freeze({
  rpc: (endpoints: BrokerEndpoints, options: RpcBrokerOptions = {}) => RpcBroker.bind(endpoints, options),
  pubsub: (endpoints: BrokerEndpoints, options: RpcBrokerOptions = {}) => PubSubForwarder.bind(endpoints, deviceOptions(options)),
  pipeline,
}) as typeof Broker; // pipeline's overloads are the implementation's signature split by its two tests
