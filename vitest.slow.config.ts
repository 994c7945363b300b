import { defineConfig } from "vitest/config";
import { inlineProjects, shared } from "./vitest.config.js";

// Slow suites, kept out of `npm test`: each has its own npm script, and .ci/run runs them one at a time.
//   pgm      PGM/EPGM between two processes in a network namespace (root, a PGM-enabled libzmq)   npm run test:pgm
//   interop  typed classes against real Python (pyzmq) peers, each peer its own process       npm run test:interop
//   fault    SIGKILL, SIGSTOP and network partitions across real processes (one role each) and   npm run test:fault
//            network namespaces; one file at a time (--no-file-parallelism)
//   flood    hostile peers (10 MB request floods, connection storms) against a server whose RSS the test    npm run test:flood
//            samples; every role its own process; one file at a time (--no-file-parallelism)
//   capture  tcpdump on lo, filtered to each session's own port: plaintext shows the marker,    npm run test:capture
//            CURVE shows none of it (root, Debian's tcpdump)
//   cli      the typed-zmq command (help, version, usage errors, keygen, doctor, and the messaging and   npm run test:cli
//            asyncapi commands against the demo programs), each a child process (about 50 s of process start-ups,
//            kept out of npm test's 3 minutes)
//   demos    the demo programs end to end as child processes, and the docker-compose topology run      npm run test:demos
//            as local processes (about 40 s of process start-ups, kept out of npm test's 3 minutes)
//   trace    OpenTelemetry across processes: a client, an RpcBroker and an RpcServer, each its own   npm run test:trace
//            process with the SDK's in-memory exporter, one trace across the three

/** The slow projects, each with the test files that belong to it. */
export const slowProjects = {
  pgm: ["test/pgm/**/*.test.ts", "test/pgm.test.ts"],
  interop: ["test/interop/**/*.test.ts"],
  fault: ["test/fault/**/*.test.ts"],
  flood: ["test/flood/**/*.test.ts"],
  capture: ["test/capture/**/*.test.ts"],
  cli: ["test/cli/**/*.test.ts"],
  demos: ["test/demos/**/*.test.ts"],
  trace: ["test/trace/**/*.test.ts"],
} as const satisfies Record<string, readonly string[]>;

export default defineConfig({
  ...shared,
  test: { ...shared.test, projects: inlineProjects(slowProjects) },
});
