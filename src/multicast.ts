/**
 * @packageDocumentation
 * Settings for reliable multicast (`pgm://`, `epgm://`), shared by `Publisher` and `Subscriber`.
 *
 * PGM needs a libzmq built with it: see `doctor()` and `npx typed-zmq build-zmq-system`.
 */

/** Multicast settings of a publisher or subscriber; libzmq applies them to `pgm://` and `epgm://` endpoints. */
export interface MulticastOptions {
  /**
   * `ZMQ_RATE`: the most data per second a publisher sends, or a subscriber expects, in kilobits per second.
   * @defaultValue 100 (libzmq's default)
   */
  readonly rateKbps?: number;
  /**
   * `ZMQ_RECOVERY_IVL`: how long a subscriber may be absent from the group before data is lost for good, in ms
   * (the publisher keeps that much data for repairs).
   * @defaultValue 10000 (libzmq's default)
   */
  readonly recoveryIntervalMs?: number;
  /**
   * `ZMQ_MULTICAST_HOPS`: the time-to-live of multicast packets. 1 keeps them on the local network.
   * @defaultValue 1
   */
  readonly hops?: number;
}
