/**
 * @packageDocumentation
 * `doctor()`: what the loaded ZeroMQ can do here, and what to do to enable a missing transport.
 *
 * Depends on zeromq and `internal/addon-manifest.ts` (which reads zeromq's addon manifest; no build code). The `typed-zmq doctor` command prints {@link formatDoctorReport}.
 */
import { createRequire } from "node:module";
import * as zmq from "zeromq";
import { systemAddonInstalled } from "./internal/addon-manifest.js";

/** The capabilities typed-zmq reports on. */
export const CAPABILITIES = ["ipc", "pgm", "norm", "curve", "draft"] as const;

/** What {@link doctor} found. */
export interface DoctorReport {
  /** Version of the loaded libzmq, for example `4.3.5`. */
  readonly libzmq: string;
  /** Version of the `zeromq` npm package (zeromq.js). */
  readonly zeromqJs: string;
  /** Node.js version. */
  readonly node: string;
  /** Which addon zeromq.js loaded: its own prebuilt one, or one built against the system libzmq. */
  readonly addon: "prebuilt" | "system";
  /** libzmq's capabilities, by name. */
  readonly capabilities: Readonly<Record<(typeof CAPABILITIES)[number], boolean>>;
  /** What to do for each missing capability. */
  readonly advice: readonly string[];
}

/** Reports the loaded libzmq version, its capabilities, which addon is loaded, and how to enable what is missing. */
export function doctor(): DoctorReport {
  const capability = zmq.capability as Partial<Record<string, boolean>>;
  const capabilities = Object.fromEntries(CAPABILITIES.map((c) => [c, capability[c] === true])) as Record<
    (typeof CAPABILITIES)[number],
    boolean
  >;
  const addon = systemAddonInstalled() ? "system" : "prebuilt";
  const advice: string[] = [];
  if (!capabilities.pgm || !capabilities.norm) {
    advice.push(
      addon === "prebuilt"
        ? "pgm:// and epgm:// (reliable multicast) need a libzmq built with PGM; the prebuilt addon has none. " +
            "Run `npx typed-zmq build-zmq-system` (it installs nothing itself: first `apt-get install -y libzmq3-dev pkg-config g++ make python3`) " +
            "to build zeromq.js against the system libzmq, which Debian builds with PGM and NORM."
        : "The system libzmq was built without PGM/NORM; install a libzmq built with them (Debian's libzmq3-dev is).",
    );
  }
  if (!capabilities.ipc) advice.push("ipc:// needs Unix domain sockets; use tcp:// on this system.");
  if (!capabilities.curve) advice.push("CURVE security needs a libzmq built with libsodium or tweetnacl.");
  if (!capabilities.draft) {
    advice.push("Draft socket types are off; typed-zmq does not need them.");
  }
  if (addon === "system")
    advice.push(
      "To go back to the prebuilt addon: `npx typed-zmq restore-zmq-prebuilt` (reinstalling zeromq, e.g. `npm ci`, does it too).",
    );
  const pkg = createRequire(import.meta.url)("zeromq/package.json") as { version?: unknown };
  return {
    libzmq: zmq.version,
    zeromqJs: typeof pkg.version === "string" ? pkg.version : "unknown",
    node: process.versions.node,
    addon,
    capabilities,
    advice,
  };
}

/** Formats a {@link DoctorReport} as lines of text, for the `typed-zmq doctor` command. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [
    `libzmq     ${report.libzmq}`,
    `zeromq.js  ${report.zeromqJs} (${report.addon === "system" ? "addon built against the system libzmq" : "prebuilt addon"})`,
    `node       ${report.node}`,
    ...CAPABILITIES.map((c) => `${c.padEnd(10)} ${report.capabilities[c] ? "yes" : "no"}`),
  ];
  if (report.advice.length > 0) lines.push("", ...report.advice.map((a) => `- ${a}`));
  return lines.join("\n");
}
