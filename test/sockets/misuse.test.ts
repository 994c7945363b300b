/**
 * Misuse from untyped JavaScript: every mistake is refused with a coded error that names the owner, and none takes
 * the process down later (vitest fails a run on any uncaught exception, so a timer that throws would fail it).
 */
import { describe, expect, test } from "vitest";
import * as z from "zod";
import { PipelineWorker, RpcBroker, RpcClient, RpcServer, Subscriber, defineJobs, defineTopics } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { endpointFor } from "../helpers/endpoints.js";

const Jobs = defineJobs("misuse-jobs.v1", { task: z.object({}), result: z.object({}) });
const Topics = defineTopics("misuse-topics.v1", { t: z.object({}) });
const handlers = {
  echo: ({ text }: { text: string }) => ({ text }),
  getOrder: ({ id }: { id: number }) => ({ id, total: 1 }),
  wait: ({ key }: { key: string }) => ({ key }),
  whoami: () => ({ server: "s" }),
};

/** Passes a value the types forbid, as untyped JavaScript would. */
const untyped = (value: unknown): never => value as never;

describe("misuse from untyped JavaScript", () => {
  test.each([
    ["a number", 5],
    ["an object", {}],
    ["an array holding a number", ["tcp://127.0.0.1:0", 7]],
    ["undefined", undefined],
  ])("an endpoint that is %s is refused with INVALID_ARGUMENT naming the factory", async (_label, endpoint) => {
    await expect(RpcServer.bind(untyped(endpoint), Orders, handlers)).rejects.toMatchObject({
      name: "InvalidArgumentError",
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/^RpcServer\.bind: `endpoint` must be an endpoint string or a non-empty array/),
    });
    await expect(RpcClient.connect(untyped(endpoint), Orders)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  test("endpoint objects with missing parts are refused too", async () => {
    await expect(PipelineWorker.connect(untyped({}), Jobs, () => ({}))).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(RpcBroker.bind(untyped({}))).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  test("a signal that is not an AbortSignal is refused at once, and nothing throws later from a timer", async () => {
    await using server = await RpcServer.bind(endpointFor("inproc"), Orders, handlers);
    await using client = await RpcClient.connect(server.endpoint, Orders, { timeoutMs: 2_000 });
    await expect(client.call("echo", { text: "x" }, { signal: untyped(5), timeoutMs: 20 })).rejects.toMatchObject({
      name: "InvalidArgumentError",
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("`signal` must be an AbortSignal"),
    });
    // The call's 20 ms deadline has long passed once this call returns: a timer left armed would have thrown by now.
    await expect(client.call("echo", { text: "after" }, { timeoutMs: 1_000 })).resolves.toEqual({ text: "after" });
    expect(client.stats.pending).toBe(0);
  });

  test("a bad receive timeout is OUT_OF_RANGE, not a timeout", async () => {
    await using sub = await Subscriber.bind(endpointFor("inproc"), Topics, { topics: [""] });
    for (const timeoutMs of [-1, 0, Number.NaN]) {
      await expect(sub.receive({ timeoutMs })).rejects.toMatchObject({ name: "OutOfRangeError", code: "OUT_OF_RANGE" });
    }
  });

  test("a bad client timeout names its owner", async () => {
    await expect(RpcClient.connect("inproc://misuse-owner", Orders, { timeoutMs: -1 })).rejects.toThrow(
      /^RpcClient\.connect: `timeoutMs` must be a number of milliseconds/,
    );
  });
});
