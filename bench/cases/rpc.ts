/**
 * Request-reply roles. `server` binds an RpcServer (raw: REP for lockstep runs, ROUTER for runs with calls in
 * flight), or with `via: "broker"` connects it to a broker's backend as a worker. `client` connects an RpcClient
 * (raw: REQ in lockstep, DEALER with a window of calls in flight) to the server or to the broker's frontend, makes a
 * few unmeasured warm-up calls, then `count` measured calls; in lockstep it records each call's latency. A typed
 * client with `spec.batch` is created with `batch: true` (the warm-up calls also negotiate it). `broker`
 * binds an RpcBroker; its run waits until a worker is admitted.
 */
import * as zmq from "zeromq";
import { RpcBroker, RpcClient, RpcServer } from "../../dist/index.js";
import type { RpcClientOptions, RpcServerOptions, WaitOptions } from "../../dist/index.js";
import { METHOD, codecFor, makeMessage, replyTo, rpcContract, seqOf } from "../payloads.js";
import type { RoleSpec, RunResult } from "../protocol.js";
import { percentile } from "../stats.js";
import {
  RssProbe,
  clientCurve,
  now,
  serveRaw,
  serverCurve,
  serviceOption,
  withRss,
  type FutureCurveOption,
  type FutureServiceOption,
  type RoleHandle,
} from "./common.js";

const WARMUP_CALLS = 200;

export async function openServer(spec: RoleSpec): Promise<RoleHandle> {
  if (spec.impl === "typed") return openTypedServer(spec);
  return spec.inFlight === 1 ? openRawRep(spec) : openRawRouter(spec);
}

export async function openClient(spec: RoleSpec): Promise<RoleHandle> {
  if (spec.impl === "typed") return openTypedClient(spec);
  return spec.inFlight === 1 ? openRawReq(spec) : openRawDealer(spec);
}

function passive(endpoint: string, probe: RssProbe, close: () => Promise<void>): RoleHandle {
  return {
    endpoint,
    run: () => Promise.resolve({ count: 0, elapsedMs: 0, endSeen: true }),
    async close() {
      const result = withRss({}, probe);
      await close();
      return result;
    },
  };
}

async function openTypedServer(spec: RoleSpec): Promise<RoleHandle> {
  const probe = new RssProbe(spec.soakWarmup);
  let handled = 0;
  const handlers = {
    echo: (request: unknown) => {
      probe.tick(++handled);
      return replyTo(request);
    },
  };
  const contract = rpcContract(spec.payload, spec.validate);
  const options: RpcServerOptions & FutureServiceOption & FutureCurveOption = {
    codec: codecFor(spec.codec),
    ...serviceOption(spec.service),
    ...(spec.via === "broker" ? clientCurve(spec.curve) : serverCurve(spec.curve)),
    ...(spec.validateOutgoing === false ? { validateOutgoing: false } : {}),
  };
  const server =
    spec.via === "broker"
      ? await RpcServer.connect(spec.endpoint, contract, handlers, options)
      : await RpcServer.bind(spec.endpoint, contract, handlers, options);
  return passive(spec.via === "broker" ? spec.endpoint : server.endpoint, probe, () => server.close());
}

export async function openBroker(spec: RoleSpec): Promise<RoleHandle> {
  const broker = await RpcBroker.bind(
    { frontend: spec.endpoint, backend: spec.backend ?? spec.endpoint },
    { codec: codecFor(spec.codec) },
  );
  const wait: WaitOptions & FutureServiceOption = { timeoutMs: 15_000, ...serviceOption(spec.service) };
  return {
    endpoint: broker.frontend,
    backend: broker.backend,
    async run(): Promise<RunResult> {
      await broker.waitForServers(1, wait);
      return { count: 0, elapsedMs: 0, endSeen: true };
    },
    async close() {
      await broker.close();
      return {};
    },
  };
}

async function openRawRep(spec: RoleSpec): Promise<RoleHandle> {
  const socket = new zmq.Reply({ linger: 0 });
  await socket.bind(spec.endpoint);
  const probe = new RssProbe(spec.soakWarmup);
  const loop = serveRaw(socket, probe, (frames) => {
    // [method, body, headers?]: the headers frame of protocol 1.1, if a client sends one, is not read.
    const body = frames[1];
    const request: unknown = body === undefined ? undefined : JSON.parse(body.toString());
    return ["ok", JSON.stringify(replyTo(request))];
  });
  return passive(socket.lastEndpoint ?? spec.endpoint, probe, async () => {
    socket.close();
    await loop;
  });
}

async function openRawRouter(spec: RoleSpec): Promise<RoleHandle> {
  const socket = new zmq.Router({ linger: 0 });
  await socket.bind(spec.endpoint);
  const probe = new RssProbe(spec.soakWarmup);
  const loop = serveRaw(socket, probe, (frames) => {
    // [routing id, correlation id, "", method, body, headers?], as the typed client sends it; the protocol 1.1
    // headers frame after the body (the typed client sends one by default) is not read.
    const [routingId, correlationId, delimiter, , body] = frames;
    if (routingId === undefined || correlationId === undefined || delimiter === undefined || body === undefined) return undefined;
    const request: unknown = JSON.parse(body.toString());
    return [routingId, correlationId, delimiter, "ok", JSON.stringify(replyTo(request))];
  });
  return passive(socket.lastEndpoint ?? spec.endpoint, probe, async () => {
    socket.close();
    await loop;
  });
}

function latencyResult(latenciesUs: Float64Array, elapsedMs: number, probe: RssProbe): RunResult {
  const sorted = Float64Array.from(latenciesUs).sort();
  return withRss(
    { count: latenciesUs.length, elapsedMs, endSeen: true, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) },
    probe,
  );
}

/**
 * Drives an RPC client role: warm-up calls, then `spec.count` calls, lockstep (latency of each) when
 * `spec.inFlight` is 1, else that many lanes at once (throughput). Shared by every implementation's client role.
 */
export async function driveCalls(spec: RoleSpec, call: (seq: number) => Promise<void>, probe: RssProbe): Promise<RunResult> {
  for (let i = 0; i < WARMUP_CALLS; i++) await call(i);
  if (spec.inFlight === 1) {
    const latencies = new Float64Array(spec.count);
    const started = now();
    for (let i = 0; i < spec.count; i++) {
      const t = now();
      await call(i);
      latencies[i] = (now() - t) * 1000;
      probe.tick(i + 1);
    }
    return latencyResult(latencies, now() - started, probe);
  }
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < spec.count) {
      await call(next++);
      probe.tick(++done);
    }
  };
  const started = now();
  await Promise.all(Array.from({ length: spec.inFlight }, lane));
  return withRss({ count: done, elapsedMs: now() - started, endSeen: true }, probe);
}

async function openTypedClient(spec: RoleSpec): Promise<RoleHandle> {
  const options: RpcClientOptions & FutureServiceOption & FutureCurveOption = {
    codec: codecFor(spec.codec),
    ...clientCurve(spec.curve),
    timeoutMs: 30_000,
    ...(spec.headers === undefined ? {} : { headers: spec.headers }),
    ...serviceOption(spec.clientService),
    ...(spec.validateOutgoing === false ? { validateOutgoing: false } : {}),
    // Opt-in call batching (protocol 1.4); the server batches its replies to a batching client by itself.
    ...(spec.batch ? { batch: true } : {}),
  };
  const client = await RpcClient.connect(spec.endpoint, rpcContract(spec.payload, spec.validate), options);
  const probe = new RssProbe(spec.soakWarmup);
  const call = async (seq: number): Promise<void> => {
    const reply = await client.call(METHOD, makeMessage(spec.payload, seq));
    if (seqOf(reply) !== seq) throw new Error(`reply for call ${seq} carries seq ${seqOf(reply)}`);
  };
  return {
    endpoint: spec.endpoint,
    run: () => driveCalls(spec, call, probe),
    async close() {
      await client.close();
      return {};
    },
  };
}

async function openRawReq(spec: RoleSpec): Promise<RoleHandle> {
  const socket = new zmq.Request({ linger: 0 });
  socket.connect(spec.endpoint);
  const probe = new RssProbe(spec.soakWarmup);
  const call = async (seq: number): Promise<void> => {
    await socket.send([METHOD, JSON.stringify(makeMessage(spec.payload, seq))]);
    const [status, body] = await socket.receive();
    const reply: unknown = body === undefined ? undefined : JSON.parse(body.toString());
    if (status?.toString() !== "ok" || seqOf(reply) !== seq) throw new Error(`bad reply for call ${seq}`);
  };
  return {
    endpoint: spec.endpoint,
    run: () => driveCalls(spec, call, probe), // REQ: opened only for inFlight === 1, so always lockstep
    async close() {
      socket.close();
      return {};
    },
  };
}

async function openRawDealer(spec: RoleSpec): Promise<RoleHandle> {
  const socket = new zmq.Dealer({ linger: 0 });
  socket.connect(spec.endpoint);
  const probe = new RssProbe(spec.soakWarmup);
  const send = (seq: number): Promise<void> => {
    const id = Buffer.allocUnsafe(4);
    id.writeUInt32BE(seq, 0);
    return socket.send([id, "", METHOD, JSON.stringify(makeMessage(spec.payload, seq))]);
  };
  /** Keeps `window` calls in flight until `total` have been answered; checks every reply against its call. */
  const pump = async (total: number, window: number): Promise<number> => {
    const pending = new Set<number>();
    let sent = 0;
    let done = 0;
    while (sent < Math.min(window, total)) {
      pending.add(sent);
      await send(sent++);
    }
    while (done < total) {
      const [id, , status, body] = await socket.receive();
      const seq = id?.length === 4 ? id.readUInt32BE(0) : -1;
      const reply: unknown = body === undefined ? undefined : JSON.parse(body.toString());
      if (status?.toString() !== "ok" || seqOf(reply) !== seq || !pending.delete(seq))
        throw new Error(`bad reply for call ${seq}`);
      probe.tick(++done);
      if (sent < total) {
        pending.add(sent);
        await send(sent++);
      }
    }
    return done;
  };
  return {
    endpoint: spec.endpoint,
    async run(): Promise<RunResult> {
      await pump(WARMUP_CALLS, 1);
      const started = now();
      const done = await pump(spec.count, spec.inFlight);
      return withRss({ count: done, elapsedMs: now() - started, endSeen: true }, probe);
    },
    async close() {
      socket.close();
      return {};
    },
  };
}
