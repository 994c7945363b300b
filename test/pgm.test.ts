import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { describe, expect, test } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import {
  InvalidEndpointError,
  Publisher,
  RpcServer,
  Subscriber,
  TransportUnavailableError,
  defineRpc,
  defineTopics,
} from "../src/index.js";
import { killAll, startProgram, type Program } from "./helpers/programs.js";

// PGM/EPGM delivery between two processes, each in its own network namespace this test creates, joined by a veth
// pair with a multicast route on each end, so no multicast ever leaves them. Two namespaces, not one: EPGM's peers
// bind the same UDP port (0.0.0.0:<port>) and a subscriber sends its NAKs unicast to <source ip>:<port>; on one host
// Linux hands such a datagram to one of the two sockets, and it was never the publisher's (measured: 510 NAKs, no
// NCF, no RDATA in 60 s), so a single lost packet was unrecoverable and the subscriber saw a gap after ~30 s of NAK
// retries. Across the veth pair the NAKs reach the publisher and lost packets are repaired (RDATA). Needs a libzmq with PGM (`npm run build:zmq-system`) and
// root. Where either is missing the tests are skipped, and the skip says why; REQUIRE_PGM=1 (set by .ci/run after it
// builds the system addon) turns a skip into a failure, so CI is never silently green.

function missing(): string[] {
  const reasons: string[] = [];
  if (!zmq.capability.pgm) reasons.push(`the loaded libzmq ${zmq.version} has no PGM (run npm run build:zmq-system)`);
  if (process.getuid?.() !== 0) reasons.push("creating a network namespace needs root");
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    reasons.push("the ip command (iproute2) is not installed");
  }
  return reasons;
}

const reasons = missing();
const skip = reasons.length > 0 && process.env["REQUIRE_PGM"] !== "1";
const why = reasons.length > 0 ? ` [skipped: ${reasons.join("; ")}]` : "";

const Ticks = defineTopics("ticks.v1", { tick: z.object({ n: z.number() }) });
const Rpc = defineRpc("pgm-rpc.v1", { ping: { request: z.object({}), response: z.object({}) } });

describe("PGM endpoints are checked before libzmq sees them", () => {
  test("an endpoint without an interface part is refused (libzmq would abort the process)", async () => {
    await expect(Publisher.bind("epgm://239.192.1.1:5555", Ticks)).rejects.toBeInstanceOf(InvalidEndpointError);
    await expect(Subscriber.connect("pgm://239.192.1.1:5555", Ticks)).rejects.toThrow(/libzmq aborts the process/);
  });

  test("an interface name instead of an IP address is refused", async () => {
    await expect(Subscriber.connect("epgm://lo;239.192.1.1:5555", Ticks)).rejects.toThrow(/must be an IP address/);
  });

  test("RPC refuses pgm: it carries only publish-subscribe", async () => {
    await expect(RpcServer.bind("epgm://127.0.0.1;239.192.1.1:5555", Rpc, { ping: () => ({}) })).rejects.toThrow(
      /PGM multicast carries only publish-subscribe/,
    );
  });

  test.runIf(!zmq.capability.pgm)(
    "without PGM in libzmq, a well-formed endpoint fails with TransportUnavailableError",
    async () => {
      const err: unknown = await Subscriber.connect("epgm://127.0.0.1;239.192.1.1:5555", Ticks).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportUnavailableError);
      expect((err as Error).message).toMatch(/built without PGM/);
    },
  );
});

describe(`PGM delivery across processes in two private network namespaces joined by veth${why}`, () => {
  test.skipIf(skip).each(["epgm", "pgm"] as const)(
    "%s delivers 1,000 messages in order between two processes",
    async (transport) => {
      expect(reasons, "REQUIRE_PGM=1 but PGM cannot run here").toEqual([]);
      const tag = `${process.pid}-${randomInt(1_000_000)}`;
      const ns = { pub: `tzmq-pub-${tag}`, sub: `tzmq-sub-${tag}` };
      const address = { pub: "10.231.0.1", sub: "10.231.0.2" };
      const ip = (...args: string[]): void => {
        execFileSync("ip", args, { stdio: "pipe" });
      };
      const created: string[] = [];
      const programs: Program[] = [];
      try {
        for (const name of [ns.pub, ns.sub]) {
          ip("netns", "add", name);
          created.push(name);
        }
        // The veth ends are created inside the namespaces: nothing is added to the host's own interfaces.
        ip("link", "add", "tzpub", "netns", ns.pub, "type", "veth", "peer", "name", "tzsub", "netns", ns.sub);
        for (const role of ["pub", "sub"] as const) {
          const dev = `tz${role}`;
          ip("-n", ns[role], "link", "set", "lo", "up");
          ip("-n", ns[role], "addr", "add", `${address[role]}/30`, "dev", dev);
          ip("-n", ns[role], "link", "set", dev, "up");
          ip("-n", ns[role], "route", "add", "224.0.0.0/4", "dev", dev);
        }
        const group = `239.192.${randomInt(1, 255)}.${randomInt(1, 255)}:${randomInt(20_000, 60_000)}`;
        const inNamespace = (role: "sub" | "pub"): Program =>
          startProgram(
            `pgm ${role}`,
            "test/helpers/pgm-peer.ts",
            {},
            [role, `${transport}://${address[role]};${group}`, "1000"],
            ["ip", "netns", "exec", ns[role]],
          );
        const sub = inNamespace("sub");
        programs.push(sub);
        await sub.waitForLine(/^ready$/);
        const pub = inNamespace("pub");
        programs.push(pub);
        await pub.waitForLine(/^publishing$/);
        await sub.waitForLine(/^joined$/); // the subscriber has joined the group: real messages can start
        pub.child.stdin?.write("go\n");
        await pub.waitForLine(/^sent 1000$/);
        await sub.waitForLine(/^received 1000 in order$/, 30_000);
        expect(await sub.exited).toBe(0);
        pub.child.stdin?.write("stop\n");
        expect(await pub.exited).toBe(0);
      } finally {
        await killAll(programs);
        for (const name of created) ip("netns", "del", name); // deleting a namespace deletes its veth end
      }
    },
    60_000,
  );
});
