/**
 * Compile-time type tests for pipelines (job contracts, PipelineSource, PipelineWorker, PipelineSink).
 *
 * Checked by `tsc --noEmit -p tsconfig.json`; nothing here runs. Code that would open sockets lives in functions
 * that are never called. Every `// @ts-expect-error` line proves that the library rejects the case: tsc fails if
 * the expected error does not occur.
 */
import { expectTypeOf } from "vitest";
import * as z from "zod";
import {
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  defineJobs,
  defineRpc,
  defineTopics,
  type InferHandlerResult,
  type InferHandlerTask,
  type InferResult,
  type InferTask,
  type JobContext,
  type JobContract,
  type JobHandler,
  type JobOutcome,
  type RpcErrorBody,
} from "../src/index.js";

// ---------------------------------------------------------------------------------------------------------------------
// The contract under test
// ---------------------------------------------------------------------------------------------------------------------

const Thumbs = defineJobs("thumbs.v1", {
  // `size` has a default: optional for the source, always present for the worker's handler.
  task: z.object({ id: z.number().int(), url: z.string(), size: z.number().int().default(128) }),
  // The result is transformed: the worker returns `{ id, bytes, tookMs }`, the sink receives `kb` as well.
  result: z
    .object({ id: z.number().int(), bytes: z.number().int(), tookMs: z.number() })
    .transform((r) => ({ ...r, kb: r.bytes / 1024 })),
});
type Thumbs = typeof Thumbs;

type TaskIn = { id: number; url: string; size?: number | undefined };
type TaskOut = { id: number; url: string; size: number };
type ResultIn = { id: number; bytes: number; tookMs: number };
type ResultOut = { id: number; bytes: number; tookMs: number; kb: number };

declare const source: PipelineSource<Thumbs>;
declare const sink: PipelineSink<Thumbs>;
declare const signal: AbortSignal;

// Contracts of the other kinds, to prove they are refused where a job contract is expected.
const Sports = defineTopics("sports.v1", { football: z.object({ team: z.string() }) });
const Greeter = defineRpc("greeter.v1", {
  hello: { request: z.object({ name: z.string() }), response: z.object({ greeting: z.string() }) },
});

// A handler that fits the contract, reused below.
const thumbnail: JobHandler<Thumbs> = async (task) => ({ id: task.id, bytes: task.size * 10, tookMs: 5 });

// ---------------------------------------------------------------------------------------------------------------------
// defineJobs and the Infer* helpers
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf(Thumbs).toExtend<JobContract>();
expectTypeOf(Thumbs.kind).toEqualTypeOf<"jobs">();
expectTypeOf(Thumbs.name).toEqualTypeOf<string>();

// The source pushes the task INPUT; the handler receives the task OUTPUT.
expectTypeOf<InferTask<Thumbs>>().toEqualTypeOf<TaskIn>();
expectTypeOf<InferHandlerTask<Thumbs>>().toEqualTypeOf<TaskOut>();
expectTypeOf<InferTask<Thumbs>>().not.toEqualTypeOf<InferHandlerTask<Thumbs>>();
// The handler returns the result INPUT; the sink receives the result OUTPUT.
expectTypeOf<InferHandlerResult<Thumbs>>().toEqualTypeOf<ResultIn>();
expectTypeOf<InferResult<Thumbs>>().toEqualTypeOf<ResultOut>();
expectTypeOf<InferHandlerResult<Thumbs>>().not.toEqualTypeOf<InferResult<Thumbs>>();

function defineJobsRejectsNonSchemas(): void {
  // @ts-expect-error the task must be a zod schema, not a plain value
  defineJobs("bad.v1", { task: { id: "number" }, result: z.object({}) });
  // @ts-expect-error a job contract needs a result schema
  defineJobs("bad.v1", { task: z.object({}) });
}
void defineJobsRejectsNonSchemas;

// The helpers only accept job contracts.
// @ts-expect-error a topic contract is not a job contract
type _TopicTask = InferTask<typeof Sports>;
// @ts-expect-error an RPC contract is not a job contract
type _RpcResult = InferResult<typeof Greeter>;

// ---------------------------------------------------------------------------------------------------------------------
// PipelineSource
// ---------------------------------------------------------------------------------------------------------------------

async function sourceTypes(): Promise<void> {
  const bound = PipelineSource.bind("tcp://127.0.0.1:0", Thumbs);
  expectTypeOf(bound).toEqualTypeOf<Promise<PipelineSource<Thumbs>>>();
  expectTypeOf(PipelineSource.connect(["inproc://a", "inproc://b"], Thumbs, { sendHighWaterMark: 10 })).toEqualTypeOf<
    Promise<PipelineSource<Thumbs>>
  >();
  expectTypeOf((await bound).contract).toEqualTypeOf<Thumbs>();

  // @ts-expect-error a topic contract is not a job contract
  await PipelineSource.bind("inproc://x", Sports);
  // @ts-expect-error an RPC contract is not a job contract
  await PipelineSource.bind("inproc://x", Greeter);
  // @ts-expect-error a topic contract is not a job contract (connect checks it too)
  await PipelineSource.connect("inproc://x", Sports);
  // @ts-expect-error lingerMs is a number
  await PipelineSource.bind("inproc://x", Thumbs, { lingerMs: "1000" });

  // push takes the task schema's INPUT: the defaulted `size` may be left out.
  expectTypeOf(source.push).parameter(0).toEqualTypeOf<TaskIn>();
  expectTypeOf(source.push({ id: 1, url: "a.png" })).toEqualTypeOf<Promise<void>>();
  await source.push({ id: 1, url: "a.png" });
  await source.push({ id: 2, url: "b.png", size: 64 });
  await source.push({ id: 3, url: "c.png" }, { timeoutMs: 1_000, signal });
  // The handler's view of a task (size present) is a valid input too.
  const parsed: TaskOut = { id: 4, url: "d.png", size: 32 };
  await source.push(parsed);

  // @ts-expect-error missing required field `url`
  await source.push({ id: 1 });
  // @ts-expect-error `id` is a number
  await source.push({ id: "1", url: "a.png" });
  // @ts-expect-error `size` is a number
  await source.push({ id: 1, url: "a.png", size: "big" });
  // @ts-expect-error excess field in an object-literal task
  await source.push({ id: 1, url: "a.png", priority: 1 });
  // @ts-expect-error a result is not a task
  await source.push({ id: 1, bytes: 10, tookMs: 1 });
  // @ts-expect-error the task is required
  await source.push();
  // @ts-expect-error timeoutMs is a number
  await source.push({ id: 1, url: "a.png" }, { timeoutMs: "1000" });

  expectTypeOf(source.waitForWorkers(3, { timeoutMs: 5_000 })).toEqualTypeOf<Promise<void>>();
}
void sourceTypes;

// ---------------------------------------------------------------------------------------------------------------------
// PipelineWorker and handlers
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf<JobHandler<Thumbs>>().parameter(0).toEqualTypeOf<TaskOut>();
expectTypeOf<JobHandler<Thumbs>>().parameter(1).toEqualTypeOf<JobContext<Thumbs>>();
expectTypeOf<JobHandler<Thumbs>>().returns.toEqualTypeOf<ResultIn | PromiseLike<ResultIn>>();
expectTypeOf<JobContext<Thumbs>["contract"]>().toEqualTypeOf<Thumbs>();
expectTypeOf<JobContext<Thumbs>["signal"]>().toEqualTypeOf<AbortSignal>();

async function workerTypes(): Promise<void> {
  const endpoints = { tasks: "inproc://tasks", results: "inproc://results" };
  const connected = PipelineWorker.connect(endpoints, Thumbs, thumbnail);
  expectTypeOf(connected).toEqualTypeOf<Promise<PipelineWorker<Thumbs>>>();
  expectTypeOf((await connected).contract).toEqualTypeOf<Thumbs>();

  // The handler receives the task schema's OUTPUT (size present) and a typed context, and returns the result
  // schema's INPUT (no `kb`), synchronously or as a promise.
  await PipelineWorker.connect(endpoints, Thumbs, (task, context) => {
    expectTypeOf(task).toEqualTypeOf<TaskOut>();
    expectTypeOf(task.size).toEqualTypeOf<number>();
    expectTypeOf(context).toEqualTypeOf<JobContext<Thumbs>>();
    expectTypeOf(context.contract).toEqualTypeOf<Thumbs>();
    expectTypeOf(context.signal).toEqualTypeOf<AbortSignal>();
    return { id: task.id, bytes: task.size, tookMs: 1 };
  });
  await PipelineWorker.connect(endpoints, Thumbs, async (task) => ({ id: task.id, bytes: 1, tookMs: 1 }), {
    concurrency: 4,
    sendFailures: false,
  });
  // Results are optional: a worker whose results go nowhere.
  await PipelineWorker.connect({ tasks: ["inproc://a", "inproc://b"] }, Thumbs, thumbnail);
  // A handler may declare a wider parameter than the task output (size optional is still fine).
  await PipelineWorker.connect(endpoints, Thumbs, (task: TaskIn) => ({ id: task.id, bytes: 1, tookMs: 1 }));

  // Wrong results.
  // @ts-expect-error the result lacks `bytes`
  await PipelineWorker.connect(endpoints, Thumbs, (task) => ({ id: task.id, tookMs: 1 }));
  // @ts-expect-error `bytes` is a number (async handler)
  await PipelineWorker.connect(endpoints, Thumbs, async (task) => ({ id: task.id, bytes: "1", tookMs: 1 }));
  // @ts-expect-error the handler returns the sink's post-transform shape without the input fields
  await PipelineWorker.connect(endpoints, Thumbs, () => ({ kb: 1 }));
  // @ts-expect-error the handler must return a result, not nothing
  await PipelineWorker.connect(endpoints, Thumbs, () => undefined);
  const badHandler = async (task: TaskOut) => ({ id: String(task.id), bytes: 1, tookMs: 1 });
  // @ts-expect-error a non-literal handler returning `id` as a string is rejected as well
  await PipelineWorker.connect(endpoints, Thumbs, badHandler);

  // Wrong task types.
  // @ts-expect-error the handler declares `id` as a string, but the task output has a number
  await PipelineWorker.connect(endpoints, Thumbs, (task: { id: string }) => ({ id: Number(task.id), bytes: 1, tookMs: 1 }));
  // @ts-expect-error the handler requires a field the task does not have
  await PipelineWorker.connect(endpoints, Thumbs, (task: TaskOut & { priority: number }) => ({
    id: task.id,
    bytes: 1,
    tookMs: 1,
  }));
  const wrongTask = (task: { url: number }) => ({ id: task.url, bytes: 1, tookMs: 1 });
  // @ts-expect-error a non-literal handler with the wrong task type is rejected as well
  await PipelineWorker.connect(endpoints, Thumbs, wrongTask);
  // @ts-expect-error a handler must be a function
  await PipelineWorker.connect(endpoints, Thumbs, { id: 1, bytes: 1, tookMs: 1 });

  // Wrong contracts and endpoints.
  // @ts-expect-error a topic contract is not a job contract
  await PipelineWorker.connect(endpoints, Sports, () => ({ id: 1 }));
  // @ts-expect-error the tasks endpoint is required
  await PipelineWorker.connect({ results: "inproc://r" }, Thumbs, thumbnail);
  // @ts-expect-error concurrency is a number
  await PipelineWorker.connect(endpoints, Thumbs, thumbnail, { concurrency: "4" });
}
void workerTypes;

// ---------------------------------------------------------------------------------------------------------------------
// PipelineSink and JobOutcome
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf<JobOutcome<Thumbs>>().toEqualTypeOf<
  | { readonly ok: true; readonly result: ResultOut; readonly taskId?: string }
  | { readonly ok: false; readonly error: RpcErrorBody; readonly taskId?: string }
>();

async function sinkTypes(): Promise<void> {
  const bound = PipelineSink.bind("tcp://127.0.0.1:0", Thumbs);
  expectTypeOf(bound).toEqualTypeOf<Promise<PipelineSink<Thumbs>>>();
  expectTypeOf(PipelineSink.connect("inproc://sink", Thumbs, { receiveHighWaterMark: 10 })).toEqualTypeOf<
    Promise<PipelineSink<Thumbs>>
  >();
  expectTypeOf((await bound).contract).toEqualTypeOf<Thumbs>();

  // @ts-expect-error a topic contract is not a job contract
  await PipelineSink.bind("inproc://x", Sports);
  // @ts-expect-error an RPC contract is not a job contract
  await PipelineSink.connect("inproc://x", Greeter);

  expectTypeOf(sink.collect(3)).toEqualTypeOf<Promise<JobOutcome<Thumbs>[]>>();
  expectTypeOf(sink.collect(3, { timeoutMs: 10_000, signal })).toEqualTypeOf<Promise<JobOutcome<Thumbs>[]>>();
  expectTypeOf(sink.receive()).toEqualTypeOf<Promise<JobOutcome<Thumbs>>>();
  expectTypeOf(sink).toExtend<AsyncIterable<JobOutcome<Thumbs>>>();
  // @ts-expect-error the count is a number
  await sink.collect("3");
  // @ts-expect-error the count is required
  await sink.collect();

  for await (const outcome of sink) {
    expectTypeOf(outcome).toEqualTypeOf<JobOutcome<Thumbs>>();
    // @ts-expect-error `result` exists only once `ok` is narrowed to true
    void outcome.result;
    if (outcome.ok) {
      // The sink receives the result schema's OUTPUT (with the transform's `kb`).
      expectTypeOf(outcome.result).toEqualTypeOf<ResultOut>();
      expectTypeOf(outcome.result.kb).toEqualTypeOf<number>();
      // @ts-expect-error a success has no `error`
      void outcome.error;
    } else {
      expectTypeOf(outcome.ok).toEqualTypeOf<false>();
      expectTypeOf(outcome.error).toEqualTypeOf<RpcErrorBody>();
      expectTypeOf(outcome.error.code).toEqualTypeOf<string>();
      expectTypeOf(outcome.error.message).toEqualTypeOf<string>();
      // @ts-expect-error a failure has no `result`
      void outcome.result;
    }
  }

  const outcomes = await sink.collect(3);
  for (const outcome of outcomes) {
    if (outcome.ok) expectTypeOf(outcome.result).toEqualTypeOf<InferResult<Thumbs>>();
    else expectTypeOf(outcome.error).toEqualTypeOf<RpcErrorBody>();
  }
  const one = await sink.receive();
  if (!one.ok) expectTypeOf(one.error.details).toEqualTypeOf<unknown>();
}
void sinkTypes;
