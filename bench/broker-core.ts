/**
 * The reliable pipeline broker's pure core (`src/internal/queue-broker.ts`) alone, in one process, without sockets:
 * a batch worker (credit 256) and a sink (window 4096) registered, then rounds of PUSH 256 tasks → commit → flush
 * (one batch REQUEST) → the batch REPLY → commit → flush (RESULTS) → TAKEN, every message parsed from its frames as
 * the broker's sockets deliver them. Prints µs of CPU per task: the broker's bookkeeping and framing, apart from its
 * sockets and from the other processes of the end-to-end bench.
 *
 *   npx tsx bench/broker-core.ts [rounds]        (add --cpu-prof to node for a profile)
 */
import { QueueBroker } from "../src/internal/queue-broker.js";
import {
  encodePush,
  encodeFetch,
  encodeTaken,
  encodeTaskBatchReply,
  parseTask,
  OutcomeStatus,
  parseQueueBrokerMessage,
} from "../src/protocol/queue.js";
import { encodeReady } from "../src/protocol/mdp.js";

const BATCH = 256;
const rounds = Number(process.argv[2] ?? "2000");
const broker = new QueueBroker(
  { leaseMs: 30_000, maxDeliveries: 5, heartbeatMs: 2_500, liveness: 3, maxTasks: 1_000_000, maxBatch: BATCH, durable: false },
  7,
);
const source = Buffer.from("source-1");
const worker = Buffer.from("worker-1");
const sink = Buffer.from("sink-1");
const body = Buffer.from(JSON.stringify({ seq: 123456, name: "task", payload: "x".repeat(20) }));
const resultBody = Buffer.from(JSON.stringify({ seq: 123456, ok: true }));
const prefix = "a1b2c3d4-";
let now = 1_000;
let counter = 0;

function frames(parts: readonly Uint8Array[]): Buffer[] {
  // As zeromq.js delivers them: separate Buffers (copies, so that nothing shares the encoder's memory).
  return parts.map((p) => Buffer.from(p));
}

broker.fromWorker(frames([worker, ...encodeReady("jobs", BATCH, true)]), now);
broker.fromClient(frames([sink, ...encodeFetch("jobs", 4096)]), now);
broker.flush(now);

let sentToWorker: Buffer[] | undefined;
let sentToSink: Buffer[] | undefined;
let accepted = 0;
function perform(actions: ReturnType<QueueBroker["flush"]>): void {
  for (const a of actions) {
    if (a.kind === "to-worker") sentToWorker = frames(a.frames);
    else if (a.kind === "to-client") {
      const f = frames(a.frames);
      const m = parseQueueBrokerMessage(f.slice(1));
      if (m.kind === "accepted") accepted += m.ids.length;
      else if (m.kind === "results") sentToSink = f;
    }
  }
}

function round(): void {
  const ids: string[] = [];
  const bodies: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) {
    ids.push(`${prefix}${++counter}`);
    bodies.push(body);
  }
  perform(broker.fromClient(frames([source, ...encodePush("jobs", ids, bodies)]), now));
  broker.takeBatch();
  perform(broker.committed());
  perform(broker.flush(now));
  // The worker answers the REQUEST: [worker, "", MDPW01, REQUEST, client, "", ...body]
  const request = sentToWorker!;
  const client = request[4]!;
  const task = parseTask(request.slice(6));
  if (task.kind !== "batch") throw new Error(`expected a batch, got ${task.kind}`);
  const outcomes = task.tasks.map(() => ({ status: OutcomeStatus.OK, body: resultBody }));
  const reply = [
    worker,
    Buffer.alloc(0),
    Buffer.from("MDPW01"),
    Buffer.from([3]),
    client,
    Buffer.alloc(0),
    ...encodeTaskBatchReply(
      task.tasks.map((t) => t.id),
      outcomes,
    ),
  ];
  perform(broker.fromWorker(frames(reply), now));
  broker.takeBatch();
  perform(broker.committed());
  perform(broker.flush(now));
  const results = parseQueueBrokerMessage(sentToSink!.slice(1));
  if (results.kind !== "results") throw new Error("expected RESULTS");
  perform(broker.fromClient(frames([sink, ...encodeTaken("jobs", results.ids)]), now));
  now += 1;
}

for (let i = 0; i < 200; i++) round(); // warm-up
const start = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < rounds; i++) round();
const used = process.cpuUsage(start);
const tasks = rounds * BATCH;
const { taken, completed } = broker.stats;
console.log(
  `${tasks} tasks: ${((used.user + used.system) / tasks).toFixed(2)} µs CPU per task (${(((performance.now() - t0) * 1000) / tasks).toFixed(2)} µs wall), completed ${completed}, taken ${taken}, accepted ${accepted}`,
);
