#!/usr/bin/env node
/**
 * @packageDocumentation
 * The `typed-zmq` command: `doctor` (what the loaded ZeroMQ can do), `build-zmq-system` (build zeromq.js against the
 * system libzmq, offline, for PGM/NORM) and `restore-zmq-prebuilt` (go back to the prebuilt addon).
 */
import { buildSystemAddon, restorePrebuiltAddon } from "./internal/system-addon.js";

const USAGE = `usage: typed-zmq <command>

  doctor                 libzmq version, capabilities (ipc, pgm, norm, curve, draft), which addon is loaded, advice
  build-zmq-system       build zeromq.js's addon against the system libzmq (needs: apt-get install -y libzmq3-dev
                         pkg-config g++ make python3); offline; from then on every program uses it
  restore-zmq-prebuilt   go back to zeromq.js's prebuilt addon`;

async function run(command: string | undefined): Promise<number> {
  switch (command) {
    case "doctor": {
      // Imported here so that building never loads the addon it replaces.
      const { doctor, formatDoctorReport } = await import("./doctor.js");
      console.log(formatDoctorReport(doctor()));
      return 0;
    }
    case "build-zmq-system": {
      const report = await buildSystemAddon({ log: (line) => console.log(line) });
      const caps = Object.entries(report.capability).map(([k, v]) => `${k}=${v ? "yes" : "no"}`).join(" ");
      console.log(`built ${report.addonPath} in ${report.seconds.toFixed(1)} s: libzmq ${report.version}; ${caps}`);
      console.log("Every program in this project now uses it. Undo with: npm run restore:zmq-prebuilt (or npm ci).");
      return 0;
    }
    case "restore-zmq-prebuilt": {
      const restored = await restorePrebuiltAddon();
      console.log(restored ? "restored the prebuilt zeromq.js addon" : "nothing to restore: the prebuilt addon is in use");
      return 0;
    }
    default:
      console.error(USAGE);
      return command === undefined || command === "help" || command === "--help" ? 0 : 2;
  }
}

try {
  process.exitCode = await run(process.argv[2]);
} catch (err) {
  console.error(`typed-zmq: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
