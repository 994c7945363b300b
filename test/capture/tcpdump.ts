import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { within } from "../helpers/deferred.js";

// Packet capture on loopback with Debian's tcpdump, for the "no plaintext on the wire" tests: one capture per
// session, filtered to the session's own ephemeral port, written to a pcap file in a fresh temp directory.

/** Why captures cannot run here (no tcpdump, not root), or undefined when they can. */
export const missingCapture: string | undefined = (() => {
  if (process.getuid?.() !== 0) return "capturing on lo needs root";
  try {
    execFileSync("tcpdump", ["--version"], { stdio: "ignore", timeout: 5_000 });
    return undefined;
  } catch {
    return "no tcpdump (install Debian's tcpdump)";
  }
})();

/** The longest a capture may live, whatever happens to the test: `timeout` ends tcpdump after this. */
const LIFETIME_S = 60;

/** How long tcpdump may take to say it is listening, and to exit after SIGINT. */
const WAIT_MS = 10_000;

/** A capture file unchanged for this long holds every packet of the finished session. */
const QUIET_MS = 300;

/** What one capture saw. */
export interface Captured {
  /** The pcap file's bytes (the global header, then every packet with its own header). */
  readonly pcap: Buffer;
  /** Packets in the file, counted from the pcap record headers. */
  readonly packets: number;
  /** tcpdump's stderr (it reports "N packets captured" there when it stops). */
  readonly log: string;
}

/** Counts the records of a classic pcap file (little- or big-endian header; the capture is never truncated). */
function countPackets(pcap: Buffer): number {
  if (pcap.length < 24) return 0;
  const magic = pcap.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  let offset = 24;
  let packets = 0;
  while (offset + 16 <= pcap.length) {
    const captured = little ? pcap.readUInt32LE(offset + 8) : pcap.readUInt32BE(offset + 8);
    offset += 16 + captured;
    packets++;
  }
  return packets;
}

/**
 * Waits (at most {@link WAIT_MS}) until the file has stopped growing for {@link QUIET_MS}: tcpdump has written the
 * session's last packets, which went through lo before the session's last message was received.
 */
async function settled(file: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  let last = -1;
  let since = Date.now();
  while (Date.now() < end) {
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size !== last) {
      last = size;
      since = Date.now();
    } else if (Date.now() - since >= QUIET_MS) return;
    await sleep(50);
  }
}

/**
 * Captures every tcp packet to or from `port` on `lo` while `session` runs: starts tcpdump (under `timeout`, so it
 * cannot outlive {@link LIFETIME_S} seconds), waits until it says it is listening, runs the session, stops tcpdump
 * with SIGINT and waits (bounded) for it to exit and flush, then returns the pcap's bytes and the session's result.
 */
export async function captureDuring<T>(port: number, session: () => Promise<T>): Promise<{ result: T; captured: Captured }> {
  if (missingCapture !== undefined) throw new Error(`cannot capture: ${missingCapture}`);
  const dir = mkdtempSync(join(tmpdir(), "tzmq-capture-"));
  const file = join(dir, `port-${port}.pcap`);
  // --immediate-mode: hand each packet to tcpdump at once (by default libpcap delivers them in blocks, and a SIGINT
  // before a block is full loses it); -U: write each packet to the file as it comes; -Z root: keep the right to write into our root-owned temp dir (tcpdump
  // otherwise drops to user tcpdump before opening the file); -s 0: whole packets.
  const child = spawn(
    "timeout",
    [
      "--signal=INT",
      "--kill-after=5",
      String(LIFETIME_S),
      "tcpdump",
      "-i",
      "lo",
      "-n",
      "--immediate-mode",
      "-U",
      "-s",
      "0",
      "-Z",
      "root",
      "-w",
      file,
      `tcp port ${port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  const listening = new Promise<void>((resolve) => {
    child.stderr.on("data", (chunk: Buffer) => {
      log += chunk.toString("utf8");
      if (log.includes("listening on")) resolve();
    });
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  try {
    await within(
      Promise.race([
        listening,
        exited.then((code): never => {
          throw new Error(`tcpdump exited (${code}) before listening: ${log}`);
        }),
      ]),
      WAIT_MS,
      `tcpdump to say "listening on" (stderr so far: ${log})`,
    );
    const result = await session();
    await settled(file);
    child.kill("SIGINT"); // `timeout` passes SIGINT on to tcpdump, which flushes the file and exits
    const code = await within(exited, WAIT_MS, `tcpdump to exit after SIGINT (stderr: ${log})`);
    if (code !== 0 && code !== 124) throw new Error(`tcpdump exited with ${code}: ${log}`);
    const pcap = readFileSync(file);
    return { result, captured: { pcap, packets: countPackets(pcap), log } };
  } finally {
    // `timeout` passes SIGTERM on to tcpdump (a SIGKILL would leave tcpdump behind without its time limit).
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The port of a `tcp://host:port` endpoint. */
export function portOf(endpoint: string): number {
  const port = Number(/:(\d+)$/.exec(endpoint)?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${endpoint} is not a tcp endpoint with a port`);
  return port;
}
