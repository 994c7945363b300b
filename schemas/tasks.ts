/**
 * Demo contract: the pipeline's tasks (how long to work) and results (who did it, how long it took), shared by the
 * demo ventilator, workers and sink. Not part of the published package.
 */
import * as z from "zod";
import { defineJobs } from "typed-zmq";

export const Tasks = defineJobs("tasks.v1", {
  task: z.object({ id: z.number().int().min(0), workMs: z.number().int().min(0).max(10_000) }),
  result: z.object({ id: z.number().int(), worker: z.string(), ms: z.number() }),
});
