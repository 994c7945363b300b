import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import {
  PipelineBroker,
  PipelineSink,
  PipelineSource,
  PipelineWorker,
  RpcBroker,
  RpcClient,
  RpcServer,
  readCertificate,
  type PipelineBrokerEvent,
} from "../../src/index.js";
import { Greeter } from "../../schemas/greeter.js";
import { Tasks } from "../../schemas/tasks.js";
import { deferred, within } from "../helpers/deferred.js";
import { killAll, startProcess, type Program } from "../helpers/programs.js";
import { missingPython, pythonPath } from "./python.js";

// The pyzmq examples in docs/protocol.md (CURVE, Majordomo, the reliable pipeline) are run as written, against a typed-zmq broker on ephemeral
// ports (only the endpoints are replaced), so the protocol document cannot drift from what the code speaks.

const skip = missingPython !== undefined && process.env["REQUIRE_INTEROP"] !== "1";
const why = missingPython === undefined ? "" : ` [skipped: ${missingPython}]`;

const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
const blocks = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
const mdpClient = blocks.find((b) => b.includes('b"MDPC01"'));
const mdpWorker = blocks.find((b) => b.includes('b"MDPW01"') && b.includes("greeter.v1"));
const reliableWorker = blocks.find((b) => b.includes('b"MDPW01"') && b.includes("tasks.v1"));
const reliableSource = blocks.find((b) => b.includes('b"TZPC01", b"\\x01"'));
const reliableSink = blocks.find((b) => b.includes('b"TZPC01", b"\\x04"'));
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

describe.skipIf(skip)(`docs/protocol.md pyzmq examples${why}`, () => {
  test("the examples are in the document", () => {
    expect(mdpClient).toBeDefined();
    expect(mdpWorker).toBeDefined();
    expect(curveClient).toBeDefined();
    expect(reliableWorker).toBeDefined();
    expect(reliableSource).toBeDefined();
    expect(reliableSink).toBeDefined();
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

  test("the reliable worker example, with the broker's default heartbeats, serves a typed source and sink", async () => {
    const events: PipelineBrokerEvent[] = [];
    await using broker = await PipelineBroker.bind(
      { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
      { onEvent: (e) => events.push(e) },
    );
    const worker = run("reliable-worker", reliableWorker ?? "", broker);
    await broker.waitForWorkers(1, { queue: Tasks.name, timeoutMs: 5_000 });
    await using source = await PipelineSource.connect(broker.frontend, Tasks, { mode: "reliable" });
    await using sink = await PipelineSink.connect(broker.frontend, Tasks, { mode: "reliable" });
    const ids = Array.from({ length: 10 }, (_, id) => `docs-${id}`);
    await Promise.all(ids.map((taskId, id) => source.push({ id, workMs: id }, { id: taskId, timeoutMs: 5_000 })));
    const outcomes = await sink.collect(10, { timeoutMs: 5_000 });
    expect(outcomes.map((o) => o.taskId).sort()).toEqual([...ids].sort());
    for (const outcome of outcomes) {
      const id = Number(outcome.taskId?.slice("docs-".length));
      expect(outcome).toEqual({ ok: true, taskId: `docs-${id}`, result: { id, worker: "python", ms: id } });
    }
    expect(events.filter((e) => e.type === "worker:ready")).toEqual([
      expect.objectContaining({ queue: Tasks.name, capacity: 1, batch: false }),
    ]);
    expect(broker.stats).toMatchObject({ completed: 10, redelivered: 0, evicted: 0 });
    expect(worker.lines.filter((l) => l.includes("Traceback"))).toEqual([]);
  }, 15_000);

  test("the reliable source example pushes with no worker up; the sink example, started after the work, gets every result", async () => {
    const sinkLeft = deferred<PipelineBrokerEvent>();
    await using broker = await PipelineBroker.bind(
      { frontend: "tcp://127.0.0.1:0", backend: "tcp://127.0.0.1:0" },
      { onEvent: (e) => (e.type === "sink:lost" ? sinkLeft.resolve(e) : undefined) },
    );
    const source = run("reliable-source", reliableSource ?? "", broker);
    expect(await source.exited, source.lines.join("\n")).toBe(0);
    expect(source.lines).toEqual(["accepted 10"]);
    expect(broker.stats).toMatchObject({ accepted: 10, queued: 10, completed: 0 });
    await using worker = await PipelineWorker.connect(
      { tasks: broker.backend },
      Tasks,
      ({ id, workMs }) => ({ id, worker: "typed", ms: workMs }),
      { mode: "reliable" },
    );
    const sink = run("reliable-sink", reliableSink ?? "", broker);
    expect(await sink.exited, sink.lines.join("\n")).toBe(0);
    expect(sink.lines).toEqual(Array.from({ length: 10 }, (_, id) => `py-${id} 0 ${id}`));
    expect(worker.stats.completed).toBe(10);
    // Its DISCONNECT comes after its last TAKEN on the same connection.
    expect(await within(sinkLeft.promise, 5_000, "the sink's DISCONNECT")).toMatchObject({ reason: "disconnected", returned: 0 });
    expect(broker.stats).toMatchObject({ completed: 10, taken: 10, results: 0 });
  }, 15_000);
});
