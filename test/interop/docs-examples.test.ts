import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { RpcBroker, RpcClient, RpcServer, readCertificate } from "../../src/index.js";
import { Greeter } from "../../schemas/greeter.js";
import { killAll, startProcess, type Program } from "../helpers/programs.js";
import { missingPython, pythonPath } from "./python.js";

// The pyzmq Majordomo examples in docs/protocol.md are run as written, against a typed-zmq broker on ephemeral
// ports (only the endpoints are replaced), so the protocol document cannot drift from what the code speaks.

const skip = missingPython !== undefined && process.env["REQUIRE_INTEROP"] !== "1";
const why = missingPython === undefined ? "" : ` [skipped: ${missingPython}]`;

const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
const blocks = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
const mdpClient = blocks.find((b) => b.includes('b"MDPC01"'));
const mdpWorker = blocks.find((b) => b.includes('b"MDPW01"'));
const curveClient = blocks.find((b) => b.includes("curve_serverkey"));
const dir = mkdtempSync(join(tmpdir(), "typed-zmq-docs-"));
const programs: Program[] = [];

afterAll(async () => {
  await killAll(programs);
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `code` with the example's fixed endpoints replaced, and starts it. */
function run(name: string, code: string, endpoints: { frontend: string; backend: string }): Program {
  const file = join(dir, `${name}.py`);
  writeFileSync(
    file,
    code.replaceAll("tcp://127.0.0.1:5559", endpoints.frontend).replaceAll("tcp://127.0.0.1:5560", endpoints.backend),
  );
  const program = startProcess(name, [pythonPath ?? "python3", "-u", file]);
  programs.push(program);
  return program;
}

describe.skipIf(skip)(`docs/protocol.md pyzmq Majordomo examples${why}`, () => {
  test("the examples are in the document", () => {
    expect(mdpClient).toBeDefined();
    expect(mdpWorker).toBeDefined();
    expect(curveClient).toBeDefined();
  });

  test("the CURVE client example, with certificates pyzmq wrote, talks to a typed server that lists it", async () => {
    // pyzmq writes the certificates (with the umask: the secret files are made private, as typed-zmq asks).
    const keygen = startProcess("keygen", [
      pythonPath ?? "python3",
      "-c",
      "import os, sys, zmq.auth\nfor d, n in (('certs', 'server'), ('clients', 'ada')):\n    os.makedirs(os.path.join(sys.argv[1], d))\n    zmq.auth.create_certificates(os.path.join(sys.argv[1], d), n)",
      dir,
    ]);
    programs.push(keygen);
    expect(await keygen.exited, keygen.lines.join("\n")).toBe(0);
    for (const file of ["certs/server.key_secret", "clients/ada.key_secret"]) chmodSync(join(dir, file), 0o600);
    await using server = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Greeter,
      { hello: ({ name }) => ({ greeting: `Hello, ${name}!` }) },
      { curve: { certificate: readCertificate(join(dir, "certs/server.key_secret")), allow: { dir: join(dir, "clients") } } },
    );
    const code = (curveClient ?? "")
      .replaceAll('"clients/', `"${dir}/clients/`)
      .replaceAll('"certs/', `"${dir}/certs/`)
      .replaceAll("tcp://127.0.0.1:5555", server.endpoint);
    const client = run("curve-client", code, { frontend: "", backend: "" });
    expect(await client.exited, client.lines.join("\n")).toBe(0);
    expect(client.lines).toEqual([`['ok', '{"greeting":"Hello, Ada!"}']`]);
    expect(server.stats.succeeded).toBe(1);
  });

  test("the MDP client example gets its reply from a typed worker and the MMI answer 200", async () => {
    await using broker = await RpcBroker.bind({ frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" });
    await using worker = await RpcServer.connect(
      broker.backend,
      Greeter,
      { hello: ({ name }) => ({ greeting: `Hello, ${name}!` }) },
      { service: "greeter.v1" },
    );
    await broker.waitForServers(1, { timeoutMs: 5_000 });
    const client = run("mdp-client", mdpClient ?? "", broker);
    expect(await client.exited, client.lines.join("\n")).toBe(0);
    expect(client.lines).toEqual(["greeter.v1 ok {'greeting': 'Hello, Ada!'}", "200"]);
    expect(worker.stats.succeeded).toBe(1);
  });

  test("the MDP worker example serves typed calls with five in flight, one at a time (no capacity frame)", async () => {
    await using broker = await RpcBroker.bind(
      { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
      { heartbeatMs: 2_500, liveness: 3 },
    );
    const worker = run("mdp-worker", mdpWorker ?? "", broker);
    await broker.waitForServers(1, { service: "greeter.v1", timeoutMs: 5_000 });
    await using client = await RpcClient.connect(broker.frontend, Greeter, { service: "greeter.v1", timeoutMs: 5_000 });
    const names = ["Ada", "Bob", "Cy", "Di", "Ed"];
    const replies = await Promise.all(names.map((name) => client.call("hello", { name })));
    expect(replies).toEqual(names.map((name) => ({ greeting: `Hello, ${name}!` })));
    expect(broker.services()).toEqual([
      { service: "greeter.v1", workers: [expect.objectContaining({ capacity: 1, inFlight: 0 })], queued: 0 },
    ]);
    expect(worker.lines.filter((l) => l.includes("Traceback"))).toEqual([]);
  });
});
