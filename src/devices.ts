/**
 * @packageDocumentation
 * The two pass-through devices: `PubSubForwarder` (XSUB frontend, XPUB backend) and `PipelineStreamer` (PULL
 * frontend, PUSH backend). Neither looks at a message, so both run on zeromq.js's native `zmq.Proxy`: frames pass
 * inside libzmq, in a worker thread, and there are no per-message counters. See `internal/proxy-device.ts` for the
 * one-thread-per-device limit.
 */
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { ProxyDevice } from "./internal/proxy-device.js";
import type { BrokerEndpoints } from "./rpc-broker.js";

/** Options of {@link PubSubForwarder.bind} and {@link PipelineStreamer.bind}. */
export interface DeviceOptions {
  /** `ZMQ_SNDHWM` and `ZMQ_RCVHWM` of both sockets. @defaultValue 1000 */
  readonly highWaterMark?: number;
  /**
   * CURVE on both faces, which are CURVE servers: `{ certificate, allow }`. The same allow-list applies to both
   * faces (publishers and subscribers, or sources and workers); `serverKey` does not apply. So every listed key may
   * connect to either face: a listed subscriber can also publish through a forwarder, and a listed worker can push
   * tasks into a streamer. When those roles must not mix, list only the trusted side here and give the other side
   * its own device, or use `RpcBroker`, which has one list per face.
   * @defaultValue none: plaintext
   */
  readonly curve?: Omit<CurveOptions, "serverKey">;
}

/**
 * A pub-sub forwarder: `Publisher`s connect to `frontend` (XSUB), `Subscriber`s to `backend` (XPUB). Messages flow
 * down and subscriptions flow up, so filtering still happens at the publishers. The XSUB side keeps one subscription
 * set for all subscribers (libzmq): a publisher that connects after them is sent each topic once, and an
 * unsubscription passes up when the last subscriber of its topic leaves. So behind a forwarder,
 * `Publisher.subscriptions` and `waitForSubscribers` count topics subscribed, not subscribers.
 *
 * Runs on zeromq.js's native `zmq.Proxy`, so it has no message counters (the native proxy offers none) and holds one
 * libuv pool thread while open: a process runs at most `UV_THREADPOOL_SIZE - 1` devices (3 by default).
 * `close()` stops the proxy and closes both sockets; messages still queued in them are dropped.
 *
 * @example
 * ```ts
 * await using forwarder = await PubSubForwarder.bind({ frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" });
 * await using pub = await Publisher.connect(forwarder.frontend, Prices);
 * await using sub = await Subscriber.connect(forwarder.backend, Prices, { topics: ["price"] });
 * ```
 */
export class PubSubForwarder extends ProxyDevice {
  /** Which kind of broker or device this is: always `"pubsub"`. */
  readonly kind = "pubsub" as const;

  private constructor() {
    super();
  }

  /**
   * Binds a forwarder and starts it.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; `RangeError` for a bad `highWaterMark`, or when
   *   the process already runs as many devices as libuv's pool allows.
   */
  static override async bind(endpoints: BrokerEndpoints, options: DeviceOptions = {}): Promise<PubSubForwarder> {
    return new PubSubForwarder().start("PubSubForwarder.bind", endpoints, options, (hwm, curve) => {
      const common = { linger: 0, sendHighWaterMark: hwm, receiveHighWaterMark: hwm, ...curve };
      return [new zmq.XSubscriber(common), new zmq.XPublisher({ ...common, verbosity: "allSubsUnsubs" })];
    });
  }
}

/**
 * A pipeline streamer: `PipelineSource`s connect to `frontend` (PULL), `PipelineWorker`s to `backend` (PUSH). Tasks
 * flow through unchanged and are spread over the workers round-robin. With no worker connected the streamer stops
 * reading, so sources wait (backpressure), as with a direct PUSH.
 *
 * Runs on zeromq.js's native `zmq.Proxy`, so it has no message counters (the native proxy offers none) and holds one
 * libuv pool thread while open: a process runs at most `UV_THREADPOOL_SIZE - 1` devices (3 by default).
 * `close()` stops the proxy and closes both sockets; tasks still queued in them are dropped.
 *
 * @example
 * ```ts
 * await using streamer = await PipelineStreamer.bind({ frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" });
 * await using source = await PipelineSource.connect(streamer.frontend, Jobs);
 * ```
 */
export class PipelineStreamer extends ProxyDevice {
  /** Which kind of broker or device this is: always `"pipeline"`. */
  readonly kind = "pipeline" as const;

  private constructor() {
    super();
  }

  /**
   * Binds a streamer and starts it.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}; `RangeError` for a bad `highWaterMark`, or when
   *   the process already runs as many devices as libuv's pool allows.
   */
  static override async bind(endpoints: BrokerEndpoints, options: DeviceOptions = {}): Promise<PipelineStreamer> {
    return new PipelineStreamer().start("PipelineStreamer.bind", endpoints, options, (hwm, curve) => [
      new zmq.Pull({ linger: 0, receiveHighWaterMark: hwm, ...curve }),
      new zmq.Push({ linger: 0, sendHighWaterMark: hwm, ...curve }),
    ]);
  }
}
