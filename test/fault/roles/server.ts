/**
 * Fault-test role: a direct server, `RpcServer.bind(endpoint, Fault, …)`. Prints `ready` with its endpoint, one
 * `exec` line per handler start (call id, time, deadline), and `stats` when it stops.
 * Settings: {@link ServerSettings} as the one argument. Stdin: `stop`.
 */
import { RpcServer } from "../../../src/index.js";
import { Fault, type ServerSettings } from "../harness/contract.js";
import { fail, settings } from "../harness/emit.js";
import { faultHandlers, heartbeatOptions, serveUntilStopped } from "./handlers.js";

const config = settings() as ServerSettings;
try {
  const server = await RpcServer.bind(config.endpoint, Fault, faultHandlers(config.name), {
    concurrency: config.concurrency ?? 200,
    ...heartbeatOptions(config),
    drainTimeoutMs: 500,
    lingerMs: 0,
  });
  serveUntilStopped(server, config.lifeMs, server.endpoints);
} catch (err) {
  fail(err);
}
