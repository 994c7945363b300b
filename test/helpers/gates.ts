import { deferred, type Deferred } from "./deferred.js";

/**
 * Lets a test hold handlers until it decides to release them, and wait until a handler has started.
 * `enter(key)` is called by the handler; the test awaits `arrived(key)` and calls `open(key)`.
 */
export class Gates {
  readonly #arrived = new Map<string, Deferred<void>>();
  readonly #open = new Map<string, Deferred<void>>();
  #entered = 0;
  #enteredWaiters: Array<{ count: number; resolve: () => void }> = [];

  #get(map: Map<string, Deferred<void>>, key: string): Deferred<void> {
    let d = map.get(key);
    if (d === undefined) {
      d = deferred();
      map.set(key, d);
    }
    return d;
  }

  /** Called by a handler: marks `key` as arrived and waits until the test opens it. */
  async enter(key: string): Promise<void> {
    this.#get(this.#arrived, key).resolve();
    this.#entered++;
    this.#enteredWaiters = this.#enteredWaiters.filter((w) => {
      if (this.#entered >= w.count) w.resolve();
      return this.#entered < w.count;
    });
    await this.#get(this.#open, key).promise;
  }

  /** Resolves once a handler has entered `key`. */
  arrived(key: string): Promise<void> {
    return this.#get(this.#arrived, key).promise;
  }

  /** Resolves once `count` handlers have entered, in total. */
  entered(count: number): Promise<void> {
    if (this.#entered >= count) return Promise.resolve();
    return new Promise((resolve) => this.#enteredWaiters.push({ count, resolve }));
  }

  /** Lets the handler waiting on `key` continue. */
  open(key: string): void {
    this.#get(this.#open, key).resolve();
  }
}
