/**
 * @packageDocumentation
 * Deprecated names from before the split of `Broker` into {@link RpcBroker} and the two devices,
 * {@link PubSubForwarder} and {@link PipelineStreamer}. They forward to the new factories so that existing code
 * compiles; the counters of the two devices are gone (they run on zeromq.js's native proxy).
 */
import { PipelineStreamer, PubSubForwarder, type DeviceOptions } from "./devices.js";
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
 * @deprecated Use {@link RpcBroker}, {@link PubSubForwarder} or {@link PipelineStreamer} instead.
 */
export type Broker = RpcBroker | PubSubForwarder | PipelineStreamer;

/**
 * The factories of the old `Broker` class.
 * @deprecated Use {@link RpcBroker.bind}, {@link PubSubForwarder.bind} or {@link PipelineStreamer.bind} instead.
 */
export const Broker: {
  /** @deprecated Use {@link RpcBroker.bind} instead. */
  rpc(endpoints: BrokerEndpoints, options?: RpcBrokerOptions): Promise<RpcBroker>;
  /** @deprecated Use {@link PubSubForwarder.bind} instead. Only `highWaterMark` is read from `options`. */
  pubsub(endpoints: BrokerEndpoints, options?: RpcBrokerOptions): Promise<PubSubForwarder>;
  /** @deprecated Use {@link PipelineStreamer.bind} instead. Only `highWaterMark` is read from `options`. */
  pipeline(endpoints: BrokerEndpoints, options?: RpcBrokerOptions): Promise<PipelineStreamer>;
} = Object.freeze({
  rpc: (endpoints: BrokerEndpoints, options: RpcBrokerOptions = {}) => RpcBroker.bind(endpoints, options),
  pubsub: (endpoints: BrokerEndpoints, options: RpcBrokerOptions = {}) => PubSubForwarder.bind(endpoints, deviceOptions(options)),
  pipeline: (endpoints: BrokerEndpoints, options: RpcBrokerOptions = {}) =>
    PipelineStreamer.bind(endpoints, deviceOptions(options)),
});
