/**
 * @packageDocumentation
 * {@link Authenticator}: a ZAP handler (rfc.zeromq.org 27/ZAP) for Node, in process. zeromq.js ships none; libzmq
 * asks the ROUTER bound to `inproc://zeromq.zap.01` in the same zmq context whether each connecting peer may pass,
 * and this class answers from a policy per ZAP domain: a CURVE allow-list (inline keys, or a directory of public
 * certificates reloaded when it changes), PLAIN users, IP allow and deny lists, and a callback. Every decision is
 * counted and emitted as a typed event. Framing lives in `protocol/zap.ts`; this file holds the policy and the socket.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import * as zmq from "zeromq";
import { InvalidArgumentError } from "../errors/index.js";
import { readLoop } from "../internal/read-loop.js";
import { SendQueue } from "../internal/send-queue.js";
import { settleWithin } from "../internal/timing.js";
import { fromZmqError, toError } from "../internal/zmq-errors.js";
import {
  ZAP_ENDPOINT,
  ZapStatus,
  encodeZapReply,
  parseZapRequest,
  type ZapCredentials,
  type ZapReplyTo,
} from "../protocol/zap.js";
import { readPublicKeys } from "./certificate.js";
import { isZ85Key, z85Encode } from "./z85.js";

/** Why a peer was refused. */
export type DenialReason =
  /** CURVE: the client's public key is not on the domain's allow-list. */
  | "unknown-key"
  /** The client's IP address is on the deny list, or not on the allow list. */
  | "ip-denied"
  /** PLAIN: unknown user or wrong password. */
  | "bad-password"
  /** The policy's `check` callback said no, threw, or did not answer in time. */
  | "callback"
  /** The request names a ZAP domain that has no policy on this authenticator. */
  | "no-policy"
  /** The client used a mechanism the domain does not accept (NULL or PLAIN where CURVE is required, GSSAPI...). */
  | "mechanism"
  /** The security handshake failed before ZAP was asked (wrong server key, garbage); see {@link Authenticator.reportHandshakeFailure}. */
  | "handshake";

const DENIAL_REASONS: readonly DenialReason[] = [
  "unknown-key",
  "ip-denied",
  "bad-password",
  "callback",
  "no-policy",
  "mechanism",
  "handshake",
];

/** The security mechanisms ZAP defines. */
export type ZapMechanism = "NULL" | "PLAIN" | "CURVE";

/** What a {@link ZapPolicy.check} callback is told about a connecting peer (after the lists let it pass). */
export interface ZapRequest {
  /** The ZAP domain of the server socket (`zapDomain`). */
  readonly domain: string;
  /** The peer's IP address, as libzmq gives it (dotted IPv4 or IPv6 text). */
  readonly address: string;
  /** The peer's ZMTP identity property (its routing id, if it set one); often empty. */
  readonly identity: Uint8Array;
  /** The security mechanism the peer uses. */
  readonly mechanism: ZapMechanism;
  /** CURVE: the peer's long-term public key, Z85 (40 characters). */
  readonly publicKey?: string;
  /** PLAIN: the username (the password has already been checked and is not passed on). */
  readonly username?: string;
}

/** Who may connect to the sockets of one ZAP domain. Every part that is present must agree. */
export interface ZapPolicy {
  /**
   * CURVE clients allowed: their Z85 public keys, `{ dir }` of public certificate files (ZPL, pyzmq or CZMQ naming;
   * secret files are ignored; reloaded when the directory changes), or `"any"` (encryption without authentication).
   * When present, a NULL or PLAIN client is denied (`"mechanism"`).
   */
  readonly curve?: { readonly allow: readonly string[] | { readonly dir: string } | "any" };
  /** PLAIN users and their passwords (clear text on the wire: for tests and legacy peers only). */
  readonly plain?: { readonly users: Readonly<Record<string, string>> };
  /**
   * IP lists: exact IPv4/IPv6 addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`). `deny` wins over `allow`; with
   * `allow`, an address on no entry is denied.
   */
  readonly ip?: { readonly allow?: readonly string[]; readonly deny?: readonly string[] };
  /**
   * Called after every list has let the peer pass: `true` allows it; `false` or a string (the detail reported)
   * denies it with reason `"callback"`. A callback that throws, or does not settle within `checkTimeoutMs`, denies.
   */
  readonly check?: (request: ZapRequest) => boolean | string | Promise<boolean | string>;
  /**
   * How long {@link ZapPolicy.check} may take before the peer is denied, in ms.
   * @defaultValue 2000
   */
  readonly checkTimeoutMs?: number;
}

/** A domain's registration: `release()` removes this policy (the one configured before it, if any, applies again). */
export interface AuthenticatorDomain {
  /** The ZAP domain this handle configured. */
  readonly domain: string;
  /** Removes this policy from its domain. Idempotent. */
  release(): void;
}

/** Counters of every decision since the authenticator started. */
export interface AuthenticatorStats {
  /** Peers let through. */
  readonly allowed: number;
  /** Peers refused, by reason (`handshake` counts {@link Authenticator.reportHandshakeFailure} calls). */
  readonly denied: Readonly<Record<DenialReason, number>>;
  /** Requests that were not ZAP 1.0 (answered with status 500 when they could be, never let through). */
  readonly malformed: number;
}

/** One decision, or one handshake failure, as {@link Authenticator.onEvent} reports it. */
export type AuthEvent =
  | {
      readonly type: "allowed";
      readonly domain: string;
      /** The mechanism the peer used. */
      readonly mechanism: string;
      readonly address: string;
      /** CURVE: the peer's public key, Z85. */
      readonly publicKey?: string;
      /** PLAIN: the username. */
      readonly username?: string;
    }
  | {
      readonly type: "denied";
      readonly domain: string;
      readonly mechanism: string;
      readonly address: string;
      readonly reason: DenialReason;
      /** More about the reason: the callback's string, its error, the unexpected mechanism. */
      readonly detail?: string;
      readonly publicKey?: string;
      readonly username?: string;
    }
  | {
      readonly type: "handshake-failed";
      readonly domain: string;
      /** The endpoint of the socket that saw the failure. */
      readonly endpoint: string;
      readonly reason: "handshake";
      /** What the socket's monitor said (for example `handshake:error:protocol` and its error text). */
      readonly detail: string;
    };

const DEFAULT_CHECK_TIMEOUT_MS = 2_000;
/** How long directory changes are gathered before one reload. */
const RELOAD_DEBOUNCE_MS = 100;
/** At most one re-read of a key directory per this interval on a denial of an unknown key. */
const DENIAL_RELOAD_INTERVAL_MS = 1_000;

type Verdict =
  | { readonly allow: true; readonly userId: string }
  | { readonly allow: false; readonly reason: DenialReason; readonly detail?: string };

const deny = (reason: DenialReason, detail?: string): Verdict =>
  detail === undefined ? { allow: false, reason } : { allow: false, reason, detail };

// ---------------------------------------------------------------------------------------------------------------
// IP lists

/** Builds a `net.BlockList` from exact addresses and CIDR ranges; throws InvalidArgumentError on a bad entry. */
function ipList(entries: readonly string[], where: string): net.BlockList {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address = "", prefix, extra] = entry.trim().split("/");
    const family = net.isIP(address);
    const bits = family === 4 ? 32 : 128;
    const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (family === 0 || extra !== undefined || !(length >= 0 && length <= bits)) {
      throw new InvalidArgumentError(
        `Authenticator.configure: \`${where}\` entry ${JSON.stringify(entry)} is not an IP address or CIDR range. ` +
          `Pass an exact IPv4/IPv6 address ("10.0.0.5", "::1") or a range ("10.0.0.0/8", "fd00::/8").`,
      );
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, length, type);
  }
  return list;
}

function onList(list: net.BlockList, address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 4 ? "ipv4" : "ipv6");
}

// ---------------------------------------------------------------------------------------------------------------
// Key directories

/** The public keys of a directory's public certificates, as a set (`readPublicKeys` is the one ZPL reader). */
function readKeyDirectory(dir: string): Set<string> {
  return new Set(readPublicKeys(dir));
}

/** A directory of public certificates, kept current by `fs.watch` (debounced) and by re-reads on denials. */
class KeyDirectory {
  readonly dir: string;
  #keys: Set<string>;
  #watcher: fs.FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRead = 0;
  #readMtime = NaN;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.#readMtime = this.#mtime();
    try {
      this.#keys = readKeyDirectory(this.dir);
    } catch (err) {
      throw new InvalidArgumentError(
        `Authenticator.configure: the CURVE allow-list directory ${this.dir} cannot be read ` +
          `(${toError(err).message}). Create it and put the clients' public certificates in it.`,
        { cause: err },
      );
    }
    this.#lastRead = Date.now();
    try {
      this.#watcher = fs.watch(this.dir, { persistent: false }, () => this.#schedule());
      this.#watcher.on("error", () => this.#schedule());
    } catch {
      this.#watcher = undefined; // no watch support: the re-read on denial still picks up new keys
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.reload();
    }, RELOAD_DEBOUNCE_MS);
    this.#timer.unref();
  }

  /** Reads the directory again; a directory that cannot be read allows nobody (fail closed). */
  reload(): void {
    this.#lastRead = Date.now();
    this.#readMtime = this.#mtime(); // before reading: a change during the read is seen next time
    try {
      this.#keys = readKeyDirectory(this.dir);
    } catch {
      this.#keys = new Set();
    }
  }

  /**
   * Is `key` listed? An unknown key re-reads the directory when its modification time changed since the last read (a
   * certificate was added or renamed into it, and the watch event is still debounced or was missed), and otherwise at
   * most once per second (a certificate rewritten in place).
   */
  has(key: string): boolean {
    if (this.#keys.has(key)) return true;
    if (this.#mtime() === this.#readMtime && Date.now() - this.#lastRead < DENIAL_RELOAD_INTERVAL_MS) return false;
    this.reload();
    return this.#keys.has(key);
  }

  #mtime(): number {
    try {
      return fs.statSync(this.dir).mtimeMs;
    } catch {
      return NaN;
    }
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A configured domain

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** One domain's policy, resolved: validated lists, a watched directory, hashed passwords. */
class DomainPolicy {
  readonly #policy: ZapPolicy;
  readonly #keys: ReadonlySet<string> | KeyDirectory | "any" | undefined;
  readonly #users: ReadonlyMap<string, Buffer> | undefined;
  readonly #ipAllow: net.BlockList | undefined;
  readonly #ipDeny: net.BlockList | undefined;
  readonly #checkTimeoutMs: number;

  constructor(policy: ZapPolicy) {
    this.#policy = policy;
    const allow = policy.curve?.allow;
    if (allow === undefined || allow === "any") this.#keys = allow;
    else if (Array.isArray(allow)) {
      const bad = allow.filter((key) => typeof key !== "string" || !isZ85Key(key));
      if (bad.length > 0) {
        throw new InvalidArgumentError(
          `Authenticator.configure: \`curve.allow\` holds ${bad.length} entr${bad.length === 1 ? "y" : "ies"} that ` +
            `are not Z85 CURVE public keys (40 characters), first ${JSON.stringify(bad[0])}. Pass keys from ` +
            `zmq.curveKeyPair().publicKey or a certificate, or { dir } of public certificates.`,
        );
      }
      this.#keys = new Set(allow);
    } else if ("dir" in allow && typeof allow.dir === "string") this.#keys = new KeyDirectory(allow.dir);
    else {
      throw new InvalidArgumentError(
        'Authenticator.configure: `curve.allow` must be an array of Z85 public keys, { dir } or "any".',
      );
    }
    this.#users =
      policy.plain === undefined
        ? undefined
        : new Map(Object.entries(policy.plain.users).map(([user, password]) => [user, digest(password)]));
    this.#ipAllow = policy.ip?.allow === undefined ? undefined : ipList(policy.ip.allow, "ip.allow");
    this.#ipDeny = policy.ip?.deny === undefined ? undefined : ipList(policy.ip.deny, "ip.deny");
    const timeout = policy.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new InvalidArgumentError(
        `Authenticator.configure: \`checkTimeoutMs\` is ${timeout}; pass a positive number of milliseconds.`,
      );
    }
    this.#checkTimeoutMs = timeout;
  }

  /** The lists' verdict, then the callback's. */
  async decide(request: ZapRequest, credentials: ZapCredentials): Promise<Verdict> {
    if (this.#ipDeny !== undefined && onList(this.#ipDeny, request.address)) return deny("ip-denied");
    if (this.#ipAllow !== undefined && !onList(this.#ipAllow, request.address)) return deny("ip-denied");
    const listed = this.#credentials(credentials);
    if (!listed.allow || this.#policy.check === undefined) return listed;
    return this.#callback(this.#policy.check, request, listed.userId);
  }

  #credentials(credentials: ZapCredentials): Verdict {
    switch (credentials.mechanism) {
      case "CURVE": {
        const key = z85Encode(credentials.publicKey);
        if (this.#keys === undefined) return deny("mechanism", "CURVE is not accepted on this domain");
        if (this.#keys === "any" || this.#keys.has(key)) return { allow: true, userId: key };
        return deny("unknown-key");
      }
      case "PLAIN": {
        if (this.#users === undefined) return deny("mechanism", "PLAIN is not accepted on this domain");
        const expected = this.#users.get(credentials.username);
        const given = digest(credentials.password);
        // Compare even for an unknown user, so timing does not tell which usernames exist.
        const match = timingSafeEqual(expected ?? digest(""), given);
        return expected !== undefined && match ? { allow: true, userId: credentials.username } : deny("bad-password");
      }
      case "NULL":
        if (this.#keys !== undefined) return deny("mechanism", "NULL where the domain requires CURVE");
        if (this.#users !== undefined) return deny("mechanism", "NULL where the domain requires PLAIN");
        return { allow: true, userId: "" };
    }
  }

  async #callback(check: NonNullable<ZapPolicy["check"]>, request: ZapRequest, userId: string): Promise<Verdict> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`timed out after ${this.#checkTimeoutMs} ms`), this.#checkTimeoutMs);
    });
    try {
      const answer = await Promise.race([Promise.resolve().then(() => check(request)), timeout]);
      if (answer === true) return { allow: true, userId };
      return deny("callback", typeof answer === "string" ? answer : undefined);
    } catch (err) {
      return deny("callback", `threw: ${toError(err).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.#keys instanceof KeyDirectory) this.#keys.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------

interface Registration {
  readonly policy: DomainPolicy;
}

function zeroCounts(): Record<DenialReason, number> {
  const counts: Partial<Record<DenialReason, number>> = {};
  for (const reason of DENIAL_REASONS) counts[reason] = 0;
  return counts as Record<DenialReason, number>; // every key set just above
}

/** The stop of the process's last handler socket (any instance): a new socket binds the inproc name after it. */
let lastStop: Promise<void> = Promise.resolve();

/** The shared authenticator, if one was made (see {@link zapHandlerReady}). */
let current: Authenticator | undefined;

/**
 * The shared handler's {@link Authenticator.ready}, when it answers for `domain` (undefined otherwise). A CURVE
 * server socket binds after it: a handshake that starts while the handler is still being (re)bound would fail, or,
 * while the previous handler socket is still being stopped, send its ZAP request to a socket that never answers.
 * @internal
 */
export function zapHandlerReady(domain: string): Promise<void> | undefined {
  const auth = current;
  if (auth === undefined || auth.closed || !auth.domains.includes(domain)) return undefined;
  return auth.ready();
}

/** One generation of the handler's socket: a stop ends it, the next configure() opens another. */
interface HandlerSocket {
  readonly socket: zmq.Router;
  readonly sends: SendQueue;
  /** Set by the stop: the read loop ends at the next message, and no reply is sent any more. */
  stopping: boolean;
  /** The read loop (once bound). */
  loop: Promise<void>;
}

/** How long a stop waits for the read loop to end before it closes the socket without unbinding. */
const STOP_WAIT_MS = 1_000;
/** The one-frame message a stop sends itself, to end the pending receive. Never parsed. */
const WAKE = Buffer.from("typed-zmq: ZAP handler stop");

/** Sends one ZAP reply, unless the handler is stopping (another thread may be using the socket then). */
function reply(handler: HandlerSocket, to: ZapReplyTo, status: ZapStatus, statusText: string, userId = ""): void {
  if (handler.stopping || handler.socket.closed) return;
  handler.sends.send(encodeZapReply(to, { status, statusText, userId })).catch(() => undefined);
}

/**
 * Stops a bound handler socket: ends its read loop, unbinds the inproc name, closes it.
 *
 * The order matters. zeromq.js 6.8 runs an async `unbind()` as `zmq_unbind` on a libuv pool thread, while a pending
 * `receive()` keeps a poller on the main thread that calls into the same libzmq socket (`ZMQ_EVENTS`). A libzmq
 * socket is not thread-safe: with the pipes of a closing CURVE server's sessions terminating at that moment, the two
 * threads met in `pipe.cpp:355` and libzmq aborted the process (about 1 run in 20 of the CURVE RPC bench). So the
 * loop must end first, with no receive pending: the stop sends the socket one message from an inproc DEALER, the
 * loop sees `stopping` and returns without reading again. Unbinding before close matters too: close() lets go of
 * the name only later, in libzmq's reaper, and a new handler bound meanwhile would fail, or its clients' ZAP
 * requests would reach the closing socket. If the loop does not end in time, the socket is closed without
 * unbinding (safe, on the main thread), and the next handler's bind may have to wait for the reaper.
 */
async function stopHandler(handler: HandlerSocket): Promise<void> {
  const { socket } = handler;
  const waker = new zmq.Dealer({ linger: 0, sendTimeout: STOP_WAIT_MS });
  const loop = { ended: false };
  void handler.loop.then(() => (loop.ended = true));
  try {
    waker.connect(ZAP_ENDPOINT);
    await waker.send(WAKE);
    await settleWithin(handler.loop, STOP_WAIT_MS);
  } catch {
    // the socket is closed without unbinding below
  } finally {
    waker.close();
  }
  if (loop.ended) {
    await settleWithin(handler.sends.idle(), STOP_WAIT_MS);
    await socket.unbind(ZAP_ENDPOINT).catch(() => undefined);
  }
  socket.close();
  await handler.loop;
}

/**
 * The process's ZAP handler: answers libzmq's authentication requests for every socket of the default zmq context,
 * from a {@link ZapPolicy} per ZAP domain.
 *
 * A server socket opts in with `zapDomain` (and `zapEnforceDomain: true`, so a domain without a handler fails
 * closed); the pattern classes do this for you when given `curve.allow`. A request for a domain with no policy is
 * denied (`"no-policy"`), and so is a CURVE or PLAIN socket without a `zapDomain` (its domain is empty) once this
 * handler runs: nothing is let through silently.
 *
 * zeromq.js delivers no per-message metadata, so the user id this handler returns cannot be read on messages: the
 * policy decides who may connect, not what a connected peer may do.
 *
 * @example
 * ```ts
 * const auth = Authenticator.shared();
 * const handle = auth.configure("orders", { curve: { allow: { dir: "/etc/orders/clients" } } });
 * await auth.ready();
 * auth.onEvent((e) => { if (e.type === "denied") console.warn(e.reason, e.address); });
 * // ... a server socket with curveServer, zapDomain: "orders", zapEnforceDomain: true
 * handle.release();
 * ```
 */
export class Authenticator {
  static #shared: Authenticator | undefined;

  /**
   * The process's authenticator (one ZAP handler per zmq context: the default one), started on first use. After
   * {@link Authenticator.close}, the next call starts a new one.
   */
  static shared(): Authenticator {
    if (Authenticator.#shared === undefined || Authenticator.#shared.closed) {
      Authenticator.#shared = current = new Authenticator();
    }
    return Authenticator.#shared;
  }

  // The handler's socket: opened while some domain is configured, closed when the last is released (so that a
  // process whose CURVE servers have all closed can exit), opened again by the next configure().
  #handler!: HandlerSocket;
  #running = false;
  #bindFailed = false;
  /** The stop of the previous socket, which a new one waits for before binding the same inproc name. */
  #stopped: Promise<void> | undefined;
  readonly #domains = new Map<string, Registration[]>();
  readonly #listeners = new Set<(event: AuthEvent) => void>();
  #ready!: Promise<void>;
  #closing: Promise<void> | undefined;
  #allowed = 0;
  #malformed = 0;
  readonly #denied = zeroCounts();

  private constructor() {
    this.#start();
  }

  /** Opens the handler's socket and binds it (after the previous one, if any, has let go of the name). */
  #start(): void {
    // Wait for the last handler socket of the process to let go of the inproc name, whichever instance owned it: a
    // new shared() right after close() must not race the old socket's unbind.
    const after = lastStop;
    this.#stopped = undefined;
    this.#bindFailed = false;
    const socket = new zmq.Router({ linger: 0 });
    const handler: HandlerSocket = { socket, sends: new SendQueue(socket), stopping: false, loop: Promise.resolve() };
    this.#handler = handler;
    this.#running = true;
    this.#ready = after
      .then(() => socket.bind(ZAP_ENDPOINT))
      .then(
        () => {
          handler.loop = readLoop(socket, (frames) => void this.#answer(handler, frames), {
            stop: () => handler.stopping,
          });
        },
        (err: unknown) => {
          // The next configure() tries again instead of leaving the process without a handler for good.
          this.#bindFailed = true;
          throw fromZmqError(err, "Authenticator: binding the ZAP handler", ZAP_ENDPOINT);
        },
      );
    // A failed bind is reported by ready(); never an unhandled rejection.
    this.#ready.catch(() => undefined);
  }

  /**
   * Closes the handler's socket: no domain is configured, and a bound socket with a pending receive would keep the
   * process alive. Stats and listeners stay; the next configure() opens a new socket.
   */
  #stop(): void {
    if (!this.#running) return;
    this.#running = false;
    const handler = this.#handler;
    const ready = this.#ready;
    handler.stopping = true; // no reply is sent from now on
    lastStop = this.#stopped = ready.then(
      () => stopHandler(handler),
      () => handler.socket.close(),
    );
  }

  /**
   * Resolves once the handler is bound to `inproc://zeromq.zap.01`. Await it before binding a server socket that
   * relies on it (with `zapEnforceDomain`, a handshake before that fails; without it, libzmq would let it through).
   * @throws {@link EndpointInUseError} when another ZAP handler is already bound in this context.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** True once {@link Authenticator.close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Counters of every decision so far (a snapshot). */
  get stats(): AuthenticatorStats {
    return { allowed: this.#allowed, denied: { ...this.#denied }, malformed: this.#malformed };
  }

  /** The domains that have a policy now. */
  get domains(): string[] {
    return [...this.#domains.keys()];
  }

  /**
   * Sets the policy of a ZAP domain, replacing the one it had until this handle is released. Validates everything
   * now: a bad key, IP entry or unreadable directory throws here, not at the first connection.
   * @throws {@link InvalidArgumentError} on a malformed policy, or when the authenticator is closed.
   */
  configure(domain: string, policy: ZapPolicy): AuthenticatorDomain {
    if (this.closed) {
      throw new InvalidArgumentError(
        `Authenticator.configure("${domain}"): the authenticator is closed. Call Authenticator.shared() for a new one.`,
      );
    }
    if (typeof domain !== "string" || domain.length === 0 || domain.length > 255) {
      throw new InvalidArgumentError(
        `Authenticator.configure: the domain must be a string of 1 to 255 characters (the socket's \`zapDomain\`); ` +
          `got ${JSON.stringify(domain)}.`,
      );
    }
    const registration: Registration = { policy: new DomainPolicy(policy) };
    if (!this.#running) this.#start();
    else if (this.#bindFailed) {
      this.#stop();
      this.#start();
    }
    const list = this.#domains.get(domain) ?? [];
    list.push(registration);
    this.#domains.set(domain, list);
    let released = false;
    return {
      domain,
      release: () => {
        if (released) return;
        released = true;
        registration.policy.close();
        const current = this.#domains.get(domain);
        if (current === undefined) return;
        const remaining = current.filter((r) => r !== registration);
        if (remaining.length === 0) this.#domains.delete(domain);
        else this.#domains.set(domain, remaining);
        if (this.#domains.size === 0) this.#stop();
      },
    };
  }

  /**
   * Listens to every decision and handshake failure. A listener that throws is ignored (it cannot stop a decision).
   * @returns A function that removes the listener.
   */
  onEvent(listener: (event: AuthEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Counts and reports a security handshake that failed before ZAP was asked (a client with the wrong server key, or
   * none): the pattern classes call it from their sockets' `handshake:error:*` monitor events.
   * @param domain - The ZAP domain of the socket that saw the failure.
   * @param endpoint - That socket's endpoint.
   * @param reason - What the monitor said, for the event's `detail`.
   */
  reportHandshakeFailure(domain: string, endpoint: string, reason: string): void {
    this.#denied.handshake++;
    this.#emit({ type: "handshake-failed", domain, endpoint, reason: "handshake", detail: reason });
  }

  /**
   * Stops the handler: unbinds, closes its socket and every directory watch, forgets every domain. Idempotent.
   * Handshakes in progress then fail (with `zapEnforceDomain`) instead of waiting.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown());
  }

  async #shutdown(): Promise<void> {
    for (const list of this.#domains.values()) for (const registration of list) registration.policy.close();
    this.#domains.clear();
    this.#stop();
    await this.#stopped;
    this.#listeners.clear();
  }

  #emit(event: AuthEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own; the decision stands
      }
    }
  }

  async #answer(handler: HandlerSocket, frames: Buffer[]): Promise<void> {
    const parsed = parseZapRequest(frames);
    if (parsed.kind === "malformed") {
      this.#malformed++;
      if (parsed.replyTo !== undefined) reply(handler, parsed.replyTo, ZapStatus.INTERNAL, parsed.reason);
      return;
    }
    const { domain, address } = parsed;
    const mechanism = parsed.kind === "request" ? parsed.credentials.mechanism : parsed.mechanism;
    const who: { publicKey?: string; username?: string } = {};
    if (parsed.kind === "request" && parsed.credentials.mechanism === "CURVE") {
      who.publicKey = z85Encode(parsed.credentials.publicKey);
    }
    if (parsed.kind === "request" && parsed.credentials.mechanism === "PLAIN") who.username = parsed.credentials.username;

    let verdict: Verdict;
    const registration = this.#domains.get(domain)?.at(-1);
    if (registration === undefined) verdict = deny("no-policy", `no policy for ZAP domain "${domain}"`);
    else if (parsed.kind === "unsupported") verdict = deny("mechanism", `${mechanism} is not supported`);
    else {
      const request: ZapRequest = { domain, address, identity: parsed.identity, mechanism: parsed.credentials.mechanism, ...who };
      try {
        verdict = await registration.policy.decide(request, parsed.credentials);
      } catch (err) {
        verdict = deny("callback", toError(err).message);
      }
    }

    if (verdict.allow) {
      this.#allowed++;
      reply(handler, parsed, ZapStatus.OK, "OK", verdict.userId);
      this.#emit({ type: "allowed", domain, mechanism, address, ...who });
    } else {
      this.#denied[verdict.reason]++;
      reply(handler, parsed, ZapStatus.DENIED, verdict.reason);
      const detail = verdict.detail === undefined ? {} : { detail: verdict.detail };
      this.#emit({ type: "denied", domain, mechanism, address, reason: verdict.reason, ...detail, ...who });
    }
  }
}
