/**
 * What a validator costs: `npm run build && npx tsx bench/validators.ts [--quick]`.
 *
 * Three contracts with the same message shape (the bench's small 48-byte message): zod 4 (synchronous, the fast
 * path), valibot (synchronous, through `~standard.validate`) and valibot with an asynchronous check
 * (`v.pipeAsync` + `v.checkAsync` that resolves at once), so the difference is the asynchronous path itself: a
 * promise per check and the order-keeping queue. Measured in the same run, alternating, median of the repetitions:
 *   1. the check alone (internal/validator.ts), ns per message;
 *   2. typed RPC over tcp, client and server in this process, 100 calls in flight, calls/s (every call is
 *      checked four times: request and reply, on both sides);
 *   3. typed pub/sub over tcp (noDrop), publisher and subscriber in this process, msg/s (checked twice).
 * Prints a markdown table. The figures in the README's "Other validators (Standard Schema)" section come from it.
 */
import * as v from "valibot";
import * as z from "zod";
import { Publisher, RpcClient, RpcServer, Subscriber, defineRpc, defineTopics } from "../dist/index.js";
import { validatorOf } from "../dist/internal/validator.js";

const quick = process.argv.includes("--quick");
const REPETITIONS = quick ? 3 : 5;
const CHECKS = quick ? 200_000 : 1_000_000;
const CALLS = quick ? 5_000 : 20_000;
const MESSAGES = quick ? 20_000 : 60_000;
const IN_FLIGHT = 100;

const message = { seq: 1, sym: "ABCD", px: 101.25, qty: 300 };

const zodSchema = z.object({
  seq: z.number().int(),
  sym: z.string().min(1).max(8),
  px: z.number().nonnegative(),
  qty: z.number().int().nonnegative(),
});
const valibotEntries = {
  seq: v.pipe(v.number(), v.integer()),
  sym: v.pipe(v.string(), v.minLength(1), v.maxLength(8)),
  px: v.pipe(v.number(), v.minValue(0)),
  qty: v.pipe(v.number(), v.integer(), v.minValue(0)),
};
const valibotSchema = v.object(valibotEntries);
const valibotAsync = v.pipeAsync(
  v.object(valibotEntries),
  v.checkAsync((m) => Promise.resolve(m.seq >= -1), "seq must be >= -1"),
);

const variants = [
  { name: "zod (sync)", schema: zodSchema },
  { name: "valibot (sync)", schema: valibotSchema },
  { name: "valibot (async check)", schema: valibotAsync },
] as const;

type Schema = (typeof variants)[number]["schema"];

async function checkAlone(schema: Schema): Promise<number> {
  const validate = validatorOf(schema);
  const started = process.hrtime.bigint();
  for (let i = 0; i < CHECKS; i++) {
    const result = validate(message);
    const done = result instanceof Promise ? await result : result;
    if (!done.ok) throw new Error("the bench message failed its schema");
  }
  return Number(process.hrtime.bigint() - started) / CHECKS; // ns per check
}

async function rpc(schema: Schema): Promise<number> {
  const contract = defineRpc("bench.validators.v1", { echo: { request: schema, response: schema } });
  await using server = await RpcServer.bind("tcp://127.0.0.1:0", contract, { echo: (m) => m }, { concurrency: IN_FLIGHT });
  await using client = await RpcClient.connect(server.endpoint, contract, { timeoutMs: 10_000 });
  await client.call("echo", message);
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < CALLS) {
      next++;
      await client.call("echo", message);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return CALLS / ((performance.now() - started) / 1000);
}

async function pubsub(schema: Schema): Promise<number> {
  const contract = defineTopics("bench.validators.topics.v1", { tick: schema });
  await using pub = await Publisher.bind("tcp://127.0.0.1:0", contract, { noDrop: true });
  await using sub = await Subscriber.connect(pub.endpoint, contract, { topics: ["tick"] });
  await pub.waitForSubscribers(1, { timeoutMs: 5_000 });
  const started = performance.now();
  const received = (async () => {
    let count = 0;
    for await (const _ of sub) if (++count === MESSAGES) break;
  })();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    sends.push(pub.publish("tick", message));
    if (sends.length === 500) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  await received;
  return MESSAGES / ((performance.now() - started) / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const measures = [
  { title: "check alone", unit: "ns/msg", run: checkAlone, digits: 0 },
  { title: "rpc tcp 100 in flight", unit: "calls/s", run: rpc, digits: -3 },
  { title: "pub/sub tcp noDrop", unit: "msg/s", run: pubsub, digits: -3 },
] as const;

const rows: string[] = [];
for (const measure of measures) {
  const samples = variants.map(() => [] as number[]);
  for (const variant of variants) await measure.run(variant.schema); // warm-up, unmeasured
  for (let r = 0; r < REPETITIONS; r++) {
    for (const [i, variant] of variants.entries()) samples[i]!.push(await measure.run(variant.schema));
  }
  const medians = samples.map(median);
  const show = (x: number): string => (measure.digits < 0 ? `${Math.round(x / 1000)}k` : x.toFixed(measure.digits));
  const ratio = (x: number): string => (measure.unit === "ns/msg" ? medians[0]! / x : x / medians[0]!).toFixed(2);
  rows.push(`| ${measure.title} | ${measure.unit} | ${medians.map((m) => `${show(m)} (${ratio(m)})`).join(" | ")} |`);
}
console.log(`| measure | unit | ${variants.map((v) => v.name).join(" | ")} |`);
console.log(`| --- | --- | ${variants.map(() => "---").join(" | ")} |`);
for (const row of rows) console.log(row);
console.log(`\n(ratio to zod in brackets; ${REPETITIONS} repetitions, median; Node ${process.version})`);
