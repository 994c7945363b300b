// The ZAP authenticator against real libzmq handshakes over tcp on 127.0.0.1: server sockets are plain zeromq.js
// ROUTERs whose security options are set by hand, so these tests check the handler itself, not the pattern classes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as zmq from "zeromq";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { Authenticator, type AuthEvent } from "../../src/index.js";

const auth = Authenticator.shared();
const serverKeys = zmq.curveKeyPair();
const listed = zmq.curveKeyPair();
const other = zmq.curveKeyPair();
/** How long "nothing gets through" is watched for, after the denial itself was seen. */
const QUIET_MS = 300;

const sockets: zmq.Socket[] = [];
const handles: Array<{ release(): void }> = [];
let domainCount = 0;
const uniqueDomain = (): string => `test-${process.pid}-${++domainCount}`;

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const handle of handles.splice(0)) handle.release();
});
afterAll(async () => {
  await auth.close();
  await auth.close(); // idempotent
  expect(auth.closed).toBe(true);
  expect(() => auth.configure("late", { curve: { allow: "any" } })).toThrow(/the authenticator is closed/);
  // close() released inproc://zeromq.zap.01: the next shared() is a new handler that binds it again.
  const next = Authenticator.shared();
  expect(next).not.toBe(auth);
  await next.ready();
  // Without waiting for close(): the new handler waits for the old one to let go of the name, then binds.
  const closing = next.close();
  const third = Authenticator.shared();
  expect(third).not.toBe(next);
  await third.ready();
  await closing;
  await third.close();
});

/** The next event matching `match`, or a rejection after `ms`. */
function nextEvent(match: (e: AuthEvent) => boolean, ms = 3_000): Promise<AuthEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching authenticator event within ${ms} ms`));
    }, ms);
    const off = auth.onEvent((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

interface Server {
  readonly endpoint: string;
  readonly received: Buffer[][];
  /** Resolves with the first message that arrives, or rejects after `ms`. */
  firstMessage(ms?: number): Promise<Buffer[]>;
}

/** A ROUTER on an ephemeral tcp port with the given security options, counting what arrives. */
async function server(options: Partial<zmq.SocketOptions<zmq.Router>>): Promise<Server> {
  // The handler may be rebinding inproc://zeromq.zap.01 (the previous test released its last domain, which closed
  // it): until it is bound, libzmq refuses a handshake of a zapEnforceDomain socket without asking, and no decision
  // is reported. The pattern classes wait for this too.
  await auth.ready();
  const router = new zmq.Router({ linger: 0, ...options });
  sockets.push(router);
  await router.bind("tcp://127.0.0.1:0");
  const received: Buffer[][] = [];
  const waiters: Array<(m: Buffer[]) => void> = [];
  void (async () => {
    try {
      for await (const frames of router) {
        received.push(frames.slice(1)); // without the routing id
        for (const wake of waiters.splice(0)) wake(frames.slice(1));
      }
    } catch {
      // closed
    }
  })();
  return {
    endpoint: router.lastEndpoint ?? "",
    received,
    firstMessage: (ms = 3_000) =>
      new Promise((resolve, reject) => {
        if (received[0] !== undefined) {
          resolve(received[0]);
          return;
        }
        const timer = setTimeout(() => reject(new Error(`no message arrived at the server within ${ms} ms`)), ms);
        waiters.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      }),
  };
}

/** A CURVE server of `domain`, as the pattern classes set it up. */
const curveServer = (domain: string): Promise<Server> =>
  server({ curveServer: true, curveSecretKey: serverKeys.secretKey, zapDomain: domain, zapEnforceDomain: true });

/** A DEALER that connects to `endpoint` with `options` and sends one message. */
async function client(endpoint: string, options: Partial<zmq.SocketOptions<zmq.Dealer>>): Promise<zmq.Dealer> {
  const dealer = new zmq.Dealer({ linger: 0, reconnectInterval: 50, ...options });
  sockets.push(dealer);
  dealer.connect(endpoint);
  await dealer.send("hello");
  return dealer;
}

const curveClient = (endpoint: string, keys: { publicKey: string; secretKey: string }): Promise<zmq.Dealer> =>
  client(endpoint, { curveServerKey: serverKeys.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey });

/** Waits for the denial, then watches the server stay empty for a while. */
async function expectDenied(s: Server, domain: string, reason: string, connect: () => Promise<unknown>): Promise<void> {
  const before = auth.stats.denied;
  const denial = nextEvent((e) => e.type === "denied" && e.domain === domain);
  await connect();
  expect(await denial).toMatchObject({ type: "denied", domain, reason, address: "127.0.0.1" });
  await expect(s.firstMessage(QUIET_MS)).rejects.toThrow(/no message arrived/);
  expect(s.received).toHaveLength(0);
  const after = auth.stats.denied as Record<string, number>;
  expect(after[reason]).toBeGreaterThan((before as Record<string, number>)[reason] ?? 0);
}

function writePublicCertificate(dir: string, name: string, publicKey: string): void {
  const text = `#   ****  Generated for a test  ****\nmetadata\ncurve\n    public-key = "${publicKey}"\n`;
  fs.writeFileSync(path.join(dir, `${name}.key`), text);
}

describe("Authenticator over CURVE", () => {
  test("a listed key talks, and the decision is counted and reported with its public key", async () => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { curve: { allow: [listed.publicKey] } }));
    await auth.ready();
    const s = await curveServer(domain);
    const allowed = nextEvent((e) => e.type === "allowed" && e.domain === domain);
    const before = auth.stats.allowed;
    await curveClient(s.endpoint, listed);
    expect(text(await s.firstMessage())).toEqual(["hello"]);
    expect(await allowed).toEqual({
      type: "allowed",
      domain,
      mechanism: "CURVE",
      address: "127.0.0.1",
      publicKey: listed.publicKey,
    });
    expect(auth.stats.allowed).toBeGreaterThan(before);
  });

  test("another key gets nothing through: unknown-key", async () => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { curve: { allow: [listed.publicKey] } }));
    const s = await curveServer(domain);
    await expectDenied(s, domain, "unknown-key", () => curveClient(s.endpoint, other));
  });

  test("a client with no key (NULL) gets nothing through: the handshake failure is reported from the monitor", async () => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { curve: { allow: [listed.publicKey] } }));
    const s = await curveServer(domain);
    const router = sockets.at(-1);
    if (router === undefined) throw new Error("no server socket");
    // What the wiring does for every class: a handshake that fails before ZAP is asked is reported.
    router.events.on("handshake:error:protocol", (e) =>
      auth.reportHandshakeFailure(domain, s.endpoint, `${e.type}: ${e.error.message}`),
    );
    const before = auth.stats.denied.handshake;
    const failed = nextEvent((e) => e.type === "handshake-failed" && e.domain === domain);
    await client(s.endpoint, {});
    expect(await failed).toMatchObject({ type: "handshake-failed", endpoint: s.endpoint, reason: "handshake" });
    await expect(s.firstMessage(QUIET_MS)).rejects.toThrow(/no message arrived/);
    expect(auth.stats.denied.handshake).toBeGreaterThan(before);
  });

  test("a CURVE domain denies a NULL client of a NULL socket that asks it: mechanism", async () => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { curve: { allow: "any" } }));
    const s = await server({ zapDomain: domain, zapEnforceDomain: true });
    await expectDenied(s, domain, "mechanism", () => client(s.endpoint, {}));
  });

  test("a domain with no policy denies: no-policy", async () => {
    // Another domain keeps the handler up: with no domain at all it closes its socket (so the process can exit), and
    // a server with zapEnforceDomain then refuses every handshake without asking.
    handles.push(auth.configure(uniqueDomain(), { curve: { allow: [other.publicKey] } }));
    const domain = uniqueDomain();
    const s = await curveServer(domain);
    await expectDenied(s, domain, "no-policy", () => curveClient(s.endpoint, listed));
  });

  test("domains are independent: a key listed on one is refused on the other", async () => {
    const one = uniqueDomain();
    const two = uniqueDomain();
    handles.push(auth.configure(one, { curve: { allow: [listed.publicKey] } }));
    handles.push(auth.configure(two, { curve: { allow: [other.publicKey] } }));
    const s1 = await curveServer(one);
    const s2 = await curveServer(two);
    await curveClient(s1.endpoint, listed);
    expect(text(await s1.firstMessage())).toEqual(["hello"]);
    await expectDenied(s2, two, "unknown-key", () => curveClient(s2.endpoint, listed));
    await curveClient(s2.endpoint, other);
    expect(text(await s2.firstMessage())).toEqual(["hello"]);
  });

  test("release() removes the domain's policy: the next client is denied no-policy", async () => {
    handles.push(auth.configure(uniqueDomain(), { curve: { allow: [other.publicKey] } })); // keeps the handler up
    const domain = uniqueDomain();
    const handle = auth.configure(domain, { curve: { allow: [listed.publicKey] } });
    expect(auth.domains).toContain(domain);
    handle.release();
    handle.release();
    expect(auth.domains).not.toContain(domain);
    const s = await curveServer(domain);
    await expectDenied(s, domain, "no-policy", () => curveClient(s.endpoint, listed));
  });
});

describe("Authenticator with a certificate directory", () => {
  test("uses the public certificates, ignores secret ones, and allows a key added later without a restart", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tzmq-zap-"));
    try {
      writePublicCertificate(dir, "first", listed.publicKey);
      // A secret file of `other` (pyzmq naming) must not list it.
      fs.writeFileSync(
        path.join(dir, "late.key_secret"),
        `curve\n    public-key = "${other.publicKey}"\n    secret-key = "${other.secretKey}"\n`,
      );
      const domain = uniqueDomain();
      handles.push(auth.configure(domain, { curve: { allow: { dir } } }));
      const s = await curveServer(domain);
      await curveClient(s.endpoint, listed);
      expect(text(await s.firstMessage())).toEqual(["hello"]);

      const s2 = await curveServer(domain);
      await expectDenied(s2, domain, "unknown-key", () => curveClient(s2.endpoint, other));
      // libzmq does not reconnect a client that ZAP refused (status 400); a new connection of the same key, after
      // its public certificate is listed, gets in with neither the server nor the authenticator restarted.
      writePublicCertificate(dir, "late", other.publicKey);
      const allowed = nextEvent((e) => e.type === "allowed" && e.domain === domain && e.publicKey === other.publicKey);
      await curveClient(s2.endpoint, other);
      await allowed;
      expect(text(await s2.firstMessage())).toEqual(["hello"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an unreadable directory is refused at configure, naming it", () => {
    const missing = path.join(os.tmpdir(), `tzmq-zap-missing-${process.pid}`);
    expect(() => auth.configure(uniqueDomain(), { curve: { allow: { dir: missing } } })).toThrow(
      expect.objectContaining({ name: "InvalidArgumentError", message: expect.stringContaining(missing) }),
    );
  });
});

describe("Authenticator with PLAIN, IP lists and a callback", () => {
  const plainServer = (domain: string): Promise<Server> =>
    server({ plainServer: true, zapDomain: domain, zapEnforceDomain: true });

  test("a PLAIN user with the right password talks; a bad password gets nothing through", async () => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { plain: { users: { admin: "secret" } } }));
    const good = await plainServer(domain);
    await client(good.endpoint, { plainUsername: "admin", plainPassword: "secret" });
    expect(text(await good.firstMessage())).toEqual(["hello"]);
    const bad = await plainServer(domain);
    await expectDenied(bad, domain, "bad-password", () =>
      client(bad.endpoint, { plainUsername: "admin", plainPassword: "wrong" }),
    );
    const unknown = await plainServer(domain);
    await expectDenied(unknown, domain, "bad-password", () =>
      client(unknown.endpoint, { plainUsername: "eve", plainPassword: "secret" }),
    );
  });

  test("an IP not allowed gets nothing through, even with a listed key; an allowed range talks", async () => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { curve: { allow: [listed.publicKey] }, ip: { allow: ["10.0.0.0/8", "::1"] } }));
    const s = await curveServer(domain);
    await expectDenied(s, domain, "ip-denied", () => curveClient(s.endpoint, listed));

    const open = uniqueDomain();
    handles.push(auth.configure(open, { curve: { allow: [listed.publicKey] }, ip: { allow: ["127.0.0.0/8"] } }));
    const s2 = await curveServer(open);
    await curveClient(s2.endpoint, listed);
    expect(text(await s2.firstMessage())).toEqual(["hello"]);
  });

  test("the deny list wins over the allow list", async () => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { curve: { allow: "any" }, ip: { allow: ["127.0.0.0/8"], deny: ["127.0.0.1"] } }));
    const s = await curveServer(domain);
    await expectDenied(s, domain, "ip-denied", () => curveClient(s.endpoint, other));
  });

  test.each([
    ["says no", () => "not today", "not today"],
    [
      "throws",
      () => {
        throw new Error("boom");
      },
      "threw: boom",
    ],
    ["hangs past checkTimeoutMs", () => new Promise<boolean>(() => undefined), "timed out after 200 ms"],
  ])("a callback that %s denies with reason callback", async (_, check, detail) => {
    const domain = uniqueDomain();
    handles.push(auth.configure(domain, { curve: { allow: "any" }, check, checkTimeoutMs: 200 }));
    const s = await curveServer(domain);
    const denial = nextEvent((e) => e.type === "denied" && e.domain === domain);
    await expectDenied(s, domain, "callback", () => curveClient(s.endpoint, listed));
    expect(await denial).toMatchObject({ detail });
  });

  test("an async callback that says yes lets the client in and sees its key", async () => {
    const domain = uniqueDomain();
    const seen: string[] = [];
    handles.push(
      auth.configure(domain, {
        curve: { allow: "any" },
        check: async (request) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          seen.push(request.publicKey ?? "");
          return request.publicKey === listed.publicKey;
        },
      }),
    );
    const s = await curveServer(domain);
    await curveClient(s.endpoint, listed);
    expect(text(await s.firstMessage())).toEqual(["hello"]);
    expect(seen[0]).toBe(listed.publicKey);
  });

  test.each([
    [{ curve: { allow: ["not-a-key"] } }, /not Z85 CURVE public keys/],
    [{ ip: { allow: ["10.0.0.0/33"] } }, /"10.0.0.0\/33" is not an IP address or CIDR range/],
    [{ ip: { deny: ["localhost"] } }, /"localhost" is not an IP address/],
    [{ check: () => true, checkTimeoutMs: 0 }, /checkTimeoutMs/],
  ])("refuses a malformed policy at configure: %j", (policy, message) => {
    expect(() => auth.configure(uniqueDomain(), policy)).toThrow(message);
  });
});

function text(frames: readonly Buffer[]): string[] {
  return frames.map((frame) => frame.toString());
}
