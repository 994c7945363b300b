/**
 * @packageDocumentation
 * What the RPC broker and the two devices share: a frontend and a backend socket, both bound, and the real
 * endpoints they were bound to. Not exported from the package: users make these objects with their factories.
 */
import type * as zmq from "zeromq";
import { attachEndpoints } from "./attach.js";
import { Closable } from "./lifecycle.js";

/** Where a broker or device listens, as given to its factory. */
export interface TwoEndpoints {
  readonly frontend: string | readonly string[];
  readonly backend: string | readonly string[];
}

/** Base of `RpcBroker`, `PubSubForwarder` and `PipelineStreamer`: two bound sockets and their real endpoints. */
export abstract class TwoSided extends Closable {
  #frontends: readonly string[] = [];
  #backends: readonly string[] = [];

  /** The first frontend endpoint, with the real port or path. */
  get frontend(): string {
    return this.#frontends[0] ?? "";
  }

  /** The first backend endpoint, with the real port or path. */
  get backend(): string {
    return this.#backends[0] ?? "";
  }

  /** Every frontend endpoint, with real ports and paths. */
  get frontends(): readonly string[] {
    return this.#frontends;
  }

  /** Every backend endpoint, with real ports and paths. */
  get backends(): readonly string[] {
    return this.#backends;
  }

  /** Binds both sockets; on any failure closes both and rethrows, so a factory that fails leaves nothing open. */
  protected async bindBoth(front: zmq.Socket, back: zmq.Socket, endpoints: TwoEndpoints, owner: string): Promise<void> {
    const use = { owner, multicast: false };
    try {
      this.#frontends = Object.freeze(await attachEndpoints(front, endpoints.frontend, "bind", use));
      this.#backends = Object.freeze(await attachEndpoints(back, endpoints.backend, "bind", use));
    } catch (err) {
      front.close();
      back.close();
      throw err;
    }
  }
}
