import { fileURLToPath } from "node:url";
import * as z from "zod";
import { PipelineSink, PipelineSource, PipelineWorker, defineJobs } from "typed-zmq";

export const Squares = defineJobs("squares.v1", {
  task: z.object({ n: z.number().int() }),
  result: z.object({ n: z.number().int(), square: z.number().int(), worker: z.string() }),
});

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
  await using source = await PipelineSource.bind("ipc://*", Squares); // the ventilator
  await using sink = await PipelineSink.bind("ipc://*", Squares);
  const workers = [];
  for (const name of ["w1", "w2", "w3"]) {
    workers.push(
      await PipelineWorker.connect(
        { tasks: source.endpoint, results: sink.endpoint },
        Squares,
        async ({ n }) => ({ n, square: n * n, worker: name }),
        { concurrency: 4 },
      ),
    );
  }
  await source.waitForWorkers(3, { signal, timeoutMs: 2_000 }); // so the first worker does not take everything

  for (let n = 0; n < 30; n++) await source.push({ n }, { signal });
  const perWorker: Record<string, number> = {};
  for (const outcome of await sink.collect(30, { signal, timeoutMs: 5_000 })) {
    if (outcome.ok) perWorker[outcome.result.worker] = (perWorker[outcome.result.worker] ?? 0) + 1;
    else console.log(`failed: ${outcome.error.code} ${outcome.error.message}`);
  }
  await Promise.all(workers.map((w) => w.close()));
  console.log(perWorker); // { w1: 10, w2: 10, w3: 10 }
  return perWorker;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
