/**
 * @packageDocumentation
 * The `curve` option (src/curve.ts), written once for every pattern class: read and checked into a frozen
 * {@link CurveConfig} before any socket exists, turned into zeromq.js socket options, and, at run time, the
 * object's {@link CurveGuard}: the ZAP domain it registers on the shared authenticator (server role with `allow`)
 * and the monitor that reports failed handshakes.
 *
 * - Role: `serverKey` present → CURVE client (`curvePublicKey`, `curveSecretKey`, `curveServerKey`); absent →
 *   CURVE server (`curveServer`, `curveSecretKey`, `zapDomain`, `zapEnforceDomain`).
 * - A server always has a ZAP domain, even with `allow: "any"`: libzmq asks the process's ZAP handler about every
 *   CURVE connection once one is running (whatever the domain), so an "any" server without a domain of its own would
 *   be judged by someone else's policy. `zapEnforceDomain` makes a domain nobody answers for refuse connections.
 * - The endpoint refusal (inproc, pgm, epgm) is in attach.ts: it reads the socket's `securityMechanism`, so no
 *   socket can bind or connect in plaintext where CURVE was asked for.
 * - Failed handshakes: a CURVE server socket's monitor (`socket.events`, in emitter mode so that other listeners
 *   of the same socket can share it) reports `handshake:error:*` to the authenticator (except `auth`: ZAP itself
 *   refused, and counted it) and to the class's own hook.
 * @internal
 */
import { randomUUID } from "node:crypto";
import { statSync } from "node:fs";
import type * as zmq from "zeromq";
import type { CurveAllow, CurveCertificate } from "../curve.js";
import { InvalidArgumentError } from "../errors/index.js";
import { Authenticator } from "../security/authenticator.js";
import { curvePublicKeyOf, z85KeyProblem } from "../security/z85.js";
import type { OptionReader } from "./options.js";
import { handshakeFailureReason } from "./socket-events.js";

/** The zeromq.js socket options a `curve` option becomes. @internal */
export interface CurveSocketOptions {
  readonly curveServer: boolean;
  readonly curveSecretKey: string;
  readonly curvePublicKey?: string;
  readonly curveServerKey?: string;
  readonly zapDomain?: string;
  readonly zapEnforceDomain?: boolean;
}

/** A checked `curve` option. @internal */
export interface CurveConfig {
  readonly role: "server" | "client";
  readonly socket: CurveSocketOptions;
  /** Server role: the socket's ZAP domain (ours, or the user's `zapDomain`). */
  readonly domain: string | undefined;
  /** Server role with `allow`: the policy to register under `domain`. */
  readonly allow: CurveAllow | undefined;
}

/** A failed handshake seen on a CURVE socket. @internal */
export interface HandshakeFailure {
  /** The endpoint of the socket that saw it (a server's bound endpoint). */
  readonly endpoint: string;
  /** `protocol error: ...`, `auth error: ...`: what libzmq said. */
  readonly reason: string;
}

/** What this module needs of the ZAP authenticator (src/security/authenticator.ts). @internal */
export interface CurveAuthenticator {
  configure(domain: string, policy: { readonly curve: { readonly allow: CurveAllow } }): { release(): void };
  reportHandshakeFailure(domain: string, endpoint: string, reason: string): void;
}

/**
 * The process's authenticator (one ZAP handler per zmq context), started on first use.
 * @internal
 */
export function sharedAuthenticator(): CurveAuthenticator {
  return Authenticator.shared();
}

/** Why `key` is not a Z85-encoded 32-byte key, or undefined when it is one. @internal */
function keyProblem(key: unknown): string | undefined {
  return typeof key === "string" ? z85KeyProblem(key) : `must be a string, got ${typeof key}`;
}

const KEYS = ["certificate", "secretKey", "publicKey", "serverKey", "allow", "zapDomain"];

/**
 * Reads the `curve` option at `key` of `read`; undefined when absent.
 * @param face - A broker face: the option is read in the server role, with `allow` taken from `face.allowKey`
 *   (`frontendAllow`, `backendAllow`) of the same options object, and `curve.allow`/`curve.zapDomain` refused so
 *   that one list never lets a peer onto both faces by accident.
 * @internal
 */
export function readCurveOptions(
  read: OptionReader,
  key = "curve",
  face?: { readonly allowKey: string },
): Readonly<CurveConfig> | undefined {
  const value = read.raw(key);
  if (value === undefined) {
    if (face !== undefined && read.raw(face.allowKey) !== undefined) {
      throw new InvalidArgumentError(
        `${read.owner}: \`${read.name(face.allowKey)}\` needs \`${read.name(key)}\` (the broker's secret key): give both.`,
      );
    }
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    // Never the value itself: a key string passed by mistake here is a secret, and error messages end up in logs.
    const got =
      typeof value === "string"
        ? `a string of ${value.length} characters`
        : Array.isArray(value)
          ? "an array"
          : value === null
            ? "null"
            : typeof value;
    throw new InvalidArgumentError(
      `${read.owner}: \`${read.name(key)}\` must be a CURVE options object ({ certificate | secretKey, serverKey?, allow? }), got ${got}.`,
    );
  }
  const name = (field: string): string => `${read.name(key)}.${field}`;
  const fail = (field: string, problem: string): InvalidArgumentError =>
    new InvalidArgumentError(`${read.owner}: \`${name(field)}\` ${problem}.`);
  const field = (f: string): unknown => Reflect.get(value, f);
  const unknown = Object.keys(value).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `${read.owner}: \`${read.name(key)}\` has unknown option(s) ${unknown.map((k) => `\`${k}\``).join(", ")}; ` +
        `the CURVE options are ${KEYS.map((k) => `\`${k}\``).join(", ")}.`,
    );
  }
  const checkKey = (f: string, given: unknown, what: string): string => {
    const problem = keyProblem(given);
    if (problem !== undefined) {
      throw fail(f, `must be a ${what} (40 Z85 characters, as zmq.curveKeyPair() or a certificate gives): it ${problem}`);
    }
    return given as string; // checked by z85KeyProblem
  };

  const certificate = field("certificate");
  let secretKey: string;
  let publicKey: string | undefined;
  if (certificate !== undefined) {
    if (field("secretKey") !== undefined || field("publicKey") !== undefined) {
      throw fail("certificate", "and `secretKey`/`publicKey` both give this side's keys: give one of them");
    }
    if (typeof certificate !== "object" || certificate === null) throw fail("certificate", "must be a certificate object");
    const cert = certificate as Partial<CurveCertificate>; // an object; its fields are checked next
    if (cert.secretKey === undefined) {
      throw fail(
        "certificate",
        "has no secret key: it is a public certificate. Read this side's secret certificate (`name.key_secret` or `name_secret`)",
      );
    }
    secretKey = checkKey("certificate", cert.secretKey, "certificate whose secretKey is a Z85 key");
    publicKey = checkKey("certificate", cert.publicKey, "certificate whose publicKey is a Z85 key");
  } else {
    if (field("secretKey") === undefined) {
      throw fail("secretKey", "is missing: give this side's `certificate` (with its secret key) or its `secretKey`");
    }
    secretKey = checkKey("secretKey", field("secretKey"), "Z85 secret key");
    publicKey = field("publicKey") === undefined ? undefined : checkKey("publicKey", field("publicKey"), "Z85 public key");
  }

  const serverKeyGiven = field("serverKey");
  if (serverKeyGiven !== undefined) {
    if (face !== undefined) {
      throw fail("serverKey", "does not apply: a broker's two faces are CURVE servers (peers connect to them)");
    }
    if (field("allow") !== undefined || field("zapDomain") !== undefined) {
      throw fail("serverKey", "makes this socket a CURVE client, and `allow`/`zapDomain` apply only to a server: give one role");
    }
    const serverKey =
      typeof serverKeyGiven === "object" && serverKeyGiven !== null
        ? checkKey("serverKey", Reflect.get(serverKeyGiven, "publicKey"), "certificate whose publicKey is a Z85 key")
        : checkKey("serverKey", serverKeyGiven, "Z85 public key of the server, or its public certificate");
    if (publicKey === undefined) {
      throw fail("publicKey", "is missing: a CURVE client needs its key pair (`certificate`, or `publicKey` with `secretKey`)");
    }
    if (curvePublicKeyOf(secretKey) !== publicKey) {
      throw fail(
        certificate === undefined ? "publicKey" : "certificate",
        "does not belong to the secret key given with it: the server would refuse this client. Pass one key pair",
      );
    }
    return Object.freeze({
      role: "client" as const,
      socket: Object.freeze({
        curveServer: false,
        curveSecretKey: secretKey,
        curvePublicKey: publicKey,
        curveServerKey: serverKey,
      }),
      domain: undefined,
      allow: undefined,
    });
  }

  let allow: CurveAllow | undefined;
  let domain: string;
  if (face !== undefined) {
    for (const f of ["allow", "zapDomain"]) {
      if (field(f) !== undefined) {
        throw fail(f, `does not apply to a broker: each face has its own list, \`${face.allowKey}\``);
      }
    }
    allow = readAllow(read.raw(face.allowKey), read.name(face.allowKey), read.owner);
    if (allow === undefined) {
      throw new InvalidArgumentError(
        `${read.owner}: \`${read.name(face.allowKey)}\` is missing: with \`${read.name(key)}\`, say who may connect to this ` +
          `face (Z85 public keys, { dir } of public certificates, or "any"); it is never left open by accident.`,
      );
    }
    domain = uniqueDomain();
  } else {
    allow = readAllow(field("allow"), name("allow"), read.owner);
    const zapDomain = field("zapDomain");
    if (allow !== undefined && zapDomain !== undefined) {
      throw fail(
        "zapDomain",
        "and `allow` both say who may connect: give `allow`, or a `zapDomain` you configure on an Authenticator",
      );
    }
    if (zapDomain !== undefined && (typeof zapDomain !== "string" || zapDomain.length === 0 || zapDomain.length > 254)) {
      throw fail("zapDomain", "must be a ZAP domain name of 1 to 254 characters");
    }
    if (allow === undefined && zapDomain === undefined) {
      throw new InvalidArgumentError(
        `${read.owner}: \`${read.name(key)}\` without \`serverKey\` makes a CURVE server, which needs \`allow\` ` +
          `(Z85 client public keys, { dir } of public certificates, or "any" for encryption without authentication) ` +
          `or a \`zapDomain\` configured on an Authenticator. A client gives \`serverKey\`.`,
      );
    }
    domain = zapDomain ?? uniqueDomain(); // a non-empty string, checked above
  }
  return Object.freeze({
    role: "server" as const,
    socket: Object.freeze({ curveServer: true, curveSecretKey: secretKey, zapDomain: domain, zapEnforceDomain: true }),
    domain,
    allow,
  });
}

function uniqueDomain(): string {
  return `typed-zmq-${randomUUID()}`;
}

function readAllow(value: unknown, name: string, owner: string): CurveAllow | undefined {
  if (value === undefined || value === "any") return value;
  const fail = (problem: string): InvalidArgumentError => new InvalidArgumentError(`${owner}: \`${name}\` ${problem}.`);
  if (Array.isArray(value)) {
    if (value.length === 0) {
      throw fail('is an empty list, which would let nobody connect: give client public keys, { dir }, or "any"');
    }
    value.forEach((k: unknown, i) => {
      const problem = keyProblem(k);
      if (problem !== undefined) throw fail(`[${i}] must be a Z85 client public key (40 characters): it ${problem}`);
    });
    return Object.freeze([...(value as string[])]); // every element checked above
  }
  if (typeof value === "object" && value !== null) {
    const dir: unknown = Reflect.get(value, "dir");
    if (typeof dir !== "string" || dir.length === 0) throw fail("must be { dir: string }: a directory of public certificates");
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      // reported just below
    }
    if (!isDir)
      throw fail(
        `names ${JSON.stringify(dir)}, which is not a directory: create it and put the clients' public certificates in it`,
      );
    return Object.freeze({ dir });
  }
  throw fail(`must be a list of Z85 public keys, { dir } of public certificates, or "any", got ${typeof value}`);
}

/** The socket options of `config` (none without CURVE), to spread into a socket's constructor options. @internal */
export function curveSocketOptions(config: CurveConfig | undefined): Partial<CurveSocketOptions> {
  return config?.socket ?? {};
}

/**
 * The run-time side of one object's `curve` option: its ZAP domain registration (server role with `allow`) and
 * the failed-handshake reports of its sockets. Made in the constructor, released in `shutdown()`.
 * @internal
 */
export class CurveGuard {
  readonly #config: CurveConfig;
  readonly #onFailure: ((failure: HandshakeFailure) => void) | undefined;
  #registration: { release(): void } | undefined;

  /** Registers the domain, when there is one of ours to register. */
  private constructor(config: CurveConfig, onFailure: ((failure: HandshakeFailure) => void) | undefined) {
    this.#config = config;
    this.#onFailure = onFailure;
    if (config.allow !== undefined && config.domain !== undefined) {
      this.#registration = sharedAuthenticator().configure(config.domain, { curve: { allow: config.allow } });
    }
  }

  /** A guard for `config`, or undefined without CURVE. `onFailure` is the class's own hook, if it has one. */
  static open(config: CurveConfig | undefined, onFailure?: (failure: HandshakeFailure) => void): CurveGuard | undefined {
    return config === undefined ? undefined : new CurveGuard(config, onFailure);
  }

  /**
   * Watches the handshakes of a socket of this object (an RpcClient link watches its own, in iterator mode, and
   * calls {@link CurveGuard.failed}). Call it before the socket binds or connects.
   * @param endpoint - The name to report (a worker link's broker); by default the event's own address.
   */
  watch(socket: zmq.Socket, endpoint?: string): void {
    const events = socket.events;
    for (const type of ["handshake:error:protocol", "handshake:error:auth", "handshake:error:other"] as const) {
      events.on(type, (event) => {
        this.failed(endpoint ?? event.address, handshakeFailureReason(event), type === "handshake:error:auth");
      });
    }
  }

  /**
   * Reports a failed handshake: to the authenticator (unless ZAP itself refused the peer, which it has counted) and
   * to the class's hook.
   */
  failed(endpoint: string, reason: string, byZap = false): void {
    const domain = this.#config.domain;
    if (!byZap && domain !== undefined) {
      try {
        sharedAuthenticator().reportHandshakeFailure(domain, endpoint, reason);
      } catch {
        // A report must never break a socket's monitor.
      }
    }
    if (this.#onFailure !== undefined) {
      try {
        this.#onFailure({ endpoint, reason });
      } catch {
        // The class's hook ignores what user code throws; this is the same guarantee.
      }
    }
  }

  /** Releases the ZAP domain (idempotent). */
  release(): void {
    this.#registration?.release();
    this.#registration = undefined;
  }
}
