import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { PipelineBroker, PipelineSink, PipelineSource, PipelineWorker, defineJobs } from "typed-zmq";

export const Thumbnails = defineJobs("thumbnails.v1", {
  task: z.object({ image: z.string() }),
  result: z.object({ image: z.string(), bytes: z.number().int() }),
});

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "thumbnails-"));
  try {
    // The durable broker: tasks and results live in queue.db until they are done and taken.
    await using broker = await PipelineBroker.bind({ frontend: "ipc://*", backend: "ipc://*" }, { store: join(dir, "queue.db") });

    // A source pushes and is gone before any worker exists: each push resolves once the task is on disk.
    {
      await using source = await PipelineSource.connect(broker.frontend, Thumbnails, { mode: "reliable" });
      for (const image of ["a.png", "b.png", "c.png"]) await source.push({ image }, { id: image, signal });
    }

    // Workers take tasks on credit and acknowledge each with its result; a worker that dies mid-task loses nothing.
    await using worker = await PipelineWorker.connect(
      { tasks: broker.backend },
      Thumbnails,
      ({ image }, { taskId, delivery }) => {
        console.log(`${taskId}: delivery ${delivery}`); // a.png: delivery 1
        return { image, bytes: image.length * 1_000 };
      },
      { mode: "reliable", concurrency: 2 },
    );

    // The sink can come last: the broker keeps every result until a sink has taken it.
    await using sink = await PipelineSink.connect(broker.frontend, Thumbnails, { mode: "reliable" });
    let bytes = 0;
    for (const outcome of await sink.collect(3, { signal, timeoutMs: 5_000 })) {
      if (outcome.ok) bytes += outcome.result.bytes;
      else console.log(`${outcome.taskId} failed: ${outcome.error.code}`); // POISON_TASK after maxDeliveries
    }
    await worker.close();
    console.log(`${bytes} bytes of thumbnails`); // 15000 bytes of thumbnails
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
