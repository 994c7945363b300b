/**
 * Flood-test role: a connection storm. In each of `rounds` rounds it opens `sockets` raw TCP connections to the
 * endpoint at once, closes each as soon as it is up (or has failed), and starts the next round, until `rounds` or
 * `durationMs` after `go` (stdin) is reached. Prints `ready`,
 * then an `event` line per round `{ type: "storm", round, connected, failed }`, and `done` at the end. Stdin: `go`, `stop`.
 */
import { connect } from "node:net";
import { control, emit, fail, settings } from "../../fault/harness/emit.js";
import type { StormSettings } from "../harness/settings.js";

const config = settings() as StormSettings;
try {
  const url = new URL(config.endpoint.replace(/^tcp:/, "http:"));
  const state = { stopping: false, go: false };
  control(
    config.lifeMs,
    () => {
      state.stopping = true;
      process.exit(0);
    },
    { go: () => (state.go = true) },
  );
  emit({ type: "ready", endpoints: [config.endpoint], pid: process.pid });
  while (!state.go) await new Promise((resolve) => setTimeout(resolve, 10));
  const end = Date.now() + config.durationMs;
  const one = (): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      socket.setTimeout(5_000);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      socket.once("timeout", () => {
        socket.destroy();
        resolve(false);
      });
    });
  let made = 0;
  for (let round = 1; round <= config.rounds && !state.stopping && Date.now() < end; round++) {
    const results = await Promise.all(Array.from({ length: config.sockets }, one));
    made += results.length;
    const connected = results.filter(Boolean).length;
    emit({ type: "event", event: { type: "storm", round, connected, failed: results.length - connected } });
  }
  emit({ type: "done", made, hung: [] });
  process.exit(0);
} catch (err) {
  fail(err);
}
