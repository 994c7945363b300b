/**
 * Flood-test role: a bound server, `RpcServer.bind(endpoint, Fault, handlers, options)` with exactly the options
 * the test gives (none at all for the default-limit test). Prints `ready` (with its pid: the test samples its RSS),
 * one `exec` line per handler start, and `stats` when it stops. Stdin: `stop`.
 */
import { RpcServer } from "../../../src/index.js";
import { Fault } from "../../fault/harness/contract.js";
import { fail, settings } from "../../fault/harness/emit.js";
import { faultHandlers, serveUntilStopped } from "../../fault/roles/handlers.js";
import type { FloodServerSettings } from "../harness/settings.js";

const config = settings() as FloodServerSettings;
try {
  const server = await RpcServer.bind(config.endpoint, Fault, faultHandlers(config.name), config.options);
  serveUntilStopped(server, config.lifeMs, server.endpoints);
} catch (err) {
  fail(err);
}
