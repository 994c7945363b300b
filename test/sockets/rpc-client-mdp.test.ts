/**
 * RpcClient in MDP mode (`service`): requests `["", "MDPC01", service, method, body, headers]` to a broker's
 * frontend, replies `["", "MDPC01", service, status, body, headers{correlationId}]`, correlated by the header. The
 * broker here is a minimal one written with a raw ROUTER, answering by hand.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { RpcClient } from "../../src/index.js";
import { Store } from "../helpers/rpc-peers.js";
import { main as demoClient } from "../../examples/request-reply/client.js";

interface MdpRequest {
  readonly client: Buffer;
  readonly frames: Buffer[];
  readonly service: string;
  readonly method: string;
  readonly body: string;
  readonly headers: Record<string, unknown>;
}

/** A broker frontend that the test drives: it reads client requests and answers them itself. */
class MiniBroker {
  readonly socket = new zmq.Router({ linger: 0 });
  endpoint = "";

  static async bind(): Promise<MiniBroker> {
    const broker = new MiniBroker();
    await broker.socket.bind("tcp://127.0.0.1:0");
    broker.endpoint = broker.socket.lastEndpoint ?? "";
    return broker;
  }

  async next(): Promise<MdpRequest> {
    const frames = await this.socket.receive();
    const [client, empty, header, service, method, body, headers] = frames;
    expect(empty!.length).toBe(0);
    expect(String(header)).toBe("MDPC01");
    return {
      client: client!,
      frames,
      service: String(service),
      method: String(method),
      body: String(body),
      headers: JSON.parse(String(headers)) as Record<string, unknown>,
    };
  }

  async reply(
    to: MdpRequest,
    status: "ok" | "error",
    body: unknown,
    headers: object = { correlationId: to.headers["correlationId"] },
  ) {
    await this.socket.send([to.client, "", "MDPC01", to.service, status, JSON.stringify(body), JSON.stringify(headers)]);
  }

  [Symbol.dispose](): void {
    this.socket.close();
  }
}

describe("RpcClient through an MDP broker (service option)", () => {
  test("sends MDPC01 requests with correlationId and deadline headers, and correlates replies out of order", async () => {
    using broker = await MiniBroker.bind();
    await using client = await RpcClient.connect(broker.endpoint, Store, { service: "store", timeoutMs: 3_000 });
    const before = Date.now();
    const calls = [client.call("read", { key: "a" }), client.call("write", { key: "b" })];
    const first = await broker.next();
    const second = await broker.next();
    expect(first).toMatchObject({ service: "store", method: "read", body: JSON.stringify({ key: "a" }) });
    expect(first.headers).toMatchObject({ version: "1.4", contract: "store.v1", idempotent: true });
    expect(second.headers).not.toHaveProperty("idempotent");
    expect(typeof first.headers["correlationId"]).toBe("string");
    expect(first.headers["correlationId"]).not.toBe(second.headers["correlationId"]);
    expect(first.headers["deadline"]).toBeGreaterThanOrEqual(before);
    expect(first.headers["remainingMs"]).toBeLessThanOrEqual(3_000);
    await broker.reply(second, "ok", { value: "B" });
    await broker.reply(first, "ok", { value: "A" });
    await expect(Promise.all(calls)).resolves.toEqual([{ value: "A" }, { value: "B" }]);
  });

  test.each(["SERVICE_UNAVAILABLE", "DEADLINE_EXCEEDED"])(
    "a broker's %s answer is a RemoteCallError with that code",
    async (code) => {
      using broker = await MiniBroker.bind();
      await using client = await RpcClient.connect(broker.endpoint, Store, { service: "store", timeoutMs: 3_000 });
      const call = client.call("read", { key: "a" });
      await broker.reply(await broker.next(), "error", { code, message: "from the broker", details: { service: "store" } });
      await expect(call).rejects.toMatchObject({ name: "RemoteCallError", code, details: { service: "store" } });
      expect(client.stats.retries).toBe(0);
    },
  );

  test("UNAVAILABLE from the broker is retried for an idempotent method, with a new correlationId", async () => {
    using broker = await MiniBroker.bind();
    await using client = await RpcClient.connect(broker.endpoint, Store, { service: "store", timeoutMs: 3_000 });
    const call = client.call("read", { key: "a" });
    const first = await broker.next();
    await broker.reply(first, "error", { code: "UNAVAILABLE", message: "worker lost" });
    const second = await broker.next();
    expect(second.headers["correlationId"]).not.toBe(first.headers["correlationId"]);
    await broker.reply(second, "ok", { value: "again" });
    await expect(call).resolves.toEqual({ value: "again" });
    expect(client.stats.retries).toBe(1);
  });

  test("a reply without the correlationId header is dropped and counted; the call still gets its own reply", async () => {
    using broker = await MiniBroker.bind();
    const drops: string[] = [];
    await using client = await RpcClient.connect(broker.endpoint, Store, {
      service: "store",
      timeoutMs: 3_000,
      onDrop: (info) => drops.push(info.reason),
    });
    const call = client.call("write", { key: "a" });
    const request = await broker.next();
    await broker.reply(request, "ok", { value: "stray" }, {});
    await broker.reply(request, "ok", { value: "real" });
    await expect(call).resolves.toEqual({ value: "real" });
    expect(drops).toEqual(["malformed-reply"]);
    expect(client.stats.malformedReplies).toBe(1);
  });

  test("abort sends a cancel notice through the broker for that correlationId", async () => {
    using broker = await MiniBroker.bind();
    await using client = await RpcClient.connect(broker.endpoint, Store, { service: "store", timeoutMs: 3_000 });
    const controller = new AbortController();
    const call = client.call("write", { key: "a" }, { signal: controller.signal });
    const request = await broker.next();
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: "ABORTED" });
    const cancel = await broker.next();
    expect(cancel).toMatchObject({ service: "store", method: "$cancel", body: "" });
    expect(cancel.headers).toEqual({ correlationId: request.headers["correlationId"] });
  });

  test("headers: false is ignored in broker mode: the broker needs the correlationId", async () => {
    using broker = await MiniBroker.bind();
    await using client = await RpcClient.connect(broker.endpoint, Store, { service: "store", headers: false, timeoutMs: 3_000 });
    const call = client.call("read", { key: "a" });
    const request = await broker.next();
    expect(request.headers).toHaveProperty("correlationId");
    await broker.reply(request, "ok", { value: "x" });
    await expect(call).resolves.toEqual({ value: "x" });
  });

  test("the demo client with RPC_SERVICE set speaks MDP to a broker frontend", async () => {
    using broker = await MiniBroker.bind();
    const lines: string[] = [];
    const run = demoClient({
      env: { RPC_CONNECT: broker.endpoint, RPC_SERVICE: "greeter.v1", COUNT: "2", CLIENT_NAME: "ada" },
      log: (line) => lines.push(line),
    });
    for (let i = 0; i < 2; i++) {
      const request = await broker.next();
      expect(request).toMatchObject({ service: "greeter.v1", method: "hello" });
      await broker.reply(request, "ok", { greeting: `hello ${i}` });
    }
    await expect(run).resolves.toEqual(["hello 0", "hello 1"]);
    expect(lines[0]).toMatch(/connected to .* \(service greeter\.v1\)/);
  });
});
