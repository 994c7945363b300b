/**
 * The job contract and role settings of the reliable-pipeline fault tests (test/fault/pipeline.test.ts): a source,
 * workers, a sink and a `PipelineBroker`, each its own process.
 */
import * as z from "zod";
import { defineJobs } from "../../../src/index.js";

/** A task names itself (the test's id) and how long its handler works; the result says which worker ran it. */
export const FaultJobs = defineJobs("faultjobs.v1", {
  task: z.object({ id: z.string(), ms: z.number().int().nonnegative() }),
  result: z.object({ id: z.string(), worker: z.string() }),
});

/** Settings of roles/broker.ts. */
export interface PipelineBrokerSettings {
  readonly frontend: string;
  readonly backend: string;
  /** An SQLite file: the durable broker. */
  readonly store?: string;
  /** The store's size limit (a full store refuses pushes with STORE_FULL). */
  readonly maxStoreBytes?: number;
  readonly leaseMs?: number;
  readonly maxDeliveries?: number;
  readonly heartbeatMs: number;
  readonly liveness: number;
  readonly lifeMs: number;
}

/** Settings of roles/source.ts. */
export interface PipelineSourceSettings {
  readonly endpoint: string;
  /** Task ids are `${prefix}${i}` for i from 0 to count - 1. */
  readonly prefix: string;
  readonly count: number;
  /** How long each task's handler works. */
  readonly ms: number;
  /** Pushes awaited at once. */
  readonly inFlight: number;
  readonly batch?: boolean;
  /** Each push's timeoutMs. */
  readonly timeoutMs: number;
  /** Exit (after close) once every push settled, instead of waiting for `stop`. */
  readonly exitWhenDone: boolean;
  readonly lifeMs: number;
}

/** Settings of roles/worker.ts. */
export interface PipelineWorkerSettings {
  readonly endpoint: string;
  readonly name: string;
  readonly concurrency: number;
  readonly heartbeatMs: number;
  readonly liveness: number;
  /** Task ids whose handler throws an unexpected error (a poison task). */
  readonly poison?: readonly string[];
  readonly lifeMs: number;
}

/** Settings of roles/sink.ts. */
export interface PipelineSinkSettings {
  readonly endpoint: string;
  /** Stop receiving once this many distinct task ids reached user code. */
  readonly count: number;
  readonly heartbeatMs: number;
  readonly liveness: number;
  readonly lifeMs: number;
}
