/**
 * The handlers the server and worker roles share: each records its start (`exec`: call id, time, the deadline the
 * server computed), works for the requested time, and answers with the server's name.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { RpcHandlers, RpcServer } from "../../../src/index.js";
import type { Fault, Heartbeats } from "../harness/contract.js";
import { control, emit } from "../harness/emit.js";

export function faultHandlers(server: string): RpcHandlers<typeof Fault> {
  const work = async (
    { id, ms }: { id: string; ms: number },
    context: { readonly deadline?: number | undefined },
  ): Promise<{ id: string; server: string }> => {
    emit({ type: "exec", id, server, ...(context.deadline === undefined ? {} : { deadline: context.deadline }) });
    if (ms > 0) await sleep(ms);
    return { id, server };
  };
  return { work, workOnce: work };
}

/** The ZMTP heartbeat settings given, as server or client options (absent ones left to the library's defaults). */
export function heartbeatOptions(config: Heartbeats): Heartbeats {
  return {
    ...(config.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: config.heartbeatIntervalMs }),
    ...(config.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: config.heartbeatTimeoutMs }),
  };
}

/** Prints `ready`, then serves until `stop`, stdin closing or the end of its life; prints `stats` and exits. */
export function serveUntilStopped(server: RpcServer<typeof Fault>, lifeMs: number, endpoints: readonly string[]): void {
  let stopping = false;
  control(lifeMs, () => {
    if (stopping) return;
    stopping = true;
    emit({ type: "stats", stats: server.stats });
    void server.close().finally(() => process.exit(0));
  });
  emit({ type: "ready", endpoints, pid: process.pid });
}
