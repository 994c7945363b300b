/**
 * The `timed-out` and `retried` events of the classes that send on their own clock: an RpcServer that gets a request
 * past its deadline, a noDrop Publisher and a PipelineSource whose sends time out, and a reliable source that sends
 * its unanswered tasks again. Real tcp sockets; raw zeromq peers play the side that does not answer.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import * as z from "zod";
import {
  PipelineSource,
  Publisher,
  RpcServer,
  TimeoutError,
  defineJobs,
  defineTopics,
  type PipelineSourceEvent,
  type PublisherEvent,
  type RpcServerEvent,
} from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { EventLog } from "../helpers/event-log.js";

const TCP = "tcp://127.0.0.1:0";
const Jobs = defineJobs("jobs.v1", { task: z.object({ n: z.number().int() }), result: z.object({ n: z.number().int() }) });
const Blobs = defineTopics("blobs.v1", { blob: z.object({ data: z.string() }) });

describe("timed-out", () => {
  test("RpcServer: a request past its deadline is answered DEADLINE_EXCEEDED and reported with how late it was", async () => {
    const log = new EventLog<RpcServerEvent>();
    const handlers = {
      echo: ({ text }: { text: string }) => ({ text }),
      getOrder: ({ id }: { id: number }) => ({ id, total: 1 }),
      wait: ({ key }: { key: string }) => ({ key }),
      whoami: () => ({ server: "s" }),
    };
    await using server = await RpcServer.bind(TCP, Orders, handlers, { onEvent: log.onEvent, onError: () => undefined });
    const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 5_000 });
    try {
      dealer.connect(server.endpoint);
      const headers = JSON.stringify({ version: "1.1", deadline: Date.now() - 2_000, remainingMs: 5_000 });
      await dealer.send([Buffer.from([0, 0, 0, 1]), "", "echo", JSON.stringify({ text: "late" }), headers]);
      const [, , status, body] = await dealer.receive();
      expect(String(status)).toBe("error");
      expect(JSON.parse(String(body))).toMatchObject({ code: "DEADLINE_EXCEEDED" });
      const event = await log.next("timed-out");
      expect(event).toMatchObject({ what: "request", method: "echo" });
      expect(event.lateMs).toBeGreaterThanOrEqual(1_900);
    } finally {
      dealer.close();
    }
  });

  test("Publisher (noDrop): a publish that finds no room within timeoutMs; the call rejects with TimeoutError", async () => {
    const log = new EventLog<PublisherEvent>();
    await using publisher = await Publisher.bind(TCP, Blobs, { noDrop: true, sendHighWaterMark: 1, onEvent: log.onEvent });
    // A subscriber that never reads: its queues and the kernel's buffers fill, then the publisher has no room.
    const stuck = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 1 });
    try {
      stuck.connect(publisher.endpoint);
      stuck.subscribe("");
      await publisher.waitForSubscribers(1, { timeoutMs: 5_000 });
      const data = "x".repeat(64 * 1024);
      let failure: unknown;
      for (let i = 0; i < 2_000 && failure === undefined; i++) {
        failure = await publisher.publish("blob", { data }, { timeoutMs: 50 }).then(
          () => undefined,
          (err: unknown) => err,
        );
      }
      expect(failure).toBeInstanceOf(TimeoutError);
      expect(await log.next("timed-out")).toEqual({ type: "timed-out", what: "publish", target: "blob", afterMs: 50 });
    } finally {
      stuck.close();
    }
  });

  test("PipelineSource (plain): a push with no worker to take it, within timeoutMs", async () => {
    const log = new EventLog<PipelineSourceEvent>();
    await using source = await PipelineSource.bind(TCP, Jobs, { onEvent: log.onEvent });
    await expect(source.push({ n: 1 }, { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await log.next("timed-out")).toEqual({ type: "timed-out", what: "push", target: "task", afterMs: 30 });
  });
});

describe("retried", () => {
  test("reliable PipelineSource: tasks the broker does not answer are sent again, and the push times out", async () => {
    // A raw ROUTER in the broker's place: it takes the connection and every PUSH, and answers nothing.
    const router = new zmq.Router({ linger: 0 });
    await router.bind(TCP);
    const received: string[] = [];
    const reading = (async () => {
      for await (const frames of router) received.push(frames.map(String).join("|"));
    })().catch(() => undefined);
    const log = new EventLog<PipelineSourceEvent>();
    try {
      await using source = await PipelineSource.connect(router.lastEndpoint!, Jobs, {
        mode: "reliable",
        resendMs: 50,
        onEvent: log.onEvent,
      });
      await log.next("connected");
      const pushing = source.push({ n: 7 }, { timeoutMs: 1_000 });
      const retried = await log.next("retried");
      expect(retried).toMatchObject({ what: "push" });
      expect(retried.count).toBeGreaterThanOrEqual(1);
      expect(source.stats.resent).toBeGreaterThanOrEqual(1);
      await expect(pushing).rejects.toBeInstanceOf(TimeoutError);
      expect(await log.next("timed-out")).toEqual({ type: "timed-out", what: "push", target: "task", afterMs: 1_000 });
      expect(received.filter((m) => m.includes('{"n":7}')).length).toBeGreaterThanOrEqual(2);
    } finally {
      router.close();
      await reading;
    }
  });
});
