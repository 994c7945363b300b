/**
 * Where the RPC lockstep tail comes from: `npx tsx bench/rpc-tail.ts [calls] [--raw] [--in-flight N]` (after
 * `npm run build`; it runs against dist/).
 *
 * Starts a server in a child process (typed `RpcServer`, or with --raw a plain REP/ROUTER) and makes `calls`
 * lockstep calls from this process (typed `RpcClient`, or a plain REQ/DEALER). It records every call's start and end,
 * every GC pause of both processes (`PerformanceObserver` "gc" entries, sent back by the child over IPC) and the
 * event loop's delay (`monitorEventLoopDelay`), then prints p50/p99/p99.9, the GC figures per 10k calls, and how many
 * of the slowest 1 % of calls overlapped a GC pause in the client or in the server. Add `--cpu-prof` to node through
 * NODE_OPTIONS to profile both sides (`bench/profile.ts` summarises the profiles).
 */
import { fork } from "node:child_process";
import { PerformanceObserver, monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { RpcClient, RpcServer } from "../dist/index.js";
import { METHOD, makeMessage, replyTo, rpcContract, seqOf } from "./payloads.js";
import { percentile } from "./stats.js";

/** A GC pause, in epoch milliseconds (so that the two processes' pauses share one clock). */
interface Pause {
  readonly start: number;
  readonly end: number;
  readonly kind: number;
}

function watchGc(): Pause[] {
  const pauses: Pause[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail: unknown = Reflect.get(entry, "detail");
      const kind = typeof detail === "object" && detail !== null ? Number(Reflect.get(detail, "kind")) : 0;
      const start = performance.timeOrigin + entry.startTime;
      pauses.push({ start, end: start + entry.duration, kind });
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return pauses;
}

/** V8's GC kinds (perf_hooks constants): 1 minor (scavenge), 2 major, 4 incremental, 8 weak callbacks. */
function gcSummary(pauses: readonly Pause[], calls: number): string {
  const minor = pauses.filter((p) => p.kind === 1);
  const other = pauses.filter((p) => p.kind !== 1);
  const ms = (list: readonly Pause[]): number => list.reduce((n, p) => n + (p.end - p.start), 0);
  const per = (n: number): string => ((n / calls) * 10_000).toFixed(1);
  return (
    `${per(minor.length)} scavenges/10k calls (${ms(minor).toFixed(1)} ms in all, ` +
    `longest ${Math.max(0, ...minor.map((p) => p.end - p.start)).toFixed(2)} ms), ` +
    `${per(other.length)} other GCs/10k calls (${ms(other).toFixed(1)} ms)`
  );
}

const args = process.argv.slice(2);
const raw = args.includes("--raw");
const inFlightAt = args.indexOf("--in-flight");
const inFlight = inFlightAt >= 0 ? Number(args[inFlightAt + 1]) : 1;

async function serve(): Promise<void> {
  const pauses = watchGc();
  const contract = rpcContract("small", true);
  let close: () => Promise<void>;
  let endpoint: string;
  if (raw) {
    const socket = inFlight === 1 ? new zmq.Reply({ linger: 0 }) : new zmq.Router({ linger: 0 });
    await socket.bind("tcp://127.0.0.1:0");
    endpoint = socket.lastEndpoint!;
    const loop = (async () => {
      try {
        for (;;) {
          const frames = await socket.receive();
          const body = frames[inFlight === 1 ? 1 : 4];
          const reply = JSON.stringify(replyTo(JSON.parse(String(body))));
          await socket.send(inFlight === 1 ? ["ok", reply] : [frames[0]!, frames[1]!, "", "ok", reply]);
        }
      } catch {
        // closed
      }
    })();
    close = async () => {
      socket.close();
      await loop;
    };
  } else {
    const server = await RpcServer.bind("tcp://127.0.0.1:0", contract, { echo: (request) => replyTo(request) });
    endpoint = server.endpoint;
    close = () => server.close();
  }
  process.send!({ endpoint });
  process.once("message", () => {
    void close().then(() => process.send!({ pauses }, () => process.exit(0)));
  });
}

async function drive(): Promise<void> {
  const calls = Number(args.find((a) => /^\d+$/.test(a)) ?? 20_000);
  const child = fork(fileURLToPath(import.meta.url), ["--serve", ...args], {
    execArgv: ["--import", "tsx", ...process.execArgv.filter((a) => a.startsWith("--cpu-prof"))],
  });
  const endpoint = await new Promise<string>((resolve) =>
    child.once("message", (m: unknown) => resolve(String(Reflect.get(m as object, "endpoint")))),
  );
  const contract = rpcContract("small", true);
  let call: (seq: number) => Promise<void>;
  let close: () => Promise<void>;
  if (raw) {
    const socket = inFlight === 1 ? new zmq.Request({ linger: 0 }) : new zmq.Dealer({ linger: 0 });
    socket.connect(endpoint);
    if (inFlight !== 1) throw new Error("--raw drives lockstep only (REQ); the bench itself covers raw DEALER windows");
    call = async (seq) => {
      await socket.send([METHOD, JSON.stringify(makeMessage("small", seq))]);
      const [, body] = await socket.receive();
      if (seqOf(JSON.parse(String(body))) !== seq) throw new Error("wrong reply");
    };
    close = () => {
      socket.close();
      return Promise.resolve();
    };
  } else {
    const client = await RpcClient.connect(endpoint, contract, { timeoutMs: 30_000 });
    call = async (seq) => {
      const reply = await client.call(METHOD, makeMessage("small", seq));
      if (seqOf(reply) !== seq) throw new Error("wrong reply");
    };
    close = () => client.close();
  }
  for (let i = 0; i < 2_000; i++) await call(i);
  const pauses = watchGc();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const elu = performance.eventLoopUtilization();
  const starts = new Float64Array(calls);
  const ends = new Float64Array(calls);
  const origin = performance.timeOrigin;
  const started = performance.now();
  if (inFlight === 1) {
    for (let i = 0; i < calls; i++) {
      starts[i] = performance.now();
      await call(i);
      ends[i] = performance.now();
    }
  } else {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < calls) {
        const i = next++;
        starts[i] = performance.now();
        await call(i);
        ends[i] = performance.now();
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
  }
  const elapsedMs = performance.now() - started;
  const utilisation = performance.eventLoopUtilization(elu).utilization;
  loopDelay.disable();
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the observer deliver the last entries
  await close();
  child.send("stop");
  const serverPauses = await new Promise<Pause[]>((resolve) =>
    child.on("message", (m: unknown) => {
      const list: unknown = Reflect.get(m as object, "pauses");
      if (Array.isArray(list)) resolve(list as Pause[]);
    }),
  );
  const latencies = Float64Array.from(ends, (end, i) => (end - starts[i]!) * 1000);
  const sorted = Float64Array.from(latencies).sort();
  const p99 = percentile(sorted, 99);
  // The slowest 1 %: did a GC pause (client or server) overlap the call?
  const slow: number[] = [];
  latencies.forEach((us, i) => {
    if (us >= p99) slow.push(i);
  });
  const overlaps = (list: readonly Pause[], i: number): boolean => {
    const a = origin + starts[i]!;
    const b = origin + ends[i]!;
    return list.some((p) => p.start < b && p.end > a);
  };
  const byClient = slow.filter((i) => overlaps(pauses, i)).length;
  const byServer = slow.filter((i) => overlaps(serverPauses, i)).length;
  const byEither = slow.filter((i) => overlaps(pauses, i) || overlaps(serverPauses, i)).length;
  const all = Array.from(latencies.keys());
  const gcCalls = all.filter((i) => overlaps(pauses, i) || overlaps(serverPauses, i)).length;
  console.log(`${raw ? "raw" : "typed"} rpc tcp, ${inFlight} in flight, ${calls} calls in ${elapsedMs.toFixed(0)} ms`);
  console.log(
    `  latency p50 ${percentile(sorted, 50).toFixed(0)} µs, p99 ${p99.toFixed(0)} µs, p99.9 ${percentile(sorted, 99.9).toFixed(0)} µs, ` +
      `max ${sorted[sorted.length - 1]!.toFixed(0)} µs; ${((calls / elapsedMs) * 1000).toFixed(0)} calls/s`,
  );
  console.log(`  client: ${gcSummary(pauses, calls)}`);
  console.log(`  server: ${gcSummary(serverPauses, calls)}`);
  console.log(
    `  client event loop: utilisation ${(utilisation * 100).toFixed(0)} %, delay p99 ${(loopDelay.percentile(99) / 1000).toFixed(0)} µs, ` +
      `max ${(loopDelay.max / 1000).toFixed(0)} µs`,
  );
  console.log(
    `  slowest 1 % (${slow.length} calls ≥ p99): ${byEither} overlapped a GC pause (client ${byClient}, server ${byServer}); ` +
      `${((gcCalls / calls) * 100).toFixed(1)} % of all calls overlapped one`,
  );
}

if (args.includes("--serve")) await serve();
else await drive();
