/**
 * @packageDocumentation
 * The shared resource lifecycle: idempotent, awaitable `close()` and `await using` support.
 *
 * Depends on nothing. Every pattern class extends {@link Closable} and implements `shutdown()`.
 */

/**
 * Base of every typed-zmq object that owns sockets.
 *
 * `close()` is idempotent: every call returns the same promise, which resolves once all sockets are closed and all
 * pending work is settled. `await using` closes the object when the scope ends.
 */
export abstract class Closable implements AsyncDisposable {
  #closing: Promise<void> | undefined;

  /** True once `close()` has been called (even if it has not finished yet). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Closes the object. Safe to call many times; every call resolves when the first one has finished.
   * @returns A promise that resolves when every socket is closed and every pending call is settled; it never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= this.shutdown().catch(() => undefined);
    return this.#closing;
  }

  /** Closes the object at the end of an `await using` scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Rejects pending work, closes sockets and awaits read loops. Called once, by `close()`.
   * @internal
   */
  protected abstract shutdown(): Promise<void>;
}
