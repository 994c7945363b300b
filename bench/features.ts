/**
 * Which of the options being added to Publisher (`noDrop`, `batch`, `flush()`) and PipelineSource (`batch`,
 * `flush()`) the library in src/ supports right now, checked at run time so the bench works before and after.
 * Unknown options are ignored by the factories, so `noDrop` is probed by behaviour: with a high-water mark of 1 and a
 * subscriber that never reads, a lossless publisher holds publishes back while a lossy one settles them all.
 * Likewise the Majordomo broker: a client with `{ service }` must reach the worker of that service and not another.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as zmq from "zeromq";
import * as z from "zod";
import {
  PipelineSource,
  Publisher,
  RpcBroker,
  RpcClient,
  RpcServer,
  RemoteCallError,
  defineRpc,
  type PipelineSourceOptions,
  type PublisherOptions,
  type RpcClientOptions,
  type RpcServerOptions,
  type WaitOptions,
} from "../dist/index.js";
import { TOPIC, jobContract, makeMessage, topicContract } from "./payloads.js";
import type { BrokerMode, Features } from "./protocol.js";
import {
  BATCH,
  serverCurve,
  type FutureCurveOption,
  type FuturePublisherOptions,
  type FutureServiceOption,
  type FutureSourceOptions,
} from "./cases/common.js";

function describe(err: unknown): string {
  return err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
}

async function probeNoDrop(notes: string[]): Promise<boolean> {
  const endpoint = `inproc://bench-probe-${randomUUID()}`;
  const options: PublisherOptions & FuturePublisherOptions = { noDrop: true, sendHighWaterMark: 1, lingerMs: 0 };
  let pub: Publisher<ReturnType<typeof topicContract>>;
  try {
    pub = await Publisher.bind(endpoint, topicContract("small", true), options);
  } catch (err) {
    notes.push(`Publisher refuses { noDrop: true }: ${describe(err)}`);
    return false;
  }
  const sub = new zmq.Subscriber({ receiveHighWaterMark: 1, linger: 0 });
  try {
    sub.connect(endpoint);
    sub.subscribe("");
    await pub.waitForSubscribers(1, { timeoutMs: 2_000 });
    const total = 200;
    let settled = 0;
    for (let i = 0; i < total; i++) {
      pub.publish(TOPIC, makeMessage("small", i)).then(
        () => settled++,
        () => settled++,
      );
    }
    await sleep(150);
    return settled < total;
  } finally {
    sub.close();
    await pub.close();
  }
}

async function probePublisherBatch(notes: string[]): Promise<boolean> {
  if (typeof Reflect.get(Publisher.prototype, "flush") !== "function") {
    notes.push("Publisher has no flush() yet: the batched pub/sub case is skipped.");
    return false;
  }
  const options: PublisherOptions & FuturePublisherOptions = { noDrop: true, batch: BATCH };
  try {
    const pub = await Publisher.bind(`inproc://bench-probe-${randomUUID()}`, topicContract("small", true), options);
    await pub.close();
    return true;
  } catch (err) {
    notes.push(`Publisher refuses { batch }: ${describe(err)}; the batched pub/sub case is skipped.`);
    return false;
  }
}

async function probeSourceBatch(notes: string[]): Promise<boolean> {
  if (typeof Reflect.get(PipelineSource.prototype, "flush") !== "function") {
    notes.push("PipelineSource has no flush() yet: the batched push/pull case is skipped.");
    return false;
  }
  const options: PipelineSourceOptions & FutureSourceOptions = { batch: BATCH };
  try {
    const source = await PipelineSource.bind(`inproc://bench-probe-${randomUUID()}`, jobContract("small", true), options);
    await source.close();
    return true;
  } catch (err) {
    notes.push(`PipelineSource refuses { batch }: ${describe(err)}; the batched push/pull case is skipped.`);
    return false;
  }
}

const ProbeContract = defineRpc("bench.probe.v1", { which: { request: z.null(), response: z.string() } });

/**
 * `v1` when RpcBroker has no `services()` (the broker before Majordomo). Otherwise two workers register for two
 * services: `mdp` when both are admitted and a client with `{ service }` reaches the one it names; `mdp-worker` when
 * both are admitted but the client's requests name no service (it has no MDP mode yet); `none` when not admitted.
 */
async function probeBroker(notes: string[]): Promise<BrokerMode> {
  if (typeof Reflect.get(RpcBroker.prototype, "services") !== "function") {
    notes.push(
      "RpcBroker has no services() yet (the broker before Majordomo): the broker-hop rows go through it without { service }.",
    );
    return "v1";
  }
  const id = randomUUID();
  const broker = await RpcBroker.bind({
    frontend: `inproc://bench-probe-front-${id}`,
    backend: `inproc://bench-probe-back-${id}`,
  });
  const closers: (() => Promise<void>)[] = [() => broker.close()];
  try {
    for (const service of ["bench.probe.a", "bench.probe.b"]) {
      const options: RpcServerOptions & FutureServiceOption = { service };
      const worker = await RpcServer.connect(broker.backend, ProbeContract, { which: () => service }, options);
      closers.unshift(() => worker.close());
      const wait: WaitOptions & FutureServiceOption = { service, timeoutMs: 3_000 };
      await broker.waitForServers(1, wait);
    }
    const options: RpcClientOptions & FutureServiceOption = { service: "bench.probe.b", timeoutMs: 3_000 };
    const client = await RpcClient.connect(broker.frontend, ProbeContract, options);
    closers.unshift(() => client.close());
    const answer = await client.call("which", null).catch((err: unknown) => {
      // Both services have a worker, so "no worker for the service" means the request named none: a v1 client.
      if (err instanceof RemoteCallError && err.code === "SERVICE_UNAVAILABLE") return undefined;
      throw err;
    });
    if (answer === undefined) {
      notes.push(
        "RpcClient has no { service } (MDP) mode yet: in the broker-hop rows its plain v1 requests reach the broker's only service.",
      );
      return "mdp-worker";
    }
    if (answer === "bench.probe.b") return "mdp";
    notes.push(`broker-hop rows skipped: a client with { service: "bench.probe.b" } reached the worker of ${answer}.`);
    return "none";
  } catch (err) {
    notes.push(
      `broker-hop rows skipped: a typed worker and client cannot meet through RpcBroker with { service }: ${describe(err)}`,
    );
    return "none";
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

/**
 * True when RpcServer takes the `curve` option for real: a raw zeromq.js DEALER set up as a CURVE client (its own
 * keys, the server's public key) gets an answer. A server that ignored the option would speak NULL, the handshake
 * would fail and nothing would come back.
 */
async function probeCurve(notes: string[]): Promise<boolean> {
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  const keys = {
    serverPublic: server.publicKey,
    serverSecret: server.secretKey,
    clientPublic: client.publicKey,
    clientSecret: client.secretKey,
  };
  const options: RpcServerOptions & FutureCurveOption = serverCurve(keys);
  let rpc: RpcServer<typeof ProbeContract>;
  try {
    rpc = await RpcServer.bind("tcp://127.0.0.1:0", ProbeContract, { which: () => "curve" }, options);
  } catch (err) {
    notes.push(`RpcServer refuses { curve }: ${describe(err)}; the curve-cost rows are skipped.`);
    return false;
  }
  const dealer = new zmq.Dealer({
    linger: 0,
    curveServerKey: server.publicKey,
    curvePublicKey: client.publicKey,
    curveSecretKey: client.secretKey,
    receiveTimeout: 2_000,
  });
  try {
    dealer.connect(rpc.endpoint);
    await dealer.send(["", "which", "null"]);
    const [, status] = await dealer.receive();
    return status?.toString() === "ok";
  } catch {
    notes.push("RpcServer has no curve option yet (a CURVE client got no answer): the curve-cost rows are skipped.");
    return false;
  } finally {
    dealer.close();
    await rpc.close();
  }
}

export async function probeFeatures(): Promise<Features> {
  const notes: string[] = [];
  const publisherNoDrop = await probeNoDrop(notes);
  if (!publisherNoDrop) {
    notes.push(
      "Publisher does not honour noDrop yet: to stay lossless, typed and raw publishers use sendHighWaterMark = count + 16 " +
        "(raw still sets noDrop and retries on EAGAIN).",
    );
  }
  const publisherBatch = await probePublisherBatch(notes);
  const sourceBatch = await probeSourceBatch(notes);
  const broker = await probeBroker(notes);
  const curve = await probeCurve(notes);
  return { publisherNoDrop, publisherBatch, sourceBatch, broker, curve, notes };
}
