/**
 * @packageDocumentation
 * The base of the two pass-through devices (`PubSubForwarder`, `PipelineStreamer`): two bound sockets joined by
 * zeromq.js's native `zmq.Proxy` (`zmq_proxy_steerable`, run in a libuv worker thread). Frames move inside libzmq
 * without a JavaScript hop. zeromq.js 6.8's `Proxy` has no capture socket and no statistics (only `run`, `pause`,
 * `resume` and `terminate`), so the devices keep no per-message counters.
 *
 * A running proxy occupies one thread of libuv's pool (`UV_THREADPOOL_SIZE`, 4 by default) until it stops: the pool
 * that also serves `fs`, `dns.lookup`, `crypto` and `zlib`. So a process runs at most one device fewer than the pool
 * has threads; one more is refused with a `RangeError`, rather than leave the process's file reads waiting forever.
 * Not exported from the package.
 */
import * as zmq from "zeromq";
import { OutOfRangeError } from "../errors/index.js";
import { checkPositiveInt } from "./options.js";
import { TwoSided, type TwoEndpoints } from "./two-sided.js";

/** Devices running in this process, each holding a libuv pool thread. */
let running = 0;

/** libuv reads UV_THREADPOOL_SIZE when its pool starts; it clamps the value to 1..1024 and defaults to 4. */
function poolSize(): number {
  const size = Number.parseInt(process.env["UV_THREADPOOL_SIZE"] ?? "", 10);
  return Number.isInteger(size) && size > 0 ? Math.min(size, 1024) : 4;
}

/** Two bound sockets and the native proxy between them. */
export abstract class ProxyDevice extends TwoSided {
  #proxy: zmq.Proxy | undefined;
  #finished: Promise<void> = Promise.resolve();

  /**
   * Checks the high-water mark and the pool before any socket exists, makes the two sockets, binds both and starts
   * the proxy; on any failure both sockets are closed.
   */
  protected async start(
    owner: string,
    endpoints: TwoEndpoints,
    highWaterMark: number | undefined,
    sockets: (highWaterMark: number) => [zmq.Socket, zmq.Socket],
  ): Promise<this> {
    const hwm = checkPositiveInt(highWaterMark, 1000, "highWaterMark", owner);
    const threads = poolSize();
    if (running + 1 >= threads) {
      throw new OutOfRangeError(
        `${owner}: ${running} devices already run in this process, each on one of the ${threads} threads of libuv's ` +
          `pool (UV_THREADPOOL_SIZE), and one more would leave none for fs, dns and crypto. Close a device, run it in ` +
          `another process, or start Node with a larger UV_THREADPOOL_SIZE.`,
      );
    }
    const [front, back] = sockets(hwm);
    await this.bindBoth(front, back, endpoints, owner);
    const proxy = new zmq.Proxy(front, back);
    running++;
    // However it ends (terminate, or an error), the proxy closes both sockets itself.
    this.#finished = proxy.run().then(
      () => undefined,
      () => undefined,
    );
    void this.#finished.then(() => running--);
    this.#proxy = proxy;
    return this;
  }

  /** Stops the proxy, which closes both sockets (messages still queued in them are dropped). */
  protected override async shutdown(): Promise<void> {
    try {
      this.#proxy?.terminate();
    } catch {
      // EBADF: the proxy has already stopped.
    }
    await this.#finished;
  }
}
