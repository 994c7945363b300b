/**
 * Publish-subscribe roles. `pub` binds, waits for the subscription, sends `count` messages and the end marker,
 * losslessly (typed: `noDrop`; raw: an XPUB with `noDrop` that retries on EAGAIN). `sub` connects, counts until the
 * end marker and reports; the orchestrator closes the publisher only after that acknowledgement.
 */
import * as zmq from "zeromq";
import { Publisher, Subscriber, type PublisherOptions, type SubscriberOptions } from "../../dist/index.js";
import { END, TOPIC, codecFor, makeMessage, seqOf, topicContract } from "../payloads.js";
import type { RoleSpec, RunResult } from "../protocol.js";
import {
  BATCH,
  RssProbe,
  clientCurve,
  countUntilEnd,
  hasFlush,
  now,
  sendNoDrop,
  serverCurve,
  withRss,
  type FutureCurveOption,
  type FuturePublisherOptions,
  type RoleHandle,
} from "./common.js";

/** Publishes with this many publishes outstanding when batching (a batched publish may settle only at the flush). */
const BATCH_WINDOW = 1024;

export async function openPub(spec: RoleSpec): Promise<RoleHandle> {
  return spec.impl === "typed" ? openTypedPub(spec) : openRawPub(spec);
}

export async function openSub(spec: RoleSpec): Promise<RoleHandle> {
  return spec.impl === "typed" ? openTypedSub(spec) : openRawSub(spec);
}

async function openTypedPub(spec: RoleSpec): Promise<RoleHandle> {
  const options: PublisherOptions & FuturePublisherOptions & FutureCurveOption = {
    codec: codecFor(spec.codec),
    ...serverCurve(spec.curve),
    sendHighWaterMark: spec.sendHighWaterMark,
    ...(spec.noDrop ? { noDrop: true } : {}),
    ...(spec.batch ? { batch: BATCH } : {}),
    ...(spec.validateOutgoing === false ? { validateOutgoing: false } : {}),
  };
  const pub = await Publisher.bind(spec.endpoint, topicContract(spec.payload, spec.validate), options);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: pub.endpoint,
    async run(): Promise<RunResult> {
      await pub.waitForSubscribers(1, { timeoutMs: 10_000 });
      const started = now();
      if (spec.batch) {
        let window: Promise<void>[] = [];
        for (let i = 0; i < spec.count; i++) {
          window.push(pub.publish(TOPIC, makeMessage(spec.payload, i)));
          if (window.length === BATCH_WINDOW) {
            await Promise.all(window);
            window = [];
          }
          probe.tick(i + 1);
        }
        window.push(pub.publish(TOPIC, makeMessage(spec.payload, END)));
        const last = Promise.all(window);
        if (hasFlush(pub)) await pub.flush();
        await last;
      } else {
        for (let i = 0; i < spec.count; i++) {
          await pub.publish(TOPIC, makeMessage(spec.payload, i));
          probe.tick(i + 1);
        }
        await pub.publish(TOPIC, makeMessage(spec.payload, END));
      }
      return withRss({ count: spec.count, elapsedMs: now() - started, endSeen: true }, probe);
    },
    async close() {
      await pub.close();
      return {};
    },
  };
}

async function openRawPub(spec: RoleSpec): Promise<RoleHandle> {
  // An XPUB rather than a PUB only to see the subscription arrive (no sleeping over the slow joiner).
  const socket = new zmq.XPublisher({ noDrop: true, sendHighWaterMark: spec.sendHighWaterMark, linger: 1000 });
  await socket.bind(spec.endpoint);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: socket.lastEndpoint ?? spec.endpoint,
    async run(): Promise<RunResult> {
      for (;;) {
        const [frame] = await socket.receive();
        if (frame !== undefined && frame[0] === 1) break; // a subscription
      }
      const started = now();
      for (let i = 0; i < spec.count; i++) {
        await sendNoDrop(socket, [TOPIC, JSON.stringify(makeMessage(spec.payload, i))]);
        probe.tick(i + 1);
      }
      await sendNoDrop(socket, [TOPIC, JSON.stringify(makeMessage(spec.payload, END))]);
      return withRss({ count: spec.count, elapsedMs: now() - started, endSeen: true }, probe);
    },
    async close() {
      socket.close();
      return {};
    },
  };
}

async function openTypedSub(spec: RoleSpec): Promise<RoleHandle> {
  const options: SubscriberOptions<ReturnType<typeof topicContract>> & FutureCurveOption = {
    codec: codecFor(spec.codec),
    topics: [TOPIC],
    ...clientCurve(spec.curve),
  };
  const sub = await Subscriber.connect(spec.endpoint, topicContract(spec.payload, spec.validate), options);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: spec.endpoint,
    run: (): Promise<RunResult> =>
      countUntilEnd(
        sub,
        spec,
        probe,
        (msg) => seqOf(msg.data),
        () => void sub.close(),
      ),
    async close() {
      await sub.close();
      return {};
    },
  };
}

async function openRawSub(spec: RoleSpec): Promise<RoleHandle> {
  const socket = new zmq.Subscriber({ linger: 0 });
  socket.connect(spec.endpoint);
  socket.subscribe(TOPIC);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: spec.endpoint,
    run: (): Promise<RunResult> =>
      countUntilEnd(
        socket,
        spec,
        probe,
        ([topic, body]: Buffer[]) =>
          topic === undefined || body === undefined || topic.toString() !== TOPIC
            ? undefined
            : seqOf(JSON.parse(body.toString())),
        () => socket.close(),
      ),
    async close() {
      if (!socket.closed) socket.close();
      return {};
    },
  };
}
