/**
 * CURVE on both faces of an RpcBroker, over tcp: each face registers its own ZAP domain with its own allow-list
 * (`frontendAllow`, `backendAllow`) on the shared authenticator. A listed server joins and serves a listed client;
 * a server that is not on the backend list never registers (no READY reaches the broker); a client listed only for
 * the frontend cannot join the backend; the refusals of the broker's options.
 */
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { InvalidArgumentError, RpcBroker, RpcClient, RpcServer, type RpcBrokerEvent } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";

const TCP = { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" };
const DENIED_MS = 800;

const broker = zmq.curveKeyPair();
const client = zmq.curveKeyPair();
const server = zmq.curveKeyPair();
const intruder = zmq.curveKeyPair();

const handlers = {
  echo: ({ text }: { text: string }) => ({ text }),
  getOrder: ({ id }: { id: number }) => ({ id, total: 0 }),
  wait: ({ key }: { key: string }) => ({ key }),
  whoami: () => ({ server: "curve" }),
};

function clientOf(keys: { publicKey: string; secretKey: string }) {
  return { publicKey: keys.publicKey, secretKey: keys.secretKey, serverKey: broker.publicKey };
}

async function curveBroker(events: RpcBrokerEvent[] = []): Promise<RpcBroker> {
  return RpcBroker.bind(TCP, {
    curve: { secretKey: broker.secretKey },
    frontendAllow: [client.publicKey],
    backendAllow: [server.publicKey],
    onEvent: (e) => events.push(e),
  });
}

describe("RpcBroker with CURVE on both faces", () => {
  test("a listed server joins the backend and a listed client calls it through the frontend", async () => {
    await using b = await curveBroker();
    let calls = 0;
    await using s = await RpcServer.connect(
      b.backend,
      Orders,
      {
        ...handlers,
        echo: ({ text }) => {
          calls++;
          return { text };
        },
      },
      { curve: clientOf(server) },
    );
    await b.waitForServers(1, { service: Orders.name, timeoutMs: 5_000 });
    await using c = await RpcClient.connect(b.frontend, Orders, {
      service: Orders.name,
      curve: clientOf(client),
      timeoutMs: 3_000,
    });
    await expect(c.call("echo", { text: "through the broker" })).resolves.toEqual({ text: "through the broker" });
    expect(calls).toBe(1);
    expect(s.closed).toBe(false);
  });

  test("a server not on the backend list cannot join (no READY is seen)", async () => {
    const events: RpcBrokerEvent[] = [];
    await using b = await curveBroker(events);
    await using s = await RpcServer.connect(b.backend, Orders, handlers, { curve: clientOf(intruder) });
    await expect(b.waitForServers(1, { timeoutMs: DENIED_MS })).rejects.toThrow();
    expect(events.filter((e) => e.type === "worker:ready")).toEqual([]);
    expect(b.services()).toEqual([]);
    expect(s.closed).toBe(false);
  });

  test("a client listed for the frontend cannot join the backend", async () => {
    const events: RpcBrokerEvent[] = [];
    await using b = await curveBroker(events);
    await using s = await RpcServer.connect(b.backend, Orders, handlers, { curve: clientOf(client) });
    await expect(b.waitForServers(1, { timeoutMs: DENIED_MS })).rejects.toThrow();
    expect(events.filter((e) => e.type === "worker:ready")).toEqual([]);
    expect(s.closed).toBe(false);
  });

  test("a plaintext server cannot join; the broker reports the failed handshake on its backend", async () => {
    const events: RpcBrokerEvent[] = [];
    await using b = await curveBroker(events);
    await using s = await RpcServer.connect(b.backend, Orders, handlers);
    await expect(b.waitForServers(1, { timeoutMs: DENIED_MS })).rejects.toThrow();
    expect(events.find((e) => e.type === "handshake-failed")).toMatchObject({ type: "handshake-failed", face: "backend" });
    expect(s.closed).toBe(false);
  });

  test("refusals: no backend list, a shared `allow`, a serverKey, an allow-list without curve", async () => {
    const secretKey = broker.secretKey;
    await expect(RpcBroker.bind(TCP, { curve: { secretKey }, frontendAllow: "any" })).rejects.toThrow(/backendAllow/);
    await expect(
      RpcBroker.bind(TCP, { curve: { secretKey, allow: "any" } as never, frontendAllow: "any", backendAllow: "any" }),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(
      RpcBroker.bind(TCP, { curve: { ...clientOf(client) }, frontendAllow: "any", backendAllow: "any" }),
    ).rejects.toThrow(/broker's two faces are CURVE servers/);
    await expect(RpcBroker.bind(TCP, { backendAllow: [server.publicKey] })).rejects.toThrow(/needs `curve`/);
    await expect(
      RpcBroker.bind(
        { frontend: "inproc://curve-broker-f", backend: "tcp://127.0.0.1:0" },
        {
          curve: { secretKey },
          frontendAllow: "any",
          backendAllow: "any",
        },
      ),
    ).rejects.toThrow(/CURVE does not apply to inproc/);
  });
});
