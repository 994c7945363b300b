import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { lstat, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import {
  ClosedError,
  EndpointInUseError,
  ErrorCode,
  InvalidEndpointError,
  MAX_IPC_PATH_BYTES,
  TRANSPORTS,
  TransportUnavailableError,
  parseEndpoint,
} from "../src/index.js";
import type { ParsedEndpoint } from "../src/index.js";
import { bindEndpoint, connectEndpoint, endpointList } from "../src/internal/attach.js";
import type { EndpointUse } from "../src/internal/attach.js";
import { within } from "./helpers/deferred.js";
import { endpointFor } from "./helpers/endpoints.js";

// Parse-only tests never bind, so fixed port numbers are harmless; they are interpolated so that no literal
// fixed-port tcp endpoint appears in the test tree (see the house rules).
const PORT = 5555;

/** The InvalidEndpointError `fn` throws; fails the test if it throws anything else or nothing. */
function invalidEndpoint(fn: () => unknown): InvalidEndpointError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidEndpointError) return err;
    throw err;
  }
  throw new Error("expected an InvalidEndpointError, but the call succeeded");
}

/** What `fn` throws or rejects with (zeromq.js and the helpers throw some failures synchronously). */
async function failureOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure, but the call succeeded");
}

function ipcPath(): string {
  return join(tmpdir(), `tzmq-${process.pid}-${randomUUID().slice(0, 12)}.sock`);
}

describe("parseEndpoint accepts", () => {
  const accepted: readonly (readonly [string, ParsedEndpoint])[] = [
    [
      `tcp://127.0.0.1:${PORT}`,
      { endpoint: `tcp://127.0.0.1:${PORT}`, transport: "tcp", address: `127.0.0.1:${PORT}`, host: "127.0.0.1", port: "5555" },
    ],
    ["tcp://*:0", { endpoint: "tcp://*:0", transport: "tcp", address: "*:0", host: "*", port: "*" }],
    ["tcp://*:*", { endpoint: "tcp://*:*", transport: "tcp", address: "*:*", host: "*", port: "*" }],
    [
      `tcp://localhost:80`,
      { endpoint: `tcp://localhost:80`, transport: "tcp", address: "localhost:80", host: "localhost", port: "80" },
    ],
    [
      `tcp://[::1]:${PORT}`,
      { endpoint: `tcp://[::1]:${PORT}`, transport: "tcp", address: `[::1]:${PORT}`, host: "[::1]", port: "5555" },
    ],
    [
      `tcp://127.0.0.1:65535`,
      { endpoint: `tcp://127.0.0.1:65535`, transport: "tcp", address: "127.0.0.1:65535", host: "127.0.0.1", port: "65535" },
    ],
    ["ipc:///tmp/x.sock", { endpoint: "ipc:///tmp/x.sock", transport: "ipc", address: "/tmp/x.sock" }],
    ["ipc://*", { endpoint: "ipc://*", transport: "ipc", address: "*" }],
    ["inproc://name", { endpoint: "inproc://name", transport: "inproc", address: "name" }],
    [
      "epgm://127.0.0.1;239.192.1.1:5555",
      {
        endpoint: "epgm://127.0.0.1;239.192.1.1:5555",
        transport: "epgm",
        address: "127.0.0.1;239.192.1.1:5555",
        host: "239.192.1.1",
        port: "5555",
      },
    ],
    [
      "pgm://10.0.0.1;239.1.1.1:7000",
      {
        endpoint: "pgm://10.0.0.1;239.1.1.1:7000",
        transport: "pgm",
        address: "10.0.0.1;239.1.1.1:7000",
        host: "239.1.1.1",
        port: "7000",
      },
    ],
  ];

  test.each(accepted)("%s", (endpoint, expected) => {
    expect(parseEndpoint(endpoint)).toStrictEqual(expected);
  });

  test("an ipc path of exactly MAX_IPC_PATH_BYTES bytes", () => {
    expect(MAX_IPC_PATH_BYTES).toBe(107);
    const path = `/tmp/${"p".repeat(MAX_IPC_PATH_BYTES - "/tmp/".length)}`;
    expect(Buffer.byteLength(path)).toBe(107);
    expect(parseEndpoint(`ipc://${path}`).address).toBe(path);
  });

  test("every transport in TRANSPORTS", () => {
    expect(TRANSPORTS).toEqual(["tcp", "ipc", "inproc", "pgm", "epgm"]);
  });
});

describe("parseEndpoint rejects", () => {
  const longIpc = `ipc:///tmp/${"x".repeat(110)}.sock`;
  const rejected: readonly (readonly [string, string])[] = [
    ["tcp:/x", "missing '<transport>://'"],
    ["http://x:1", "unknown transport 'http'"],
    ["tcp://", "nothing after '://'"],
    ["tcp://127.0.0.1", "missing ':port'"],
    [`tcp://:${PORT}`, `missing host before ':${PORT}'`],
    [`tcp://:${PORT}`, "use '*' to bind every interface"],
    ["tcp://127.0.0.1:", "missing port after '127.0.0.1:'"],
    ["tcp://[::1]", "missing ':port'"],
    [`epgm://127.0.0.1;:${PORT}`, `missing host before ':${PORT}'`],
    [`tcp://127.0.0.1:99999`, "port 99999 is above 65535"],
    [`tcp://127.0.0.1:65536`, "port 65536 is above 65535"],
    ["tcp://127.0.0.1:abc", "port 'abc' is not a number from 0 to 65535 or '*'"],
    ["tcp://127.0.0.1:-1", "port '-1' is not a number"],
    ["tcp://bad host:1", "whitespace"],
    ["tcp://bad_host:1", "host 'bad_host' is not '*', an IPv4 address, [an IPv6 address] or a host name"],
    [`tcp://::1:${PORT}`, "host '::1' is not '*'"],
    ["tcp://999.1.1.1:1", "host '999.1.1.1' is not '*', an IPv4 address"],
    ["tcp://10.0.0:1", "host '10.0.0' is not '*', an IPv4 address"],
    [longIpc, "over the 107-byte limit"],
    ["epgm://239.192.1.1:5555", "without the interface part libzmq aborts the process"],
    ["pgm://239.192.1.1:5555", "without the interface part libzmq aborts the process"],
    ["epgm://lo;239.192.1.1:5555", "interface 'lo' must be an IP address"],
    ["epgm://127.0.0.1;10.0.0.1:5555", "group '10.0.0.1' must be an IPv4 multicast address"],
    ["epgm://127.0.0.1;240.0.0.1:5555", "group '240.0.0.1' must be an IPv4 multicast address"],
    ["epgm://127.0.0.1;239.1.1.1:0", "needs a fixed port, not 0 or '*'"],
    ["epgm://127.0.0.1;239.1.1.1:*", "needs a fixed port"],
    ["epgm://127.0.0.1;239.1.1.1", "missing ':port'"],
  ];

  test.each(rejected)("%s", (endpoint, why) => {
    const err = invalidEndpoint(() => parseEndpoint(endpoint));
    expect(err.code).toBe(ErrorCode.INVALID_ENDPOINT);
    expect(err.code).toBe("INVALID_ENDPOINT");
    expect(err.endpoint).toBe(endpoint);
    expect(err.message).toContain(`'${endpoint}'`);
    expect(err.message).toContain(why);
    expect(err.message).toContain("tcp://host:port");
  });

  test("a full message states the endpoint, the reason and the accepted forms", () => {
    const err = invalidEndpoint(() => parseEndpoint("epgm://239.192.1.1:5555"));
    expect(err.message).toMatchInlineSnapshot(
      `"endpoint 'epgm://239.192.1.1:5555' is not valid: epgm needs 'interface-ip;group-ip:port' (for example epgm://127.0.0.1;239.192.1.1:5555); without the interface part libzmq aborts the process. Expected tcp://host:port, ipc://path, inproc://name, pgm://interface;group:port or epgm://interface;group:port."`,
    );
  });

  test("an ipc path one byte over the limit, counting UTF-8 bytes rather than characters", () => {
    const ascii = `/tmp/${"p".repeat(MAX_IPC_PATH_BYTES + 1 - "/tmp/".length)}`;
    expect(invalidEndpoint(() => parseEndpoint(`ipc://${ascii}`)).message).toContain("is 108 bytes");
    // 54 two-byte characters: 54 characters but 108 bytes.
    const wide = "é".repeat(54);
    expect(wide.length).toBeLessThan(MAX_IPC_PATH_BYTES);
    const err = invalidEndpoint(() => parseEndpoint(`ipc://${wide}`));
    expect(err.message).toContain("107");
    expect(err.message).toContain("is 108 bytes");
  });

  test("a value that is not a string", () => {
    const notAString: unknown = 5555;
    const err = invalidEndpoint(() => parseEndpoint(notAString as string));
    expect(err.message).toContain("expected a string, got number");
  });
});

describe("bindEndpoint and connectEndpoint with real sockets", () => {
  const use: EndpointUse = { owner: "Test", multicast: false };
  const multicast: EndpointUse = { owner: "Publisher", multicast: true };
  const sockets: zmq.Socket[] = [];
  function track<T extends zmq.Socket>(socket: T): T {
    sockets.push(socket);
    return socket;
  }
  afterEach(() => {
    for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  });

  /** Connects a Push to `endpoint` and checks that `pull` receives what it sends. */
  async function exchange(pull: zmq.Pull, endpoint: string): Promise<void> {
    const push = track(new zmq.Push({ linger: 0 }));
    expect(connectEndpoint(push, endpoint, use)).toBe(endpoint);
    const text = `hello ${randomUUID()}`;
    const [, frames] = await within(Promise.all([push.send(text), pull.receive()]), 2_000, `a message over ${endpoint}`);
    expect(frames.map((f) => f.toString("utf8"))).toEqual([text]);
  }

  test.each(["tcp://127.0.0.1:0", "tcp://127.0.0.1:*"])("%s binds a concrete port that a peer can reach", async (endpoint) => {
    const pull = track(new zmq.Pull({ linger: 0 }));
    const real = await bindEndpoint(pull, endpoint, use);
    const match = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(real);
    expect(match, real).not.toBeNull();
    const port = Number(match?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThanOrEqual(65535);
    expect(real).toBe(pull.lastEndpoint);
    await exchange(pull, real);
  });

  test("ipc://* binds a concrete path that a peer can reach", async () => {
    const pull = track(new zmq.Pull({ linger: 0 }));
    const real = await bindEndpoint(pull, "ipc://*", use);
    expect(real).toMatch(/^ipc:\/\/./);
    expect(real).not.toContain("*");
    expect(parseEndpoint(real).transport).toBe("ipc");
    await exchange(pull, real);
  });

  // libzmq alone would put `ipc://*` under $TMPDIR or, when unset, relative to the working directory.
  test("ipc://* returns an absolute path even when TMPDIR is unset", async () => {
    const saved = { TMPDIR: process.env["TMPDIR"], TEMPDIR: process.env["TEMPDIR"], TMP: process.env["TMP"] };
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the environment is a dictionary; restored below
    for (const key of Object.keys(saved)) delete process.env[key];
    try {
      const pull = track(new zmq.Pull({ linger: 0 }));
      const real = await bindEndpoint(pull, "ipc://*", use);
      expect(isAbsolute(real.slice("ipc://".length)), real).toBe(true);
    } finally {
      for (const [key, value] of Object.entries(saved)) if (value !== undefined) process.env[key] = value;
    }
  });

  test("a unique ipc path binds to that same path", async () => {
    const endpoint = `ipc://${ipcPath()}`;
    const pull = track(new zmq.Pull({ linger: 0 }));
    expect(await bindEndpoint(pull, endpoint, use)).toBe(endpoint);
    await exchange(pull, endpoint);
  });

  test("an inproc name binds to that same name", async () => {
    const endpoint = endpointFor("inproc");
    const pull = track(new zmq.Pull({ linger: 0 }));
    expect(await bindEndpoint(pull, endpoint, use)).toBe(endpoint);
    await exchange(pull, endpoint);
  });

  test("binding a tcp endpoint that is already bound throws EndpointInUseError", async () => {
    const first = track(new zmq.Pull({ linger: 0 }));
    const real = await bindEndpoint(first, "tcp://127.0.0.1:0", use);
    const second = track(new zmq.Pull({ linger: 0 }));
    const err = await failureOf(() => bindEndpoint(second, real, use));
    expect(err).toBeInstanceOf(EndpointInUseError);
    if (!(err instanceof EndpointInUseError)) return;
    expect(err.code).toBe("ENDPOINT_IN_USE");
    expect(err.endpoint).toBe(real);
    expect(err.message).toContain(`Cannot bind '${real}'`);
    expect(err.cause).toMatchObject({ code: "EADDRINUSE" });
    // The first socket still owns the endpoint and still receives.
    await exchange(first, real);
  });

  // libzmq alone unlinks the file of a live socket and takes its path: the other process keeps running, unreachable.
  test("binding an ipc path where a live socket listens throws EndpointInUseError; the first socket keeps the path", async () => {
    const endpoint = `ipc://${ipcPath()}`;
    const first = track(new zmq.Pull({ linger: 0 }));
    await bindEndpoint(first, endpoint, use);
    const second = track(new zmq.Pull({ linger: 0 }));
    const err = await failureOf(() => bindEndpoint(second, endpoint, use));
    expect(err).toBeInstanceOf(EndpointInUseError);
    expect(err).toMatchObject({
      code: "ENDPOINT_IN_USE",
      endpoint,
      message: expect.stringContaining(`Cannot bind '${endpoint}': the address is already in use`),
      cause: { message: expect.stringContaining("a live socket accepted a connection") },
    });
    expect(second.lastEndpoint).toBeNull();
    await exchange(first, endpoint);
  });

  test("binding an ipc path where a plain node:net server listens throws EndpointInUseError", async () => {
    const path = ipcPath();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const err = await failureOf(() => bindEndpoint(track(new zmq.Pull({ linger: 0 })), `ipc://${path}`, use));
      expect(err).toBeInstanceOf(EndpointInUseError);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  // A process killed with SIGKILL leaves its socket file behind; nobody accepts on it, so the path may be reused.
  test("binding an ipc path left behind by a SIGKILLed process reuses it", async () => {
    const path = ipcPath();
    const child = spawn(
      process.execPath,
      ["-e", `require("node:net").createServer().listen(${JSON.stringify(path)}, () => console.log("listening"))`],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await within(new Promise<void>((resolve) => child.stdout.once("data", () => resolve())), 3_000, "the child to listen");
      // Alive: refused.
      expect(await failureOf(() => bindEndpoint(track(new zmq.Pull({ linger: 0 })), `ipc://${path}`, use))).toBeInstanceOf(
        EndpointInUseError,
      );
    } finally {
      child.kill("SIGKILL");
      await within(exited, 3_000, "the child to die");
    }
    expect((await lstat(path)).isSocket()).toBe(true); // the stale file is still there
    const pull = track(new zmq.Pull({ linger: 0 }));
    expect(await bindEndpoint(pull, `ipc://${path}`, use)).toBe(`ipc://${path}`);
    await exchange(pull, `ipc://${path}`);
  });

  test("binding an ipc path that is a regular file is refused, and the file is kept", async () => {
    const path = ipcPath();
    await writeFile(path, "not a socket");
    try {
      const err = await failureOf(() => bindEndpoint(track(new zmq.Pull({ linger: 0 })), `ipc://${path}`, use));
      expect(err).toBeInstanceOf(InvalidEndpointError);
      expect(err).toMatchObject({ message: expect.stringContaining("exists and is not a socket") });
      expect(await readFile(path, "utf8")).toBe("not a socket");
    } finally {
      await rm(path, { force: true });
    }
  });

  test("binding an inproc name that is already bound throws EndpointInUseError", async () => {
    const endpoint = endpointFor("inproc");
    await bindEndpoint(track(new zmq.Pull({ linger: 0 })), endpoint, use);
    const err = await failureOf(() => bindEndpoint(track(new zmq.Pull({ linger: 0 })), endpoint, use));
    expect(err).toBeInstanceOf(EndpointInUseError);
  });

  test("binding or connecting a closed socket throws ClosedError", async () => {
    const socket = track(new zmq.Pull({ linger: 0 }));
    socket.close();
    const bindErr = await failureOf(() => bindEndpoint(socket, "tcp://127.0.0.1:0", use));
    expect(bindErr).toBeInstanceOf(ClosedError);
    expect(bindErr).toMatchObject({ code: "CLOSED", cause: { code: "EBADF" } });
    const connectErr = await failureOf(() => connectEndpoint(socket, endpointFor("inproc"), use));
    expect(connectErr).toBeInstanceOf(ClosedError);
  });

  test("an invalid endpoint is refused before libzmq sees it", async () => {
    const socket = track(new zmq.Pull({ linger: 0 }));
    const err = await failureOf(() => bindEndpoint(socket, "tcp://127.0.0.1", use));
    expect(err).toBeInstanceOf(InvalidEndpointError);
    expect(socket.lastEndpoint).toBeNull();
  });

  test.each(["tcp://127.0.0.1:0", "tcp://127.0.0.1:00", "tcp://127.0.0.1:*", `tcp://*:${PORT}`, "ipc://*"])(
    "connectEndpoint refuses %s with InvalidEndpointError",
    (endpoint) => {
      const socket = track(new zmq.Push({ linger: 0 }));
      const err = invalidEndpoint(() => connectEndpoint(socket, endpoint, use));
      expect(err.code).toBe("INVALID_ENDPOINT");
      expect(err.endpoint).toBe(endpoint);
      expect(err.message).toContain(`'${endpoint}'`);
      expect(err.message).toMatch(/only makes? sense for bind/);
    },
  );

  describe.each(["epgm://127.0.0.1;239.192.1.1:5555", "pgm://10.0.0.1;239.1.1.1:7000"])("%s", (endpoint) => {
    test("is refused for a pattern that is not publish-subscribe (bind and connect)", async () => {
      const pull = track(new zmq.Pull({ linger: 0 }));
      const bindErr = await failureOf(() => bindEndpoint(pull, endpoint, { owner: "PipelineWorker", multicast: false }));
      expect(bindErr).toBeInstanceOf(InvalidEndpointError);
      if (!(bindErr instanceof InvalidEndpointError)) return;
      expect(bindErr.code).toBe("INVALID_ENDPOINT");
      expect(bindErr.message).toContain("PipelineWorker cannot use");
      expect(bindErr.message).toContain("only publish-subscribe");
      expect(pull.lastEndpoint).toBeNull();

      const push = track(new zmq.Push({ linger: 0 }));
      const connectErr = invalidEndpoint(() => connectEndpoint(push, endpoint, { owner: "Pusher", multicast: false }));
      expect(connectErr.message).toContain("only publish-subscribe");
    });

    test.runIf(!zmq.capability.pgm)(
      "throws TransportUnavailableError when libzmq has no PGM, without reaching libzmq",
      async () => {
        const pub = track(new zmq.Publisher({ linger: 0 }));
        const err = await failureOf(() => bindEndpoint(pub, endpoint, multicast));
        expect(err).toBeInstanceOf(TransportUnavailableError);
        if (!(err instanceof TransportUnavailableError)) return;
        expect(err.code).toBe("TRANSPORT_UNAVAILABLE");
        expect(err.endpoint).toBe(endpoint);
        expect(err.transport).toBe(endpoint.slice(0, endpoint.indexOf(":")));
        expect(err.message).toContain(`Cannot use '${endpoint}'`);
        expect(err.message).toContain("was built without PGM");
        // Our own check, not a mapped libzmq failure: no zeromq error as cause.
        expect("cause" in err).toBe(false);
        expect(pub.lastEndpoint).toBeNull();

        const sub = track(new zmq.Subscriber({ linger: 0 }));
        const connectErr = await failureOf(() => connectEndpoint(sub, endpoint, { owner: "Subscriber", multicast: true }));
        expect(connectErr).toBeInstanceOf(TransportUnavailableError);
        expect(connectErr).toMatchObject({ message: expect.stringContaining("was built without PGM") });

        // On a closed socket libzmq would answer EBADF (ClosedError); the PGM check runs first.
        const closed = track(new zmq.Publisher({ linger: 0 }));
        closed.close();
        expect(await failureOf(() => bindEndpoint(closed, endpoint, multicast))).toBeInstanceOf(TransportUnavailableError);
      },
    );
  });
});

describe("endpointList", () => {
  test("accepts one endpoint or a non-empty list", () => {
    expect(endpointList("inproc://a", "Subscriber.connect")).toEqual(["inproc://a"]);
    expect(endpointList(["inproc://a", "inproc://b"], "Subscriber.connect")).toEqual(["inproc://a", "inproc://b"]);
  });

  test("rejects an empty list with a TypeError naming the owner and the option", () => {
    expect(() => endpointList([], "Subscriber.connect")).toThrow(TypeError);
    expect(() => endpointList([], "Subscriber.connect")).toThrow(/^Subscriber\.connect: `endpoint` must be/);
  });
});
