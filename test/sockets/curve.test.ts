/**
 * The `curve` option on the pattern classes, over real tcp sockets: a listed client talks; a client with another
 * key, with no CURVE, or with the wrong server key gets nothing through (no handler runs, no message is delivered)
 * and the server reports the failed handshake; the refusals (no allow-list, bad keys, inproc, pgm) happen before
 * anything is sent in plaintext.
 *
 * The servers here name a `zapDomain` answered by a small ZAP handler (test/helpers/zap-responder.ts), which
 * allows listed CURVE keys per domain.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as z from "zod";
import * as zmq from "zeromq";
import {
  InvalidArgumentError,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  Publisher,
  RpcClient,
  RpcServer,
  Subscriber,
  defineJobs,
  defineTopics,
  type CurveOptions,
  type RpcServerEvent,
} from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { ZapResponder } from "../helpers/zap-responder.js";

const TCP = "tcp://127.0.0.1:0";
/** How long a denied peer is given to get something through before the test concludes it got nothing. */
const DENIED_MS = 600;

const server = zmq.curveKeyPair();
const listed = zmq.curveKeyPair();
const stranger = zmq.curveKeyPair();
const otherServer = zmq.curveKeyPair();

let zap: ZapResponder;
let domains = 0;
beforeAll(async () => {
  zap = await ZapResponder.start();
});
afterAll(async () => {
  await zap[Symbol.asyncDispose]();
});

/** Server options on a fresh ZAP domain that allows only `listed`. */
function serverCurve(): CurveOptions {
  const zapDomain = `curve-test-${++domains}`;
  zap.allow(zapDomain, [listed.publicKey]);
  return { secretKey: server.secretKey, zapDomain };
}

function clientCurve(keys: { publicKey: string; secretKey: string }, serverKey = server.publicKey): CurveOptions {
  return { publicKey: keys.publicKey, secretKey: keys.secretKey, serverKey };
}

/** The ways a client can fail to get through, as RpcClient/Subscriber/worker `curve` options. */
const DENIED: readonly (readonly [string, CurveOptions | undefined])[] = [
  ["a client with another key", clientCurve(stranger)],
  ["a client with no CURVE", undefined],
  ["a client with the wrong server key", clientCurve(listed, otherServer.publicKey)],
];

const Ticks = defineTopics("ticks.v1", { tick: z.object({ n: z.number().int() }) });
const Jobs = defineJobs("curve-jobs.v1", {
  task: z.object({ id: z.number().int() }),
  result: z.object({ id: z.number().int() }),
});

function waitFor<T>(values: T[], what: (v: T) => boolean, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = (): void => {
      const found = values.find(what);
      if (found !== undefined) resolve(found);
      else if (Date.now() - started > ms) reject(new Error(`nothing matched within ${ms} ms`));
      else setTimeout(check, 10);
    };
    check();
  });
}

describe("RPC over CURVE", () => {
  test("a listed client talks; its socket and a raw peer read securityMechanism curve", async () => {
    let calls = 0;
    await using rpc = await RpcServer.bind(
      TCP,
      Orders,
      handlers(() => calls++),
      { curve: serverCurve() },
    );
    await using client = await RpcClient.connect(rpc.endpoint, Orders, { curve: clientCurve(listed), timeoutMs: 3_000 });
    await expect(client.call("echo", { text: "secret" })).resolves.toEqual({ text: "secret" });
    expect(calls).toBe(1);
    const raw = new zmq.Dealer({
      curveServerKey: server.publicKey,
      curvePublicKey: listed.publicKey,
      curveSecretKey: listed.secretKey,
    });
    expect(raw.securityMechanism).toBe("curve");
    raw.close();
  });

  test.each(DENIED)("%s gets nothing through, and the server reports the failed handshake", async (_name, curve) => {
    let calls = 0;
    const events: RpcServerEvent[] = [];
    await using rpc = await RpcServer.bind(
      TCP,
      Orders,
      handlers(() => calls++),
      {
        curve: serverCurve(),
        onEvent: (e) => events.push(e),
      },
    );
    const clientEvents: string[] = [];
    await using client = await RpcClient.connect(rpc.endpoint, Orders, {
      ...(curve === undefined ? {} : { curve }),
      timeoutMs: DENIED_MS,
      retry: false,
      onEvent: (e) => clientEvents.push(e.type),
    });
    await expect(client.call("echo", { text: "secret" })).rejects.toThrow();
    expect(calls).toBe(0);
    if (curve?.publicKey === stranger.publicKey) {
      // ZAP refused it: the responder saw the key, and the client saw its handshake fail.
      expect(zap.decisions.some((d) => !d.allowed && d.mechanism === "CURVE")).toBe(true);
    } else {
      // The handshake failed before ZAP was asked: seen on the server's monitor.
      const failed = await waitFor(events, (e) => e.type === "handshake-failed", 2_000);
      expect(failed).toMatchObject({ type: "handshake-failed", endpoint: rpc.endpoint });
    }
  });

  test("worker mode: the curve option is the client side of the broker link", async () => {
    // A raw CURVE ROUTER standing in for a broker backend, with no ZAP domain of its own: it sees READY only if
    // the worker's link speaks CURVE with the right server key.
    const zapDomain = `curve-test-${++domains}`;
    zap.allow(zapDomain, [listed.publicKey]);
    const backend = new zmq.Router({
      linger: 0,
      curveServer: true,
      curveSecretKey: server.secretKey,
      zapDomain,
      zapEnforceDomain: true,
    });
    await backend.bind(TCP);
    try {
      await using worker = await RpcServer.connect(
        backend.lastEndpoint!,
        Orders,
        handlers(() => undefined),
        {
          curve: clientCurve(listed),
        },
      );
      const [, , protocol] = (await backend.receive()).map((f) => f.toString());
      expect(protocol).toBe("MDPW01");
      expect(worker.closed).toBe(false);
    } finally {
      backend.close();
    }
  });
});

describe("pub-sub over CURVE", () => {
  test("a listed subscriber receives", async () => {
    await using pub = await Publisher.bind(TCP, Ticks, { curve: serverCurve() });
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, { topics: [""], curve: clientCurve(listed) });
    await pub.waitForSubscribers(1, { timeoutMs: 3_000 });
    await pub.publish("tick", { n: 1 });
    await expect(sub.receive({ timeoutMs: 3_000 })).resolves.toMatchObject({ data: { n: 1 } });
  });

  test.each(DENIED)("%s receives nothing", async (_name, curve) => {
    await using pub = await Publisher.bind(TCP, Ticks, { curve: serverCurve() });
    await using sub = await Subscriber.connect(pub.endpoint, Ticks, { topics: [""], ...(curve === undefined ? {} : { curve }) });
    // No subscription arrives from a peer that never completed its handshake.
    await expect(pub.waitForSubscribers(1, { timeoutMs: DENIED_MS })).rejects.toThrow(/timed out|TIMEOUT|within/i);
    for (let n = 0; n < 20; n++) await pub.publish("tick", { n });
    await expect(sub.receive({ timeoutMs: DENIED_MS })).rejects.toThrow();
    expect(sub.stats.delivered).toBe(0);
  });
});

describe("pipeline over CURVE", () => {
  test("a listed worker takes tasks from a CURVE source and returns results to a CURVE sink", async () => {
    await using source = await PipelineSource.bind(TCP, Jobs, { curve: serverCurve() });
    await using sink = await PipelineSink.bind(TCP, Jobs, { curve: serverCurve() });
    await using worker = await PipelineWorker.connect({ tasks: source.endpoint, results: sink.endpoint }, Jobs, (t) => t, {
      curve: clientCurve(listed),
    });
    await source.waitForWorkers(1, { timeoutMs: 3_000 });
    await source.push({ id: 7 });
    await expect(sink.receive({ timeoutMs: 3_000 })).resolves.toMatchObject({ ok: true, result: { id: 7 } });
    expect(worker.stats.completed).toBe(1);
  });

  test.each(DENIED)("%s gets no task", async (_name, curve) => {
    let calls = 0;
    await using source = await PipelineSource.bind(TCP, Jobs, { curve: serverCurve() });
    await using worker = await PipelineWorker.connect(
      { tasks: source.endpoint },
      Jobs,
      (t) => {
        calls++;
        return t;
      },
      curve === undefined ? {} : { curve },
    );
    await expect(source.waitForWorkers(1, { timeoutMs: DENIED_MS })).rejects.toThrow();
    expect(calls).toBe(0);
    expect(worker.stats.received).toBe(0);
  });
});

describe("refusals: never silently plaintext, never silently open", () => {
  test("a server role without allow or zapDomain", async () => {
    await expect(
      RpcServer.bind(
        TCP,
        Orders,
        handlers(() => undefined),
        { curve: { secretKey: server.secretKey } },
      ),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(Publisher.bind(TCP, Ticks, { curve: { secretKey: server.secretKey } })).rejects.toThrow(/needs `allow`/);
  });

  test("missing and malformed keys", async () => {
    const bad: CurveOptions[] = [
      { allow: "any" },
      { secretKey: "short", allow: "any" },
      { secretKey: `${server.secretKey.slice(0, 39)}~`, allow: "any" },
      { secretKey: server.secretKey, allow: ["not a key"] },
      { secretKey: listed.secretKey, serverKey: server.publicKey }, // a client without its public key
      { certificate: { publicKey: listed.publicKey }, serverKey: server.publicKey }, // a public certificate
      { secretKey: listed.secretKey, publicKey: listed.publicKey, serverKey: "x".repeat(39) },
      { secretKey: listed.secretKey, publicKey: stranger.publicKey, serverKey: server.publicKey }, // not one key pair
    ];
    for (const curve of bad) {
      await expect(RpcClient.connect("tcp://127.0.0.1:9", Orders, { curve })).rejects.toThrow(InvalidArgumentError);
    }
  });

  test("no refusal quotes a secret key: a key string passed as the option, or a malformed key", async () => {
    const messages: string[] = [];
    const capture = async (open: () => Promise<unknown>): Promise<void> => {
      const err = await open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      messages.push((err as Error).message);
    };
    const untyped = { curve: server.secretKey } as unknown as { curve: CurveOptions };
    await capture(() =>
      RpcServer.bind(
        TCP,
        Orders,
        handlers(() => undefined),
        untyped,
      ),
    );
    const broken = `${server.secretKey.slice(0, 20)}~${server.secretKey.slice(21)}`;
    await capture(() => RpcClient.connect("tcp://127.0.0.1:9", Orders, { curve: { secretKey: broken, allow: "any" } }));
    for (const message of messages) {
      expect(message).not.toContain(server.secretKey.slice(0, 10));
      expect(message).not.toContain(server.secretKey.slice(25));
    }
  });

  test("CURVE on inproc, and on pgm/epgm, is refused", async () => {
    await expect(
      RpcServer.bind(
        "inproc://curve-refused",
        Orders,
        handlers(() => undefined),
        { curve: serverCurve() },
      ),
    ).rejects.toThrow(/CURVE does not apply to inproc/);
    await expect(RpcClient.connect("inproc://curve-refused", Orders, { curve: clientCurve(listed) })).rejects.toThrow(
      /CURVE does not apply to inproc/,
    );
    await expect(Subscriber.connect("epgm://127.0.0.1;239.192.1.1:5555", Ticks, { curve: clientCurve(listed) })).rejects.toThrow(
      /CURVE does not apply to epgm/,
    );
    // The same endpoint without CURVE is not refused for that reason (inproc works in plaintext).
    await using plain = await RpcServer.bind(
      "inproc://curve-plain",
      Orders,
      handlers(() => undefined),
    );
    expect(plain.endpoint).toBe("inproc://curve-plain");
  });
});

function handlers(onCall: () => void) {
  return {
    echo: ({ text }: { text: string }) => {
      onCall();
      return { text };
    },
    getOrder: ({ id }: { id: number }) => ({ id, total: 0 }),
    wait: ({ key }: { key: string }) => ({ key }),
    whoami: () => ({ server: "curve" }),
  };
}
