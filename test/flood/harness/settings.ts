/**
 * The settings of the flood-suite roles (test/flood/roles), shared by the roles and the tests. The well-behaved
 * client is the fault suite's client role (test/fault/roles/client.ts), calling the fault contract.
 */
import type { RpcServerOptions } from "../../../src/index.js";

/** Settings of test/flood/roles/server.ts: a bound RpcServer of the fault contract with the options given. */
export interface FloodServerSettings {
  readonly name: string;
  readonly endpoint: string;
  /** Passed to `RpcServer.bind` as they are; `{}` is a server with no options at all. */
  readonly options: Pick<RpcServerOptions, "maxMessageBytes" | "hardMaxMessageBytes" | "concurrency" | "backlog">;
  readonly lifeMs: number;
}

/** Settings of test/flood/roles/flooder.ts: raw DEALERs sending large valid-shaped requests as fast as they can. */
export interface FlooderSettings {
  readonly endpoint: string;
  /** Flooding sockets, each its own connection. */
  readonly sockets: number;
  /** Size of each request body, in bytes. */
  readonly bytes: number;
  readonly lifeMs: number;
}

/** Settings of test/flood/roles/storm.ts: raw TCP connections opened and closed in rounds. */
export interface StormSettings {
  readonly endpoint: string;
  /** Connections opened at once in each round. */
  readonly sockets: number;
  /** Rounds at most (a bounded loop). */
  readonly rounds: number;
  /** And no longer than this after `go`, in ms. */
  readonly durationMs: number;
  readonly lifeMs: number;
}
