import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { readCertificate, readPublicKeys, writeCertificate, generateCertificate } from "../../src/index.js";
import { missingPython, pythonPath } from "./python.js";

// Certificates exchanged with real pyzmq (Debian's python3-zmq): files written by zmq.auth.create_certificates are read
// here, files written here are read by zmq.auth.load_certificate(s), and the keys work in a real CURVE handshake.
// Where no Python with pyzmq is found the suite is skipped and says why; REQUIRE_INTEROP=1 turns that into a failure.

const skip = missingPython !== undefined && process.env["REQUIRE_INTEROP"] !== "1";
const why = missingPython === undefined ? "" : ` [skipped: ${missingPython}]`;

/** Runs a Python snippet (with `import zmq, zmq.auth, json, os, sys`) and parses the JSON it prints last. */
function python(code: string, args: readonly string[] = []): unknown {
  if (pythonPath === undefined) throw new Error(`cannot run Python: ${missingPython}`);
  const out = execFileSync(pythonPath, ["-B", "-c", `import zmq, zmq.auth, json, os, sys\n${code}`, ...args], {
    encoding: "utf8",
    timeout: 15_000,
  });
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "typed-zmq-pycerts-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip)(`certificates shared with pyzmq's zmq.auth${why}`, () => {
  test("reads both files create_certificates writes; its 0644 secret file is refused with the chmod advice", () => {
    // umask 022, as on most systems: pyzmq then writes its secret file 0644.
    const made = python(
      `os.umask(0o022)
pub, sec = zmq.auth.create_certificates(sys.argv[1], "pyclient", metadata={"name": "Py Client", "team": "ops"})
pk, sk = zmq.auth.load_certificate(sec)
print(json.dumps({"publicFile": pub, "secretFile": sec, "publicKey": pk.decode(), "secretKey": sk.decode()}))`,
      [dir],
    ) as { publicFile: string; secretFile: string; publicKey: string; secretKey: string };
    expect(made.publicFile).toBe(path.join(dir, "pyclient.key"));
    expect(made.secretFile).toBe(path.join(dir, "pyclient.key_secret"));
    expect(fs.statSync(made.secretFile).mode & 0o777).toBe(0o644);

    expect(readCertificate(made.publicFile)).toEqual({ publicKey: made.publicKey, metadata: {} });
    expect(() => readCertificate(made.secretFile)).toThrow(
      `${made.secretFile} holds a secret key, but its permissions (0644) let group or others read it. Run: chmod 600 ${made.secretFile}`,
    );
    const expected = { publicKey: made.publicKey, secretKey: made.secretKey, metadata: { name: "Py Client", team: "ops" } };
    expect(readCertificate(made.secretFile, { allowInsecurePermissions: true })).toEqual(expected);
    fs.chmodSync(made.secretFile, 0o600);
    expect(readCertificate(made.secretFile)).toEqual(expected);
    // The directory holds pyzmq's pair: its public key is listed once, the secret file is ignored.
    expect(readPublicKeys(dir)).toEqual([made.publicKey]);
  });

  test("load_certificate reads both files of both layouts we write; load_certificates lists our pyzmq-named one", () => {
    const cert = generateCertificate({ name: "typed server", role: "rpc" });
    const pyzmq = writeCertificate(dir, "server", cert, { format: "pyzmq" });
    const czmq = writeCertificate(dir, "czserver", cert, { format: "czmq" });
    const loaded = python(
      `files = [zmq.auth.load_certificate(f) for f in sys.argv[2:]]
keys = zmq.auth.load_certificates(sys.argv[1])
print(json.dumps({"files": [[p and p.decode(), s and s.decode()] for p, s in files], "dir": [k.decode() for k in keys]}))`,
      [dir, pyzmq.publicFile, pyzmq.secretFile, czmq.publicFile, czmq.secretFile],
    ) as { files: Array<[string | null, string | null]>; dir: string[] };
    expect(loaded.files).toEqual([
      [cert.publicKey, null],
      [cert.publicKey, cert.secretKey],
      [cert.publicKey, null],
      [cert.publicKey, cert.secretKey],
    ]);
    expect(loaded.dir).toEqual([cert.publicKey]);
  });

  test("the keys work: a pyzmq CURVE client with create_certificates files talks to a zeromq.js CURVE server whose keys we wrote", async () => {
    const server = writeCertificate(dir, "server", generateCertificate());
    const serverCert = readCertificate(server.secretFile);
    const socket = new zmq.Reply({ curveServer: true, curveSecretKey: serverCert.secretKey!, linger: 0 });
    try {
      await socket.bind("tcp://127.0.0.1:0");
      const served = (async () => {
        const [request] = await socket.receive();
        expect(socket.securityMechanism).toBe("curve");
        await socket.send(`echo ${request!.toString()}`);
      })();
      const client = new Promise<string>((resolve, reject) => {
        execFile(
          pythonPath!,
          [
            "-B",
            "-c",
            `import sys, os, zmq, zmq.auth
os.umask(0o077)
pub, sec = zmq.auth.create_certificates(sys.argv[1], "client")
cpk, csk = zmq.auth.load_certificate(sec)
spk, _ = zmq.auth.load_certificate(sys.argv[2])
s = zmq.Context.instance().socket(zmq.REQ)
s.curve_publickey, s.curve_secretkey, s.curve_serverkey = cpk, csk, spk
s.rcvtimeo = s.sndtimeo = 5000
s.linger = 0
s.connect(sys.argv[3])
s.send(b"hello over curve")
print(s.recv().decode())`,
            dir,
            server.publicFile,
            socket.lastEndpoint!,
          ],
          { timeout: 15_000 },
          (error, stdout, stderr) => (error === null ? resolve(stdout.trim()) : reject(new Error(`${error.message}\n${stderr}`))),
        );
      });
      expect(await client).toBe("echo hello over curve");
      await served;
      // The client's secret file pyzmq wrote under umask 077 is 0600, and reads as is.
      expect(readCertificate(path.join(dir, "client.key_secret")).secretKey).toMatch(/^.{40}$/);
    } finally {
      socket.close();
    }
  }, 20_000);
});
