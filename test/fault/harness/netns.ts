/**
 * A private network for one test: a "switch" namespace holding a bridge, and one namespace per host, each joined
 * to the bridge by a veth pair and given a private test address (10.200.<run>.<n>/24). Traffic never leaves these
 * namespaces. A host's link is cut by setting its veth port on the switch down (the host still sees its own
 * interface up, as behind a real switch whose cable to it was pulled), and restored by setting it up again.
 * Names are unique per run; {@link Network.remove} deletes every namespace (and with them the veths).
 */
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return "creating network namespaces needs root";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "the ip command (iproute2) is not installed";
  }
  return undefined;
}

function ip(...args: string[]): void {
  try {
    execFileSync("ip", args, { stdio: "pipe", timeout: 5_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? "";
    throw new Error(`ip ${args.join(" ")} failed: ${stderr || String(err)}`, { cause: err });
  }
}

/** One host of a {@link Network}. */
export interface Host {
  readonly name: string;
  /** The namespace the host's processes run in. */
  readonly netns: string;
  /** Its address on the test network. */
  readonly address: string;
}

/** The network; see the file comment. */
export class Network {
  readonly #id: string;
  readonly #switch: string;
  readonly #hosts = new Map<string, Host & { port: string }>();
  readonly #subnet: string;
  #removed = false;

  private constructor() {
    // Unique per run: the pid and a random part; short, because namespace names end up in paths.
    this.#id = `tzf${process.pid % 100_000}x${randomInt(1_000_000).toString(36)}`;
    this.#switch = `${this.#id}-sw`;
    this.#subnet = `10.200.${randomInt(1, 255)}`;
  }

  /** Creates the switch and one host per name (namespaces, veths, addresses, links up). */
  static create(hostNames: readonly string[]): Network {
    const network = new Network();
    try {
      ip("netns", "add", network.#switch);
      ip("-n", network.#switch, "link", "add", "br0", "type", "bridge");
      ip("-n", network.#switch, "link", "set", "br0", "up");
      hostNames.forEach((name, i) => network.#addHost(name, i + 1));
    } catch (err) {
      network.remove();
      throw err;
    }
    return network;
  }

  #addHost(name: string, n: number): void {
    const netns = `${this.#id}-${name}`;
    const port = `p${n}`;
    const address = `${this.#subnet}.${n}`;
    ip("netns", "add", netns);
    this.#hosts.set(name, { name, netns, address, port });
    // Made inside the switch namespace, with the other end created straight in the host's: no name ever lives in
    // the root namespace, so parallel runs cannot clash.
    ip("-n", this.#switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns);
    ip("-n", this.#switch, "link", "set", port, "master", "br0");
    ip("-n", this.#switch, "link", "set", port, "up");
    ip("-n", netns, "link", "set", "lo", "up");
    ip("-n", netns, "addr", "add", `${address}/24`, "dev", "eth0");
    ip("-n", netns, "link", "set", "eth0", "up");
  }

  host(name: string): Host {
    const host = this.#hosts.get(name);
    if (host === undefined) throw new Error(`no host ${name} in this network (hosts: ${[...this.#hosts.keys()].join(", ")})`);
    return host;
  }

  /** Cuts `name`'s link (its port on the switch goes down). Returns the time of the cut. */
  cut(name: string): number {
    const at = Date.now();
    ip("-n", this.#switch, "link", "set", this.#port(name), "down");
    return at;
  }

  /** Restores `name`'s link. Returns the time. */
  restore(name: string): number {
    const at = Date.now();
    ip("-n", this.#switch, "link", "set", this.#port(name), "up");
    return at;
  }

  #port(name: string): string {
    this.host(name);
    return this.#hosts.get(name)!.port;
  }

  /** Deletes every namespace of this network (their veths go with them). Safe to call twice. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    const failures: string[] = [];
    for (const netns of [...[...this.#hosts.values()].map((h) => h.netns), this.#switch]) {
      try {
        ip("netns", "del", netns);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    // A namespace that was never made fails to delete: only real leftovers matter.
    const left = failures.filter((f) => !/No such file|Cannot remove/.test(f));
    if (left.length > 0) throw new Error(left.join("\n"));
  }
}
