import { fileURLToPath } from "node:url";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

// Test projects. Every test/**/*.test.ts file belongs to exactly one project (test/repo/projects.test.ts checks it):
//   unit      pure functions, no sockets
//   sockets   real zeromq sockets in this process
//   programs  child processes (the demos, the compose topology and the CLI are slow projects: vitest.slow.config.ts)
//   repo      the repository itself: README blocks, TSDoc, project membership, packaging
// `npm run test:fast` runs unit + sockets (the inner loop); `npm test` (vitest run) runs all four.
// Slower suites (PGM in a network namespace, Python peers, faults, floods) live in vitest.slow.config.ts: each is
// its own npm script, run by .ci/run one at a time, never by `npm test`.
//
// A new test file goes in the folder of its project (test/unit/, test/sockets/, ...). The files that predate the
// folders are listed by name, so that they keep their history while other branches still edit them; they can be
// moved with `git mv` later without touching this file's structure. A test file in no project (or in two) fails the
// membership test, so nothing is silently left out.

/** Settings every project shares, the slow ones included. */
export const shared = {
  resolve: {
    // Examples and README snippets import "typed-zmq" as users do; in this repository that is src/.
    alias: [
      { find: /^typed-zmq$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      { find: /^typed-zmq\/opentelemetry$/, replacement: fileURLToPath(new URL("./src/opentelemetry.ts", import.meta.url)) },
    ],
  },
  test: {
    testTimeout: 5_000,
    hookTimeout: 5_000,
    retry: 0,
    pool: "forks",
  },
} as const;

/** The projects `npm test` runs, each with the test files that belong to it. */
export const projects = {
  unit: [
    "test/unit/**/*.test.ts",
    "test/codec.test.ts",
    "test/protocol-rpc.test.ts",
    "test/protocol-pubsub.test.ts",
    "test/protocol-pipeline.test.ts",
    "test/internal-options.test.ts",
  ],
  sockets: [
    "test/sockets/**/*.test.ts",
    "test/batch.test.ts",
    "test/broker.test.ts",
    "test/endpoint.test.ts",
    "test/errors.test.ts",
    "test/examples.test.ts",
    "test/pipeline.test.ts",
    "test/pubsub.test.ts",
    "test/rpc-bad-input.test.ts",
    "test/rpc.test.ts",
    "test/rpc-fuzz.test.ts",
    "test/smoke.test.ts",
  ],
  programs: ["test/programs/**/*.test.ts", "test/doctor.test.ts"],
  repo: [
    "test/repo/**/*.test.ts",
    "test/readme.test.ts",
    "test/tsdoc.test.ts",
    "test/import-graph.test.ts",
    "test/package.test.ts",
  ],
} as const satisfies Record<string, readonly string[]>;

/** One inline project per entry of `projects`, inheriting `shared`. */
export function inlineProjects(list: Record<string, readonly string[]>): TestProjectInlineConfiguration[] {
  return Object.entries(list).map(([name, include]) => ({ extends: true, test: { name, include: [...include] } }));
}

export default defineConfig({
  ...shared,
  test: { ...shared.test, projects: inlineProjects(projects) },
});
