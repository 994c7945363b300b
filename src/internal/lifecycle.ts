/**
 * @packageDocumentation
 * The shared resource lifecycle: idempotent, awaitable `close()` and `await using` support.
 *
 * Every pattern class extends {@link PatternBase} and implements `shutdown()`. Not exported from the package: the
 * constructors and `shutdown()` are internal, so a subclass outside it could not work.
 */
import type * as zmq from "zeromq";
import { InvalidArgumentError } from "../errors/index.js";
import { attachEndpoints, type EndpointUse } from "./attach.js";

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

/**
 * Base of the pattern classes: owns the contract and the endpoints bound or connected, on top of {@link Closable}.
 *
 * `endpoint` and `endpoints` report the real addresses (the port chosen for `tcp://host:0`, the path chosen for
 * `ipc://*`).
 */
export abstract class PatternBase<TContract> extends Closable {
  readonly #contract: TContract;
  readonly #endpoints: string[] = [];
  #endpointText = "";

  /** @internal */
  protected constructor(contract: TContract) {
    super();
    this.#contract = contract;
  }

  /** The contract this object speaks. */
  get contract(): TContract {
    return this.#contract;
  }

  /** The first endpoint, with the real port or path when an ephemeral one was asked for. */
  get endpoint(): string {
    return this.#endpoints[0] ?? "";
  }

  /** Every endpoint bound or connected, with real ports and paths. */
  get endpoints(): readonly string[] {
    return [...this.#endpoints];
  }

  /**
   * The endpoints as one string, for messages.
   * @internal
   */
  protected get endpointText(): string {
    return this.#endpointText;
  }

  /**
   * Binds or connects `socket` and records the real endpoints; on failure the socket is closed.
   * @internal
   */
  protected async attach(
    socket: zmq.Socket,
    endpoint: string | readonly string[],
    mode: "bind" | "connect",
    use: EndpointUse,
  ): Promise<void> {
    this.#endpoints.push(...(await attachEndpoints(socket, endpoint, mode, use)));
    this.#endpointText = this.#endpoints.join(", ");
  }
}

/**
 * Returns `contract` when it is of the expected kind; otherwise throws a `TypeError` naming the factory to use.
 */
export function checkContract<TContract extends { readonly kind: string }>(
  contract: TContract,
  kind: TContract["kind"],
  owner: string,
): TContract {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
  if (contract?.kind !== kind) {
    const factory = kind === "rpc" ? "defineRpc" : kind === "topics" ? "defineTopics" : "defineJobs";
    throw new InvalidArgumentError(`${owner}: \`contract\` must be made with ${factory}().`);
  }
  return contract;
}
