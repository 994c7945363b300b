/**
 * Where the time of one unbatched typed message goes: `npm run build && npx tsx bench/unbatched.ts [--quick]`.
 *
 * Measures, in this one process, alternating over several repetitions (median, and min–max), for the bench's small
 * (48 B) and 1 KiB messages (bench/payloads.ts):
 *   - the steps a typed message takes, one by one: validate (the zod check through internal/validator.ts), encode
 *     (jsonCodec: JSON.stringify + Buffer.from), decode (jsonCodec: the UTF-8 check and JSON.parse), and the UTF-8
 *     step alone in its two forms (a fatal TextDecoder, as the library uses, and `buffer.isUtf8` + `toString`);
 *   - the send side whole: `await send([topic, body])` on a raw zeromq.js PUB with no subscriber (what libzmq and
 *     N-API cost; nothing is delivered), against a typed `Publisher.publish()` on the same kind of socket, with and
 *     without `validateOutgoing: false`.
 * Prints a markdown table in ns per message. The receive side's split (socket receive, read loop, parse) comes from a
 * CPU profile of the real bench:
 *   npx tsx bench/run.ts --quick --typed-only --only "pub/sub tcp small" --cpu-prof-dir <dir>
 *   npx tsx bench/profile.ts <dir>
 */
import { isUtf8 } from "node:buffer";
import * as zmq from "zeromq";
import { Publisher, jsonCodec } from "../dist/index.js";
import { validatorOf } from "../dist/internal/validator.js";
import { TOPIC, makeMessage, topicContract } from "./payloads.js";
import type { PayloadKind } from "./protocol.js";

const quick = process.argv.includes("--quick");
const REPETITIONS = quick ? 3 : 7;
const STEPS = quick ? 100_000 : 400_000;
const SENDS = quick ? 20_000 : 100_000;

const fatal = new TextDecoder("utf-8", { fatal: true });

interface Measure {
  readonly name: string;
  /** Runs `n` messages; resolves with ns per message. */
  readonly run: (n: number) => number | Promise<number>;
  readonly n: number;
}

function timed(n: number, each: (i: number) => unknown): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (each(i) !== undefined) sink++;
  const ns = Number(process.hrtime.bigint() - started) / n;
  if (sink < 0) console.log(sink);
  return ns;
}

async function timedAsync(n: number, each: (i: number) => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await each(i);
  return Number(process.hrtime.bigint() - started) / n;
}

async function measuresFor(kind: PayloadKind): Promise<{ measures: Measure[]; close: () => Promise<void> }> {
  const contract = topicContract(kind, true);
  const validate = validatorOf(contract.topics.bench);
  const messages = Array.from({ length: 1024 }, (_, i) => makeMessage(kind, i));
  const bodies = messages.map((m) => Buffer.from(JSON.stringify(m)));
  const texts = bodies.map((b) => b.toString("utf8"));
  const topic = Buffer.from(TOPIC);
  const raw = new zmq.Publisher({ linger: 0 });
  await raw.bind("tcp://127.0.0.1:*");
  const typed = await Publisher.bind("tcp://127.0.0.1:0", contract, { lingerMs: 0 });
  const unchecked = await Publisher.bind("tcp://127.0.0.1:0", contract, { lingerMs: 0, validateOutgoing: false });
  const pick = <T>(list: readonly T[], i: number): T => list[i & 1023]!;
  const measures: Measure[] = [
    { name: "validate (zod via validatorOf)", n: STEPS, run: (n) => timed(n, (i) => validate(pick(messages, i))) },
    { name: "encode (jsonCodec.encode)", n: STEPS, run: (n) => timed(n, (i) => jsonCodec.encode(pick(messages, i))) },
    {
      name: "decode (jsonCodec.decode: UTF-8 + JSON.parse)",
      n: STEPS,
      run: (n) => timed(n, (i) => jsonCodec.decode(pick(bodies, i))),
    },
    { name: "JSON.parse of the text alone", n: STEPS, run: (n) => timed(n, (i) => JSON.parse(pick(texts, i)) as unknown) },
    { name: "UTF-8: fatal TextDecoder.decode", n: STEPS, run: (n) => timed(n, (i) => fatal.decode(pick(bodies, i))) },
    {
      name: "UTF-8: buffer.isUtf8 + toString",
      n: STEPS,
      run: (n) =>
        timed(n, (i) => {
          const body = pick(bodies, i);
          if (!isUtf8(body)) throw new Error("not UTF-8");
          return body.toString("utf8");
        }),
    },
    {
      name: "send: raw zeromq.js PUB, await send([topic, JSON body])",
      n: SENDS,
      run: (n) => timedAsync(n, (i) => raw.send([topic, Buffer.from(JSON.stringify(pick(messages, i)))])),
    },
    {
      name: "send: typed Publisher.publish()",
      n: SENDS,
      run: (n) => timedAsync(n, (i) => typed.publish(TOPIC, pick(messages, i))),
    },
    {
      name: "send: typed Publisher.publish(), validateOutgoing: false",
      n: SENDS,
      run: (n) => timedAsync(n, (i) => unchecked.publish(TOPIC, pick(messages, i))),
    },
  ];
  return {
    measures,
    close: async () => {
      raw.close();
      await typed.close();
      await unchecked.close();
    },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const rows: string[] = ["| step | small (48 B), ns/msg | 1 KiB, ns/msg |", "| --- | ---: | ---: |"];
const results = new Map<string, string[]>();
for (const kind of ["small", "1k"] as const) {
  const { measures, close } = await measuresFor(kind);
  for (const m of measures) await m.run(Math.round(m.n / 10)); // warm-up
  const samples = new Map<string, number[]>(measures.map((m) => [m.name, []]));
  for (let r = 0; r < REPETITIONS; r++) {
    for (const m of measures) samples.get(m.name)!.push(await m.run(m.n));
  }
  for (const m of measures) {
    const s = samples.get(m.name)!;
    const cell = `${median(s).toFixed(0)} (${Math.min(...s).toFixed(0)}–${Math.max(...s).toFixed(0)})`;
    results.set(m.name, [...(results.get(m.name) ?? []), cell]);
  }
  await close();
}
for (const [name, cells] of results) rows.push(`| ${name} | ${cells.join(" | ")} |`);
console.log(rows.join("\n"));
