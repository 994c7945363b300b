import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Authenticator, RpcServer, readCertificate, type AuthEvent, type RpcHandlers } from "../../src/index.js";
import { Orders } from "../helpers/contracts.js";
import { missingPython, startPeer, withPeers } from "./python.js";

// CURVE with pyzmq (issue 11, "pyzmq interoperability"): every certificate here is written by pyzmq's
// zmq.auth.create_certificates, in its own process; the typed RpcServer reads the server's secret certificate with
// readCertificate and admits the clients whose public certificates are in its allow-list directory. A pyzmq CURVE
// client (test/interop/peers/curve_client.py, written from pyzmq's docs) listed there talks; one that is not listed
// gets nothing through: no handler runs, and the denial is counted and reported.
// Skipped, saying why, where no Python with pyzmq is found; REQUIRE_INTEROP=1 turns the skip into a failure.

const skip = missingPython !== undefined && process.env["REQUIRE_INTEROP"] !== "1";
const why = missingPython === undefined ? "" : ` [skipped: ${missingPython}]`;

interface Created {
  readonly public: string;
  readonly secret: string;
}

/** Runs pyzmq's zmq.auth.create_certificates(dir, name) in a Python process; returns the two files it wrote. */
async function pyzmqCertificates(dir: string, name: string): Promise<Created> {
  mkdirSync(dir, { recursive: true });
  const peer = startPeer("curve_client", ["keygen", dir, name]);
  const created = await peer.waitFor<Created>("created");
  expect(await peer.program.exited).toBe(0);
  return created;
}

describe.skipIf(skip)(`a pyzmq CURVE client and a typed RpcServer over tcp${why}`, () => {
  let root = "";
  let server: Created;
  let listed: Created;
  let intruder: Created;
  let allowDir = "";

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "tzmq-curve-interop-"));
    server = await pyzmqCertificates(join(root, "server"), "server");
    listed = await pyzmqCertificates(join(root, "clients"), "listed");
    intruder = await pyzmqCertificates(join(root, "intruders"), "intruder");
    // The allow-list directory holds the listed client's public certificate only, as a user would copy it there.
    allowDir = join(root, "allow");
    mkdirSync(allowDir);
    copyFileSync(listed.public, join(allowDir, basename(listed.public)));
  }, 30_000);

  afterAll(() => {
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  test("pyzmq writes the secret file with the umask; readCertificate refuses it until it is chmod 600", () => {
    chmodSync(server.secret, 0o644); // what pyzmq leaves under the common umask 022, whatever the umask here is
    expect(() => readCertificate(server.secret)).toThrow(/chmod 600/);
    expect(() => readCertificate(server.secret)).toThrow(server.secret);
    chmodSync(server.secret, 0o600);
    const cert = readCertificate(server.secret);
    expect(cert.secretKey).toMatch(/^.{40}$/);
    expect(readCertificate(server.public).publicKey).toBe(cert.publicKey);
  });

  test("the listed client's calls are answered; the unlisted one gets nothing through and is counted as denied", async () => {
    chmodSync(server.secret, 0o600);
    let invocations = 0;
    const handlers: RpcHandlers<typeof Orders> = {
      echo: (request) => (invocations++, request),
      getOrder: ({ id }) => (invocations++, { id, total: id * 2 }),
      wait: (request) => (invocations++, request),
      whoami: () => (invocations++, { server: "typed" }),
    };
    const auth = Authenticator.shared();
    const denials: AuthEvent[] = [];
    const stopListening = auth.onEvent((event) => {
      if (event.type === "denied") denials.push(event);
    });
    try {
      await using rpc = await RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers, {
        curve: { certificate: readCertificate(server.secret), allow: { dir: allowDir } },
      });
      await withPeers(async (start) => {
        const calls = [
          ["echo", JSON.stringify({ text: "over CURVE from pyzmq" })],
          ["getOrder", JSON.stringify({ id: 21 })],
        ];
        const client = start("curve_client", ["call", rpc.endpoint, listed.secret, server.public, JSON.stringify(calls)]);
        const replies = await client.waitFor<string[][]>("replies", 8_000);
        expect(replies.map(([status = "", body = ""]) => [status, JSON.parse(body) as unknown])).toEqual([
          ["ok", { text: "over CURVE from pyzmq" }],
          ["ok", { id: 21, total: 42 }],
        ]);
        expect(await client.program.exited).toBe(0);
        expect(invocations).toBe(2);

        const deniedBefore = auth.stats.denied["unknown-key"];
        const other = start("curve_client", [
          "call",
          rpc.endpoint,
          intruder.secret,
          server.public,
          JSON.stringify([["echo", JSON.stringify({ text: "let me in" })]]),
          1_500,
        ]);
        expect(await other.waitFor<number>("received", 8_000)).toBe(0);
        expect(await other.program.exited).toBe(0);
        expect(invocations, "no handler ran for the unlisted client").toBe(2);
        expect(auth.stats.denied["unknown-key"]).toBeGreaterThan(deniedBefore);
        expect(denials).toContainEqual(
          expect.objectContaining({
            type: "denied",
            reason: "unknown-key",
            publicKey: readCertificate(intruder.public).publicKey,
          }),
        );
      });
    } finally {
      stopListening();
    }
  }, 30_000);
});
