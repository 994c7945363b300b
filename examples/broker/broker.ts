/**
 * Broker demo: an RPC queue between clients and servers (or, with BROKER_KIND, a pub-sub forwarder or a pipeline
 * streamer); runs until SIGINT/SIGTERM.
 *
 * Environment: BROKER_FRONTEND_BIND (default tcp://*:5559); BROKER_BACKEND_BIND (default tcp://*:5560);
 * BROKER_KIND rpc | pubsub | pipeline (default rpc).
 */
import { PipelineStreamer, PubSubForwarder, RpcBroker, type BrokerEndpoints } from "typed-zmq";
import { isMain, output, runAsCommand, setting, stopped, type DemoOptions } from "../shared/cli.js";

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
  if (kind !== "rpc") {
    // The devices run on zeromq's native proxy: frames pass inside libzmq, and nothing counts them.
    await using device = await (kind === "pubsub" ? PubSubForwarder.bind(endpoints) : PipelineStreamer.bind(endpoints));
    log(`broker: ${kind} frontend ${device.frontend}, backend ${device.backend}`);
    await stopped(options.signal);
    log(`broker: stopping the ${kind} device`);
    return 0;
  }
  await using broker = await RpcBroker.bind(endpoints, {
    onEvent: (event) => {
      if (event.type === "server:ready") log(`broker: server ${event.server} ready for ${event.capacity} requests at once`);
      else if (event.type === "server:gone") log(`broker: server ${event.server} gone (${event.lost} requests lost)`);
      else log(`broker: ${event.type}: ${event.reason}`);
    },
  });
  log(`broker: ${kind} frontend ${broker.frontend}, backend ${broker.backend}`);
  await stopped(options.signal);
  log(`broker: stopping after ${broker.stats.forwarded} messages forwarded`);
  return broker.stats.forwarded;
}

if (isMain(import.meta.url)) await runAsCommand(main);
