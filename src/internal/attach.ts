/**
 * @packageDocumentation
 * Binding and connecting sockets: each endpoint is validated (and refused when the pattern cannot use its
 * transport) before libzmq sees it, and the real endpoint is reported (the port chosen for `tcp://host:0` or
 * `tcp://host:*`, the path chosen for `ipc://*`).
 */
import { randomUUID } from "node:crypto";
import { lstat } from "node:fs/promises";
import { connect as connectUnixSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { parseEndpoint, type ParsedEndpoint } from "../endpoint.js";
import { EndpointInUseError, InvalidArgumentError, InvalidEndpointError, TransportUnavailableError } from "../errors/index.js";
import { zapHandlerReady } from "../security/authenticator.js";
import { fromZmqError } from "./zmq-errors.js";

/** What a socket is being used for, so that transports that cannot carry it are refused. */
export interface EndpointUse {
  /** Who is binding or connecting, for error messages (`RpcServer.bind`). */
  readonly owner: string;
  /** Whether the pattern can run over pgm/epgm (only publish-subscribe can). */
  readonly multicast: boolean;
}

/** `tcp://[ipv6]:port` needs ZMQ_IPV6 on the socket, or libzmq refuses the address. */
function enableIpv6(socket: zmq.Socket, parsed: ParsedEndpoint): void {
  if (parsed.transport === "tcp" && parsed.host?.startsWith("[") === true) socket.ipv6 = true;
}

/**
 * CURVE is a ZMTP handshake: libzmq does not run it on inproc (no wire) nor on pgm/epgm, where the socket would
 * silently carry plaintext. A socket set up for CURVE (read from the socket itself, so no caller can forget) is
 * refused there.
 */
function refusePlaintextCurve(socket: zmq.Socket, parsed: ParsedEndpoint, use: EndpointUse): void {
  if (parsed.transport !== "inproc" && parsed.transport !== "pgm" && parsed.transport !== "epgm") return;
  // A closed socket has no options to read: the bind or connect itself reports it (ClosedError).
  if (socket.closed || socket.securityMechanism !== "curve") return;
  throw new InvalidArgumentError(
    `${use.owner}: CURVE does not apply to ${parsed.transport}: libzmq would carry ${parsed.endpoint} in plaintext. ` +
      `Use tcp:// or ipc:// with \`curve\`, or leave \`curve\` out for ${parsed.transport === "inproc" ? "in-process links" : "multicast"}.`,
  );
}

function checkUsable(parsed: ParsedEndpoint, use: EndpointUse): void {
  if (parsed.transport === "pgm" || parsed.transport === "epgm") {
    if (!use.multicast) {
      throw new InvalidEndpointError(
        parsed.endpoint,
        `${use.owner} cannot use ${parsed.transport}: PGM multicast carries only publish-subscribe; use tcp, ipc or inproc`,
      );
    }
    if (!zmq.capability.pgm) {
      throw new TransportUnavailableError(
        parsed.endpoint,
        parsed.transport,
        `the loaded libzmq ${zmq.version} was built without PGM (zeromq capability.pgm is false). ` +
          `Use tcp, ipc or inproc, or run with a zeromq addon built against a libzmq that has PGM.`,
      );
    }
  }
}

/**
 * Bound on the liveness probe of an ipc path. A connect to a Unix socket succeeds or fails at once; only a listener
 * whose accept backlog is full leaves it waiting, and that listener is alive.
 */
const IPC_PROBE_MS = 1_000;

function errnoCode(err: unknown): unknown {
  return typeof err === "object" && err !== null ? Reflect.get(err, "code") : undefined;
}

/**
 * Before an ipc bind: libzmq unlinks whatever file is at the path and binds a new socket there, so binding a path
 * where a live process listens silently steals it (new peers reach us; the other process keeps running, unreachable).
 * This refuses a path where a connect succeeds (a live listener, in this process or another one), lets a stale
 * socket file left by a dead process be reused (the connect is refused), and refuses a path that is not a socket at
 * all (libzmq would delete that file).
 *
 * It is a check before the bind, not a lock: a process that binds the same path between the probe and our bind is
 * still replaced, as it is by libzmq without the check. That window is a few microseconds; closing it needs a lock
 * file that foreign peers would not honour. A live listener sees one connection open and close.
 * Linux abstract names (`ipc://@name`) have no file, and libzmq itself reports EADDRINUSE for them.
 */
async function refuseLiveIpcPath(endpoint: string, path: string): Promise<void> {
  if (path.startsWith("@")) return;
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch {
    return; // nothing there (or not ours to inspect): libzmq creates it or reports why it cannot
  }
  if (!isSocket) {
    throw new InvalidEndpointError(
      endpoint,
      `'${path}' exists and is not a socket; libzmq would delete it to bind there. Remove it yourself or choose another path`,
    );
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connectUnixSocket({ path });
    const done = (result: boolean): void => {
      clearTimeout(timer);
      probe.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(true), IPC_PROBE_MS);
    probe.once("connect", () => done(true));
    // ECONNREFUSED: a stale file, nobody listens. EAGAIN: a listener with a full backlog. Anything else: let libzmq try.
    probe.once("error", (err) => done(errnoCode(err) === "EAGAIN"));
  });
  if (alive) {
    throw new EndpointInUseError(endpoint, {
      cause: new Error(`a live socket accepted a connection at ${path}; binding would have unlinked it and taken the path`),
    });
  }
}

/**
 * Validates and binds; returns the real endpoint (the chosen port or ipc path for ephemeral endpoints).
 */
export async function bindEndpoint(socket: zmq.Socket, endpoint: string, use: EndpointUse): Promise<string> {
  const parsed = parseEndpoint(endpoint);
  refusePlaintextCurve(socket, parsed, use);
  checkUsable(parsed, use);
  enableIpv6(socket, parsed);
  let target = endpoint;
  if (parsed.transport === "tcp" && parsed.host !== undefined && parsed.port !== undefined) {
    target = `tcp://${parsed.host}:${parsed.port}`;
  } else if (parsed.transport === "ipc" && parsed.address === "*") {
    // libzmq puts `ipc://*` under $TMPDIR, or under the working directory when it is unset, and reports a
    // relative path that other processes cannot find. Pick a unique absolute path ourselves.
    target = `ipc://${join(tmpdir(), `tzmq-${process.pid}-${randomUUID().slice(0, 13)}.sock`)}`;
  } else if (parsed.transport === "ipc") {
    await refuseLiveIpcPath(endpoint, parsed.address);
  }
  await zapReady(socket);
  try {
    await socket.bind(target);
  } catch (err) {
    throw fromZmqError(err, `${use.owner} bind`, endpoint);
  }
  return socket.lastEndpoint ?? target;
}

/**
 * A CURVE server socket whose ZAP domain our shared authenticator answers for binds once that handler is bound, so
 * that no client's handshake can start before it. A handler that cannot bind (another one holds the name in this
 * context) is not this bind's failure: that other handler answers instead.
 */
async function zapReady(socket: zmq.Socket): Promise<void> {
  if (socket.closed || socket.securityMechanism !== "curve" || !socket.curveServer) return;
  const domain = socket.zapDomain;
  if (domain === null || domain === "") return;
  await zapHandlerReady(domain)?.catch(() => undefined);
}

/**
 * Validates and connects (connecting is asynchronous in libzmq; peers may appear later).
 */
export function connectEndpoint(socket: zmq.Socket, endpoint: string, use: EndpointUse): string {
  const parsed = parseEndpoint(endpoint);
  refusePlaintextCurve(socket, parsed, use);
  checkUsable(parsed, use);
  if (parsed.transport === "tcp" && (parsed.port === "*" || parsed.host === "*")) {
    throw new InvalidEndpointError(endpoint, "a connect needs a concrete host and port; '*' and port 0 only make sense for bind");
  }
  if (parsed.transport === "ipc" && parsed.address === "*") {
    throw new InvalidEndpointError(endpoint, "a connect needs a concrete ipc path; 'ipc://*' only makes sense for bind");
  }
  enableIpv6(socket, parsed);
  try {
    socket.connect(endpoint);
  } catch (err) {
    throw fromZmqError(err, `${use.owner} connect`, endpoint);
  }
  return endpoint;
}

/**
 * Accepts one endpoint or a non-empty list, for the factories.
 */
export function endpointList(endpoints: string | readonly string[], owner: string): readonly string[] {
  const given: unknown = endpoints;
  const list: unknown[] = typeof given === "string" ? [given] : Array.isArray(given) ? [...(given as unknown[])] : [given];
  const strings = list.filter((e): e is string => typeof e === "string");
  if (strings.length !== list.length || strings.length === 0) {
    throw new InvalidArgumentError(
      `${owner}: \`endpoint\` must be an endpoint string or a non-empty array of them, got ${describeGiven(given)}.`,
    );
  }
  return strings;
}

function describeGiven(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}${value.length > 0 ? " with a non-string in it" : ""}`;
  return value === null ? "null" : typeof value;
}

/**
 * Binds or connects `socket` to every endpoint; on any failure closes the socket and rethrows, so a factory that
 * fails leaves nothing open. Returns the real endpoints.
 */
export async function attachEndpoints(
  socket: zmq.Socket,
  endpoints: string | readonly string[],
  mode: "bind" | "connect",
  use: EndpointUse,
): Promise<string[]> {
  const real: string[] = [];
  try {
    for (const e of endpointList(endpoints, use.owner)) {
      real.push(mode === "bind" ? await bindEndpoint(socket, e, use) : connectEndpoint(socket, e, use));
    }
  } catch (err) {
    socket.linger = 0;
    socket.close();
    throw err;
  }
  return real;
}
