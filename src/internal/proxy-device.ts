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
import { InvalidArgumentError, OutOfRangeError } from "../errors/index.js";
import { CurveGuard, curveSocketOptions, readCurveOptions, type CurveSocketOptions } from "./curve.js";
import { resolveOptions } from "./options.js";
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
  #curve: CurveGuard | undefined;

  /**
   * Checks the options (`highWaterMark`, `curve`) and the pool before any socket exists, makes the two sockets,
   * binds both and starts the proxy; on any failure both sockets are closed (and a CURVE domain released).
   * @internal
   */
  protected async start(
    owner: string,
    endpoints: TwoEndpoints,
    options: object,
    sockets: (highWaterMark: number, curve: Partial<CurveSocketOptions>) => [zmq.Socket, zmq.Socket],
  ): Promise<this> {
    const config = resolveOptions(owner, options, (read) => ({
      hwm: read.positiveInt("highWaterMark", 1000),
      curve: readCurveOptions(read),
    }));
    if (config.curve?.role === "client") {
      throw new InvalidArgumentError(
        `${owner}: \`curve.serverKey\` does not apply: both faces of a device are CURVE servers; give \`allow\` instead.`,
      );
    }
    const threads = poolSize();
    if (running + 1 >= threads) {
      throw new OutOfRangeError(
        `${owner}: ${running} devices already run in this process, each on one of the ${threads} threads of libuv's ` +
          `pool (UV_THREADPOOL_SIZE), and one more would leave none for fs, dns and crypto. Close a device, run it in ` +
          `another process, or start Node with a larger UV_THREADPOOL_SIZE.`,
      );
    }
    const [front, back] = sockets(config.hwm, curveSocketOptions(config.curve));
    // One ZAP domain, one allow-list, for both faces: every listed key may connect to either face (documented on
    // the devices' `curve` option). A failure to register it leaves no socket open.
    try {
      this.#curve = CurveGuard.open(config.curve);
    } catch (err) {
      front.close();
      back.close();
      throw err;
    }
    this.#curve?.watch(front);
    this.#curve?.watch(back);
    try {
      await this.bindBoth(front, back, endpoints, owner);
    } catch (err) {
      this.#curve?.release();
      throw err;
    }
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
    this.#curve?.release();
  }
}
