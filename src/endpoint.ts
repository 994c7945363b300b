/**
 * @packageDocumentation
 * Endpoint strings: parsing, validation before libzmq sees them, and bind/connect helpers that report the real
 * endpoint (the port chosen for `tcp://host:0` or `tcp://host:*`).
 *
 * Depends on zeromq (for `capability`) and `errors.ts`.
 */
import { randomUUID } from "node:crypto";
import { lstat } from "node:fs/promises";
import { connect as connectUnixSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { EndpointInUseError, InvalidEndpointError, TransportUnavailableError, fromZmqError } from "./errors.js";
import { InvalidArgumentError } from "./errors/index.js";

/** The transports libzmq offers and typed-zmq accepts. */
export const TRANSPORTS = ["tcp", "ipc", "inproc", "pgm", "epgm"] as const;

/** One of {@link TRANSPORTS}. */
export type Transport = (typeof TRANSPORTS)[number];

/** An endpoint split into its parts by {@link parseEndpoint}. */
export interface ParsedEndpoint {
  /** The endpoint as given. */
  readonly endpoint: string;
  /** The transport, the part before `://`. */
  readonly transport: Transport;
  /** Everything after `://`. */
  readonly address: string;
  /** For tcp: the host part (`*`, an IPv4 address, `[ipv6]` or a host name). */
  readonly host?: string;
  /** For tcp, pgm and epgm: the port, or `"*"` for an ephemeral port. `"0"` is normalised to `"*"`. */
  readonly port?: string;
}

/** Longest ipc path a Unix socket can hold (sun_path is 108 bytes including the final NUL). */
export const MAX_IPC_PATH_BYTES = 107;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;
const IPV6_BRACKETED = /^\[[0-9A-Fa-f:.]+(%[A-Za-z0-9]+)?\]$/;

function isTransport(value: string): value is Transport {
  return (TRANSPORTS as readonly string[]).includes(value);
}

/** Splits `host:port` at the last colon and checks both parts. */
function parseHostPort(endpoint: string, hostPort: string, form: string): { host: string; port: string } {
  const colon = hostPort.lastIndexOf(":");
  // `[::1]` alone: the last colon is inside the brackets, so there is no port at all.
  if (colon < 0 || hostPort.endsWith("]")) throw new InvalidEndpointError(endpoint, `missing ':port' (expected ${form})`);
  if (colon === 0) {
    const hint = form.startsWith("tcp") ? "; use '*' to bind every interface, or 127.0.0.1 for loopback only" : "";
    throw new InvalidEndpointError(endpoint, `missing host before '${hostPort}' (expected ${form}${hint})`);
  }
  const host = hostPort.slice(0, colon);
  const port = hostPort.slice(colon + 1);
  if (port.length === 0) throw new InvalidEndpointError(endpoint, `missing port after '${host}:' (expected ${form})`);
  if (port !== "*" && !/^\d{1,5}$/.test(port)) {
    throw new InvalidEndpointError(endpoint, `port '${port}' is not a number from 0 to 65535 or '*'`);
  }
  if (port !== "*" && Number(port) > 65535) {
    throw new InvalidEndpointError(endpoint, `port ${port} is above 65535`);
  }
  return { host, port: port !== "*" && Number(port) === 0 ? "*" : port };
}

/**
 * Parses and validates an endpoint string without touching the network.
 *
 * Accepted forms: `tcp://host:port` (host `*`, IPv4, `[IPv6]` or a name; port 0 or `*` picks a free port when
 * binding), `ipc://path` (at most 107 bytes; `ipc://*` picks a unique path under the OS temp dir when binding), `inproc://name`,
 * `pgm://interface-ip;group-ip:port` and `epgm://interface-ip;group-ip:port`.
 *
 * @throws {@link InvalidEndpointError} naming the endpoint, what is wrong, and the accepted forms.
 */
export function parseEndpoint(endpoint: string): ParsedEndpoint {
  if (typeof endpoint !== "string") {
    throw new InvalidEndpointError(String(endpoint), `expected a string, got ${typeof endpoint}`);
  }
  const sep = endpoint.indexOf("://");
  if (sep < 0) throw new InvalidEndpointError(endpoint, "missing '<transport>://'");
  const transport = endpoint.slice(0, sep);
  const address = endpoint.slice(sep + 3);
  if (!isTransport(transport)) {
    throw new InvalidEndpointError(endpoint, `unknown transport '${transport}'`);
  }
  if (address.length === 0) throw new InvalidEndpointError(endpoint, "nothing after '://'");
  if (/\s/.test(address)) throw new InvalidEndpointError(endpoint, "it contains whitespace");
  switch (transport) {
    case "tcp": {
      const { host, port } = parseHostPort(endpoint, address, "tcp://host:port");
      const numeric = /^[\d.]+$/.test(host);
      if (host !== "*" && !IPV4.test(host) && !IPV6_BRACKETED.test(host) && (numeric || !HOSTNAME.test(host))) {
        throw new InvalidEndpointError(endpoint, `host '${host}' is not '*', an IPv4 address, [an IPv6 address] or a host name`);
      }
      return { endpoint, transport, address, host, port };
    }
    case "ipc": {
      const bytes = Buffer.byteLength(address, "utf8");
      if (bytes > MAX_IPC_PATH_BYTES) {
        throw new InvalidEndpointError(
          endpoint,
          `the ipc path is ${bytes} bytes, over the ${MAX_IPC_PATH_BYTES}-byte limit of a Unix socket path; use a shorter path (for example under /tmp)`,
        );
      }
      return { endpoint, transport, address };
    }
    case "inproc":
      return { endpoint, transport, address };
    case "pgm":
    case "epgm": {
      const semi = address.indexOf(";");
      if (semi < 0) {
        throw new InvalidEndpointError(
          endpoint,
          `${transport} needs 'interface-ip;group-ip:port' (for example ${transport}://127.0.0.1;239.192.1.1:5555); without the interface part libzmq aborts the process`,
        );
      }
      const iface = address.slice(0, semi);
      const { host: group, port } = parseHostPort(endpoint, address.slice(semi + 1), `${transport}://interface-ip;group-ip:port`);
      if (!IPV4.test(iface)) {
        throw new InvalidEndpointError(
          endpoint,
          `interface '${iface}' must be an IP address (OpenPGM cannot resolve interface names here)`,
        );
      }
      const first = Number(group.split(".")[0]);
      if (!IPV4.test(group) || first < 224 || first > 239) {
        throw new InvalidEndpointError(
          endpoint,
          `group '${group}' must be an IPv4 multicast address (224.0.0.0 to 239.255.255.255)`,
        );
      }
      if (port === "*") throw new InvalidEndpointError(endpoint, `${transport} needs a fixed port, not 0 or '*'`);
      return { endpoint, transport, address, host: group, port };
    }
  }
}

/** What a socket is being used for, so that transports that cannot carry it are refused. @internal */
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
 * @internal
 */
export async function bindEndpoint(socket: zmq.Socket, endpoint: string, use: EndpointUse): Promise<string> {
  const parsed = parseEndpoint(endpoint);
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
  try {
    await socket.bind(target);
  } catch (err) {
    throw fromZmqError(err, `${use.owner} bind`, endpoint);
  }
  return socket.lastEndpoint ?? target;
}

/**
 * Validates and connects (connecting is asynchronous in libzmq; peers may appear later).
 * @internal
 */
export function connectEndpoint(socket: zmq.Socket, endpoint: string, use: EndpointUse): string {
  const parsed = parseEndpoint(endpoint);
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
 * @internal
 */
export function endpointList(endpoints: string | readonly string[], owner: string): readonly string[] {
  const list = typeof endpoints === "string" ? [endpoints] : [...endpoints];
  if (list.length === 0)
    throw new InvalidArgumentError(`${owner}: \`endpoint\` must be an endpoint string or a non-empty array of them.`);
  return list;
}

/**
 * Binds or connects `socket` to every endpoint; on any failure closes the socket and rethrows, so a factory that
 * fails leaves nothing open. Returns the real endpoints.
 * @internal
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
