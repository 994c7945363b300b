/**
 * @packageDocumentation
 * Endpoint strings: parsing and validation before libzmq sees them. Binding and connecting, which report the real
 * endpoint (the port chosen for `tcp://host:0` or `tcp://host:*`), are in `internal/attach.ts`.
 */
import { InvalidEndpointError } from "./errors/index.js";

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
