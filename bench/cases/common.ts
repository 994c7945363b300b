/**
 * What every role (one side of one run, inside a peer process) shares: its handle, the raw no-drop send with a
 * tiny backoff, the stall watchdog, RSS sampling for the soak, and feature checks for options still being added.
 */
import type * as zmq from "zeromq";
import { END } from "../payloads.js";
import type { CloseValue, CurveKeys, RunResult, RoleSpec } from "../protocol.js";

/** One side of one run, opened (bound or connected) and ready. */
export interface RoleHandle {
  /** The real endpoint (after bind), or the one connected to; a broker's frontend. */
  readonly endpoint: string;
  /** A broker's real backend endpoint. */
  readonly backend?: string;
  /** Does the work; passive roles (servers) resolve at once. */
  run(): Promise<RunResult>;
  /** Closes the sockets (servers report their soak sample here). */
  close(): Promise<CloseValue>;
}

export type RoleOpener = (spec: RoleSpec) => Promise<RoleHandle>;

/** The `batch` option the issue specifies for Publisher and PipelineSource. */
export const BATCH = { maxMessages: 256, maxBytes: 65_536, maxDelayMs: 1 } as const;

/** Options being added to Publisher / PipelineSource; declared here so the bench compiles before and after. */
export interface BatchOptions {
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  readonly maxDelayMs?: number;
}
export interface FuturePublisherOptions {
  readonly noDrop?: boolean;
  readonly batch?: BatchOptions | true;
}
export interface FutureSourceOptions {
  readonly batch?: BatchOptions | true;
}

/**
 * The `service` option of the Majordomo change (`RpcServer.connect(…, { service })` registers a worker for it,
 * `RpcClient.connect(…, { service })` addresses it, `broker.waitForServers(n, { service })` waits for its workers);
 * declared here so the bench compiles before and after.
 */
export interface FutureServiceOption {
  readonly service?: string;
}

/**
 * The `curve` option of the security change (issue 11); declared here so the bench compiles before and after.
 * Server role: its key pair and the allowed client keys; client role: its key pair and the server's public key.
 */
export interface FutureCurveOption {
  readonly curve?: {
    readonly secretKey: string;
    readonly publicKey: string;
    readonly serverKey?: string;
    readonly allow?: readonly string[];
  };
}

/** The binding side's `curve` option for a run with keys (`{}`: plaintext). */
export function serverCurve(keys: CurveKeys | undefined): FutureCurveOption {
  return keys === undefined
    ? {}
    : { curve: { secretKey: keys.serverSecret, publicKey: keys.serverPublic, allow: [keys.clientPublic] } };
}

/** The connecting side's `curve` option for a run with keys (`{}`: plaintext). */
export function clientCurve(keys: CurveKeys | undefined): FutureCurveOption {
  return keys === undefined
    ? {}
    : { curve: { secretKey: keys.clientSecret, publicKey: keys.clientPublic, serverKey: keys.serverPublic } };
}

/** `{ service }` when there is one, `{}` otherwise (exactOptionalPropertyTypes forbids `service: undefined`). */
export function serviceOption(service: string | undefined): FutureServiceOption {
  return service === undefined ? {} : { service };
}

/** True when the object has a `flush(): Promise<void>` method (Publisher / PipelineSource with batching). */
export function hasFlush<T extends object>(value: T): value is T & { flush(): Promise<void> } {
  return typeof Reflect.get(value, "flush") === "function";
}

export function now(): number {
  return performance.now();
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function isEagain(err: unknown): boolean {
  return typeof err === "object" && err !== null && Reflect.get(err, "code") === "EAGAIN";
}

/** Raw lossless publish: a `noDrop` PUB rejects with EAGAIN when a queue is full; wait a turn and try again. */
export async function sendNoDrop(socket: zmq.Writable, frames: zmq.MessageLike[]): Promise<void> {
  for (;;) {
    try {
      await socket.send(frames);
      return;
    } catch (err) {
      if (!isEagain(err)) throw err;
      await immediate();
    }
  }
}

/** Calls `onStall` once `progress()` has not changed for `stallMs`. */
export function watchStall(progress: () => number, stallMs: number, onStall: () => void): () => void {
  let last = progress();
  let since = now();
  const timer = setInterval(() => {
    const p = progress();
    if (p !== last) {
      last = p;
      since = now();
    } else if (now() - since >= stallMs) {
      clearInterval(timer);
      onStall();
    }
  }, 250);
  return () => clearInterval(timer);
}

function isCallable(value: unknown): value is () => void {
  return typeof value === "function";
}

function rssMiB(): number {
  const gc: unknown = Reflect.get(globalThis, "gc");
  if (isCallable(gc)) gc(); // peers started with --expose-gc (the soak) collect first
  return process.memoryUsage.rss() / (1024 * 1024);
}

/**
 * RSS sampling for the soak: `tick(n)` samples once when `n` reaches the warm-up count, `end()` samples at the end.
 * With a warm-up of 0 it never samples and reports nothing.
 */
export class RssProbe {
  readonly #at: number;
  #warm: number | undefined;

  constructor(warmup: number) {
    this.#at = warmup > 0 ? warmup : -1;
  }

  tick(n: number): void {
    if (n === this.#at) this.#warm = rssMiB();
  }

  end(): { warmMiB: number; endMiB: number } | undefined {
    if (this.#warm === undefined) return undefined;
    return { warmMiB: this.#warm, endMiB: rssMiB() };
  }
}

/** `{ rss }` when the probe sampled, `{}` otherwise (exactOptionalPropertyTypes forbids `rss: undefined`). */
export function withRss<T extends object>(value: T, probe: RssProbe): T & { rss?: { warmMiB: number; endMiB: number } } {
  const rss = probe.end();
  return rss === undefined ? value : { ...value, rss };
}

/**
 * The receiving side of a throughput run: count messages until the end marker, with the stall watchdog and RSS probe.
 * `messages` is a raw zeromq.js socket (frames) or a typed receiver; `seqFrom` gives a message's sequence number, or
 * undefined to skip it; `onStall` closes the receiver so the loop ends.
 */
export async function countUntilEnd<T>(
  messages: AsyncIterable<T>,
  spec: RoleSpec,
  probe: RssProbe,
  seqFrom: (message: T) => number | undefined,
  onStall: () => void,
): Promise<RunResult> {
  let count = 0;
  let started = 0;
  let endSeen = false;
  const stop = watchStall(() => count, spec.stallMs, onStall);
  try {
    for await (const message of messages) {
      if (count === 0) started = now();
      const seq = seqFrom(message);
      if (seq === undefined) continue;
      if (seq === END) {
        endSeen = true;
        break;
      }
      count++;
      probe.tick(count);
    }
  } catch {
    // closed by the stall watchdog
  }
  const elapsedMs = now() - started;
  stop();
  return withRss({ count, elapsedMs, endSeen }, probe);
}

/**
 * The serve loop a user writes by hand around a raw REP or ROUTER socket: answer every request with `reply(frames)`
 * (or skip it when that returns undefined) until the socket is closed.
 */
export async function serveRaw(
  socket: zmq.Readable & zmq.Writable & zmq.Socket,
  probe: RssProbe,
  reply: (frames: Buffer[]) => zmq.MessageLike[] | undefined,
): Promise<void> {
  let handled = 0;
  for await (const frames of socket) {
    const answer = reply(frames);
    if (answer === undefined) continue;
    probe.tick(++handled);
    await socket.send(answer).catch(() => undefined);
  }
}
