/**
 * The contract every fault-test role serves or calls, and the settings each role reads from its first argument (a
 * JSON object), shared by the roles and the tests so that both sides agree on one shape.
 */
import * as z from "zod";
import { defineRpc } from "../../../src/index.js";

const Job = z.object({
  /** The client's id of the call (the same on every attempt), so that executions match calls. */
  id: z.string(),
  /** How long the handler works, in ms. */
  ms: z.number().int().nonnegative(),
});
const Done = z.object({ id: z.string(), server: z.string() });

/** `work` may be retried and re-dispatched (idempotent); `workOnce` must never be. */
export const Fault = defineRpc("fault.v1", {
  work: { request: Job, response: Done, idempotent: true },
  workOnce: { request: Job, response: Done },
});

/** The methods of {@link Fault}. */
export type FaultMethod = keyof typeof Fault.methods;

/** ZMTP heartbeat settings passed through to RpcClient / RpcServer. */
export interface Heartbeats {
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
}

/** Settings of test/fault/roles/server.ts (a bound, direct server). */
export interface ServerSettings extends Heartbeats {
  /** A name the server puts in its replies and records. */
  readonly name: string;
  /** Where to bind, for example `tcp://127.0.0.1:0`. */
  readonly endpoint: string;
  readonly concurrency?: number;
  /** Exit after this long whatever happens (a bound on every role's life). */
  readonly lifeMs: number;
}

/** Settings of test/fault/roles/worker.ts (`RpcServer.connect` to a broker). */
export interface WorkerSettings extends Heartbeats {
  readonly name: string;
  readonly broker: string;
  readonly service: string;
  /** MDP heartbeat interval of the worker. */
  readonly heartbeatMs: number;
  readonly liveness?: number;
  readonly concurrency?: number;
  readonly lifeMs: number;
}

/** Settings of test/fault/roles/broker.ts. */
export interface BrokerSettings {
  readonly frontend: string;
  readonly backend: string;
  readonly heartbeatMs: number;
  readonly liveness: number;
  readonly serviceWaitMs?: number;
  readonly lifeMs: number;
}

/** Settings of test/fault/roles/client.ts. */
export interface ClientSettings extends Heartbeats {
  readonly endpoints: readonly string[];
  /** MDP mode (through a broker) when set. */
  readonly service?: string;
  readonly method: FaultMethod;
  /** Calls started per second. */
  readonly rate: number;
  /** How long calls are started for, in ms. */
  readonly durationMs: number;
  /** Stop after this many calls, even before `durationMs`. */
  readonly maxCalls?: number;
  /** Each call's deadline. */
  readonly timeoutMs: number;
  /** How long each handler works. */
  readonly handlerMs: number;
  /** `RpcClient`'s `retry` option; `false` turns retries off. */
  readonly retry?: false | { readonly attempts?: number; readonly backoffMs?: number; readonly maxBackoffMs?: number };
  /** Wait for a `go` line on stdin before the first call. */
  readonly waitForGo?: boolean;
  readonly lifeMs: number;
}

/** One line a role prints (JSON). Every line has a `type` and the time it was printed (`t`, epoch ms). */
export type RoleMessage =
  | { readonly type: "ready"; readonly t: number; readonly endpoints: readonly string[]; readonly pid: number }
  | { readonly type: "exec"; readonly t: number; readonly id: string; readonly server: string; readonly deadline?: number }
  | {
      readonly type: "call";
      readonly t: number;
      readonly id: string;
      /** When the call was made and settled (epoch ms, same host clock as every role). */
      readonly sent: number;
      readonly settled: number;
      readonly deadline: number;
      /** `ok`, or the error's code. */
      readonly outcome: string;
      readonly server?: string;
      readonly attempts?: number;
      readonly message?: string;
    }
  | { readonly type: "progress"; readonly t: number; readonly made: number; readonly settled: number }
  /** The client made its last call (load over, or `stop`); it now waits for the calls in flight. */
  | { readonly type: "stopped"; readonly t: number; readonly made: number }
  | { readonly type: "event"; readonly t: number; readonly event: Readonly<Record<string, unknown>> }
  | {
      readonly type: "done";
      readonly t: number;
      readonly made: number;
      /** Calls still unsettled when the client stopped waiting (well after their deadlines). */
      readonly hung: readonly string[];
    }
  | { readonly type: "stats"; readonly t: number; readonly stats: unknown }
  /** Pipeline source: tasks the broker acknowledged (ACCEPTED), or refused, since the last such line. */
  | { readonly type: "accepted"; readonly t: number; readonly ids: readonly string[] }
  | { readonly type: "rejected"; readonly t: number; readonly ids: readonly string[]; readonly code: string }
  /** Pipeline sink: outcomes its user code got since the last such line (`failed` by id: code). */
  | {
      readonly type: "outcomes";
      readonly t: number;
      readonly ok: readonly string[];
      readonly failed: Readonly<Record<string, string>>;
    }
  | { readonly type: "error"; readonly t: number; readonly message: string };
