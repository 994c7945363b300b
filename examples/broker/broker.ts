/**
 * Broker demo: an RPC queue between clients and servers (or, with BROKER_KIND, a pub-sub forwarder, a pipeline
 * streamer, or the reliable pipeline broker); runs until SIGINT/SIGTERM.
 *
 * The RPC broker speaks Majordomo (MDP 0.1): workers register for a service (RpcServer.connect), clients address one.
 * The reliable pipeline broker holds every task until a worker returns its result and every result until a sink has
 * taken it; with BROKER_STORE it keeps them in an SQLite file, so that it survives a crash and sources, workers and
 * sinks need not run at the same time.
 *
 * Environment: BROKER_FRONTEND_BIND (default tcp://*:5559); BROKER_BACKEND_BIND (default tcp://*:5560);
 * BROKER_KIND rpc | pubsub | pipeline (default rpc); HEARTBEAT_MS, the heartbeat interval of the RPC broker and the
 * reliable pipeline broker (default 2500; a worker silent for three intervals is evicted). With BROKER_KIND=pipeline:
 * BROKER_STORE, an SQLite file for the durable, acknowledged pipeline broker (created if missing); PIPELINE_MODE
 * plain | reliable (default plain: the streamer; BROKER_STORE implies reliable; reliable without a store keeps
 * everything in memory); LEASE_MS, how long a worker may hold a task before it is given to another (default 30000);
 * MAX_DELIVERIES, deliveries before a task that never completes ends as a POISON_TASK failure (default 5). CURVE (see ../shared/curve.ts), both faces bound: CURVE_SERVER_CERT
 * for both, CURVE_ALLOW_DIR for the clients of its frontend, CURVE_BACKEND_ALLOW_DIR for the servers allowed to join
 * its backend. The devices (BROKER_KIND pubsub or pipeline) have one allow-list for both faces: CURVE_ALLOW_DIR.
 * Unset: plaintext.
 */
import {
  PipelineBroker,
  PipelineStreamer,
  PubSubForwarder,
  RpcBroker,
  type BrokerEndpoints,
  type PipelineBrokerEvent,
  type RpcBrokerEvent,
} from "typed-zmq";
import { intSetting, isMain, output, pipelineMode, runAsCommand, setting, stopped, type DemoOptions } from "../shared/cli.js";
import { brokerCurve, describeCurve, deviceCurve } from "../shared/curve.js";

/** One log line per broker event, naming the service and the worker. */
function describe(event: RpcBrokerEvent): string {
  switch (event.type) {
    case "worker:ready":
      return `worker ${event.worker} of ${event.service} ready for ${event.capacity} requests at once`;
    case "worker:evicted":
      return (
        `worker ${event.worker} of ${event.service} evicted after ${event.silentMs} ms of silence ` +
        `(${event.redispatched} requests sent elsewhere, ${event.lost} answered UNAVAILABLE)`
      );
    case "worker:left":
      return `worker ${event.worker} of ${event.service} leaving (${event.inFlight} requests still running)`;
    case "worker:gone":
      return (
        `worker ${event.worker} of ${event.service} gone: ${event.reason} ` +
        `(${event.redispatched} requests sent elsewhere, ${event.lost} answered UNAVAILABLE)`
      );
    case "request:expired":
      return `request for ${event.service} expired in the queue: ${event.reason}`;
    case "request:rejected":
      return `request rejected (${event.code}): ${event.reason}`;
    case "message:dropped":
      return `message dropped: ${event.reason}`;
    case "connected":
      return `a peer connected on the ${event.face} (${event.endpoint})`;
    case "disconnected":
      return `a peer disconnected from the ${event.face} (${event.endpoint})`;
    case "handshake-failed":
      return `handshake failed on the ${event.face}: ${event.reason}`;
  }
}

/** One log line per reliable pipeline broker event. */
function describePipeline(event: PipelineBrokerEvent): string {
  return `${event.type} ${JSON.stringify({ ...event, type: undefined })}`;
}

/** The reliable pipeline broker, durable with a store; returns the number of tasks it completed. */
async function reliablePipeline(options: DemoOptions, endpoints: BrokerEndpoints, store: string): Promise<number> {
  const log = output(options);
  const security = brokerCurve(options);
  log(`broker: ${describeCurve(security)}`);
  await using broker = await PipelineBroker.bind(endpoints, {
    ...(store === "" ? {} : { store }),
    heartbeatMs: Math.max(1, intSetting(options, "HEARTBEAT_MS", 2_500)),
    leaseMs: Math.max(1, intSetting(options, "LEASE_MS", 30_000)),
    maxDeliveries: Math.max(1, intSetting(options, "MAX_DELIVERIES", 5)),
    onEvent: (event) => log(`broker: ${describePipeline(event)}`),
    ...security,
  });
  const held = broker.stats;
  log(
    `broker: reliable pipeline ${store === "" ? "in memory" : `on ${store}`}, frontend ${broker.frontend}, ` +
      `backend ${broker.backend}, ${held.queued} tasks and ${held.results} results held`,
  );
  await stopped(options.signal);
  log(`broker: stopping after ${broker.stats.completed} tasks completed`);
  return broker.stats.completed;
}

/** Runs the broker until `signal` aborts; returns the number of requests it forwarded (0 for the devices, which keep no counts). */
export async function main(options: DemoOptions = {}): Promise<number> {
  const log = output(options);
  const kind = setting(options, "BROKER_KIND", "rpc");
  if (kind !== "rpc" && kind !== "pubsub" && kind !== "pipeline") {
    throw new RangeError(`BROKER_KIND=${kind} is not valid: expected rpc, pubsub or pipeline.`);
  }
  const endpoints: BrokerEndpoints = {
    frontend: setting(options, "BROKER_FRONTEND_BIND", "tcp://*:5559"),
    backend: setting(options, "BROKER_BACKEND_BIND", "tcp://*:5560"),
  };
  if (kind === "pipeline") {
    const store = setting(options, "BROKER_STORE", "");
    const mode = store !== "" && setting(options, "PIPELINE_MODE", "") === "" ? "reliable" : pipelineMode(options);
    if (mode === "plain" && store !== "") {
      throw new RangeError("BROKER_STORE needs the reliable pipeline: leave PIPELINE_MODE unset or set it to reliable.");
    }
    if (mode === "reliable") return reliablePipeline(options, endpoints, store);
  }
  if (kind !== "rpc") {
    const security = deviceCurve(options, kind);
    log(`broker: ${describeCurve(security)}`);
    // The devices run on zeromq's native proxy: frames pass inside libzmq, and nothing counts them.
    await using device = await (kind === "pubsub"
      ? PubSubForwarder.bind(endpoints, security)
      : PipelineStreamer.bind(endpoints, security));
    log(`broker: ${kind} frontend ${device.frontend}, backend ${device.backend}`);
    await stopped(options.signal);
    log(`broker: stopping the ${kind} device`);
    return 0;
  }
  const security = brokerCurve(options);
  log(`broker: ${describeCurve(security)}`);
  await using broker = await RpcBroker.bind(endpoints, {
    heartbeatMs: Math.max(1, intSetting(options, "HEARTBEAT_MS", 2_500)),
    onEvent: (event) => log(`broker: ${describe(event)}`),
    ...security,
  });
  log(`broker: ${kind} frontend ${broker.frontend}, backend ${broker.backend}`);
  await stopped(options.signal);
  log(`broker: stopping after ${broker.stats.forwarded} messages forwarded`);
  return broker.stats.forwarded;
}

if (isMain(import.meta.url)) await runAsCommand(main);
