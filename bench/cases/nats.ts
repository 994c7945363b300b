/**
 * NATS.js roles (`impl: "nats"`, the `--peers` section): the same messages as the zeromq cases, through a local
 * nats-server whose URL is the spec's `endpoint`. Each role has its own connection in its own peer process, as the
 * zeromq roles have their own sockets.
 *
 * - `pub` publishes `count` messages and the end marker on the subject {@link TOPIC}, with one `flush()` (a PING/PONG
 *   round trip to the server) outstanding per {@link FLUSH_WINDOW} messages, so that the client's outbound buffer
 *   stays bounded, as a zeromq send queue does; with `validate` it parses every message with the bench's zod schema
 *   before encoding it.
 * - `sub` subscribes (and flushes, so the server has the subscription before the run starts), decodes every message
 *   (`msg.json()`), with `validate` parses it with the same schema, and counts until the end marker. NATS core is
 *   at-most-once: a message the server or client drops shows up as lost, and a lost end marker as a stall.
 * - `server` answers requests on {@link METHOD} with {@link replyTo} (`msg.respond`); `client` makes the same warm-up
 *   calls and measured calls as the zeromq client (`nc.request`, the client's shared reply inbox), in lockstep with
 *   per-call latency or with `inFlight` calls in flight.
 */
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type * as z from "zod";
import { END, METHOD, TOPIC, makeMessage, replyTo, rpcContract, seqOf, topicContract } from "../payloads.js";
import type { RoleSpec, RunResult } from "../protocol.js";
import { RssProbe, countUntilEnd, now, withRss, type RoleHandle, type RoleOpener } from "./common.js";
import { driveCalls } from "./rpc.js";

/** Messages published between two flushes (the zeromq publishers' send high-water mark is 1000). */
const FLUSH_WINDOW = 1024;

async function connectTo(spec: RoleSpec): Promise<NatsConnection> {
  // No reconnects: a server that goes away ends the run instead of hiding behind a retry loop.
  return connect({ servers: spec.endpoint, reconnect: false, name: `typed-zmq-bench-${spec.role}-${process.pid}` });
}

/** The bench's schema for this payload, or undefined when the run does not validate. */
function topicSchema(spec: RoleSpec): z.ZodType | undefined {
  return spec.validate ? topicContract(spec.payload, true).topics.bench : undefined;
}

function encode(value: unknown, schema: z.ZodType | undefined): string {
  return JSON.stringify(schema === undefined ? value : schema.parse(value));
}

function decode(value: unknown, schema: z.ZodType | undefined): unknown {
  return schema === undefined ? value : schema.parse(value);
}

async function closeConnection(nc: NatsConnection): Promise<void> {
  if (!nc.isClosed()) await nc.close();
}

async function openNatsPub(spec: RoleSpec): Promise<RoleHandle> {
  const nc = await connectTo(spec);
  const schema = topicSchema(spec);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: spec.endpoint,
    async run(): Promise<RunResult> {
      const started = now();
      let flushed: Promise<void> = Promise.resolve();
      for (let i = 0; i < spec.count; i++) {
        nc.publish(TOPIC, encode(makeMessage(spec.payload, i), schema));
        probe.tick(i + 1);
        if ((i + 1) % FLUSH_WINDOW === 0) {
          await flushed;
          flushed = nc.flush();
        }
      }
      nc.publish(TOPIC, encode(makeMessage(spec.payload, END), schema));
      await flushed;
      await nc.flush();
      return withRss({ count: spec.count, elapsedMs: now() - started, endSeen: true }, probe);
    },
    async close() {
      await closeConnection(nc);
      return {};
    },
  };
}

async function openNatsSub(spec: RoleSpec): Promise<RoleHandle> {
  const nc = await connectTo(spec);
  const schema = topicSchema(spec);
  const sub: Subscription = nc.subscribe(TOPIC);
  await nc.flush(); // the server has the subscription once its PONG is back: no message of the run can miss it
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: spec.endpoint,
    run: (): Promise<RunResult> =>
      countUntilEnd(
        sub,
        spec,
        probe,
        (msg) => seqOf(decode(msg.json(), schema)),
        () => sub.unsubscribe(),
      ),
    async close() {
      await closeConnection(nc);
      return {};
    },
  };
}

async function openNatsServer(spec: RoleSpec): Promise<RoleHandle> {
  const nc = await connectTo(spec);
  const methods = rpcContract(spec.payload, true).methods.echo;
  const [request, response] = spec.validate ? [methods.request, methods.response] : [undefined, undefined];
  const probe = new RssProbe(spec.soakWarmup);
  let handled = 0;
  nc.subscribe(METHOD, {
    callback: (err, msg) => {
      if (err !== null) return;
      probe.tick(++handled);
      msg.respond(encode(replyTo(decode(msg.json(), request)), response));
    },
  });
  await nc.flush();
  return {
    endpoint: spec.endpoint,
    run: () => Promise.resolve({ count: 0, elapsedMs: 0, endSeen: true }),
    async close() {
      const result = withRss({}, probe);
      await closeConnection(nc);
      return result;
    },
  };
}

async function openNatsClient(spec: RoleSpec): Promise<RoleHandle> {
  const nc = await connectTo(spec);
  const methods = rpcContract(spec.payload, true).methods.echo;
  const [request, response] = spec.validate ? [methods.request, methods.response] : [undefined, undefined];
  const probe = new RssProbe(spec.soakWarmup);
  const call = async (seq: number): Promise<void> => {
    const reply = await nc.request(METHOD, encode(makeMessage(spec.payload, seq), request), { timeout: 30_000 });
    const value = decode(reply.json(), response);
    if (seqOf(value) !== seq) throw new Error(`reply for call ${seq} carries seq ${seqOf(value)}`);
  };
  return {
    endpoint: spec.endpoint,
    run: () => driveCalls(spec, call, probe),
    async close() {
      await closeConnection(nc);
      return {};
    },
  };
}

const NATS_OPENERS: Partial<Record<RoleSpec["role"], RoleOpener>> = {
  pub: openNatsPub,
  sub: openNatsSub,
  server: openNatsServer,
  client: openNatsClient,
};

/** The NATS.js opener of a role (pub, sub, server, client); other roles have no NATS counterpart. */
export function natsOpener(role: RoleSpec["role"]): RoleOpener {
  const opener = NATS_OPENERS[role];
  if (opener === undefined) throw new Error(`no NATS.js counterpart for the ${role} role`);
  return opener;
}
