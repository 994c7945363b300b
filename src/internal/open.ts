/**
 * @packageDocumentation
 * The factory, written once: every pattern class's `bind`/`connect` is "resolve options, construct, attach the
 * sockets, start the read loops", and on any failure after construction the object is closed (so its sockets are),
 * and the error is rethrown.
 *
 * Use (inside the class, which alone can reach its private sockets and the protected `attach`):
 * ```ts
 * static bind(endpoint, contract, options = {}) {
 *   return openPattern({
 *     create: (owner) => new Publisher(contract, resolvePublisherOptions(owner, options), owner),
 *     attach: (pub, use) => pub.attach(pub.#socket, endpoint, "bind", use),
 *     start: (pub) => pub.#startReading(),
 *   }, "Publisher", "bind", { multicast: true });
 * }
 * ```
 * `create` must resolve every option (see `internal/options.ts`) before it creates a socket, so a bad option throws
 * with nothing open. A constructor that throws after creating a socket must close it itself.
 * @internal
 */
import type { EndpointUse } from "./attach.js";

/** How a socket joins its endpoints. @internal */
export type OpenMode = "bind" | "connect";

/** What the factory needs from one pattern class. @internal */
export interface OpenSteps<TSelf> {
  /** Resolves the options (throwing before any socket exists) and constructs the object; `owner` is `Class.mode`. */
  readonly create: (owner: string) => TSelf;
  /** Binds or connects the object's sockets (usually through the protected `attach`, which records the endpoints). */
  readonly attach: (self: TSelf, use: EndpointUse) => Promise<void>;
  /** Starts read loops once every socket is attached. Must not throw. */
  readonly start?: (self: TSelf) => void;
}

/** Anything that can be closed: the pattern classes (`Closable`). @internal */
export interface CloseOnFailure {
  close(): Promise<void>;
}

/** `Publisher.bind`, `PipelineWorker.connect`: the owner named in messages. @internal */
export function ownerName(className: string, mode: OpenMode): string {
  return `${className}.${mode}`;
}

/**
 * Runs the factory steps. If `attach` fails, the object is closed (every socket it created is closed) and the
 * attach error is rethrown unchanged; if `create` throws, nothing was opened.
 * @param options - `multicast`: whether `pgm://`/`epgm://` endpoints are allowed (publishers and subscribers).
 * @internal
 */
export async function openPattern<TSelf extends CloseOnFailure>(
  steps: OpenSteps<TSelf>,
  className: string,
  mode: OpenMode,
  options: { readonly multicast?: boolean } = {},
): Promise<TSelf> {
  const owner = ownerName(className, mode);
  const self = steps.create(owner);
  try {
    await steps.attach(self, { owner, multicast: options.multicast === true });
  } catch (err) {
    await self.close();
    throw err;
  }
  steps.start?.(self);
  return self;
}
