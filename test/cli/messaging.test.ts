import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCli, type CliRun } from "../helpers/cli-run.js";
import { killAll, startProcess, startProgram, type Program } from "../helpers/programs.js";

/** A loopback port nothing listens on: bound on port 0, read back, and closed again. */
function freedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// The messaging commands of the real `typed-zmq` command (node --import tsx src/cli.ts), run as child processes
// against the demo programs, each started on port 0 and read back from its output. Every child is killed at the end.

function cli(...args: string[]): Promise<CliRun> {
  return runCli(args, { NO_COLOR: "1" });
}

/** The JSON lines of a run's stdout. */
function jsonLines(stdout: string): unknown[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as unknown);
}

const programs: Program[] = [];

function start(name: string, file: string, env: Record<string, string>, args: readonly string[] = []): Program {
  const program = startProgram(name, file, env, args);
  programs.push(program);
  return program;
}

/** Starts a CLI command that binds port 0, and resolves with it and the endpoint it announced. */
async function cliBound(name: string, args: readonly string[]): Promise<{ program: Program; endpoint: string }> {
  const program = start(name, "src/cli.ts", { NO_COLOR: "1" }, args);
  const [, endpoint] = await program.waitForLine(/: bound (tcp:\/\/\S+)$/, 15_000);
  return { program, endpoint: endpoint! };
}

const TCP = /(tcp:\/\/127\.0\.0\.1:\d+)/;

let server = "";
let frontend = "";
let publisher = "";

beforeAll(async () => {
  const rpc = start("server", "examples/request-reply/server.ts", { RPC_BIND: "tcp://127.0.0.1:0", SERVER_NAME: "direct" });
  const broker = start("broker", "examples/broker/broker.ts", {
    BROKER_FRONTEND_BIND: "tcp://127.0.0.1:0",
    BROKER_BACKEND_BIND: "tcp://127.0.0.1:0",
    HEARTBEAT_MS: "500",
  });
  const pub = start("publisher", "examples/pub-sub/publisher.ts", { PUB_BIND: "tcp://127.0.0.1:0", RATE: "50" });
  const [[, s], [, f, backend], [, p]] = await Promise.all([
    rpc.waitForLine(new RegExp(`listening on ${TCP.source}`)),
    broker.waitForLine(new RegExp(`rpc frontend ${TCP.source}, backend ${TCP.source}`)),
    pub.waitForLine(new RegExp(`publishing on ${TCP.source}`)),
  ]);
  server = s!;
  frontend = f!;
  publisher = p!;
  const worker = start("worker", "examples/request-reply/server.ts", {
    RPC_CONNECT_BACKEND: backend!,
    HEARTBEAT_MS: "500",
    SERVER_NAME: "brokered",
  });
  await worker.waitForLine(/MDP worker for service greeter\.v1/);
}, 30_000);

afterAll(async () => {
  await Promise.all(programs.map((p) => p.stop()));
  await killAll(programs);
});

describe("typed-zmq messaging commands", { timeout: 30_000 }, () => {
  test("call: direct, human and --json, with and without the contract", async () => {
    const [human, json, checked, refused] = await Promise.all([
      cli("call", server, "hello", '{"name":"Ada"}'),
      cli("call", "--json", server, "hello", '{"name":"Bo"}'),
      cli("call", "--json", "--contract", "schemas/greeter.ts", server, "hello", '{"name":"Cy"}'),
      cli("call", "--contract", "schemas/greeter.ts", server, "hello", '{"name":""}'),
    ]);
    expect(human).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(human.stdout)).toEqual({ greeting: "Hello world back at ya, Ada! (from direct)" });
    expect(json.code).toBe(0);
    expect(jsonLines(json.stdout)).toEqual([{ ok: true, reply: { greeting: "Hello world back at ya, Bo! (from direct)" } }]);
    expect(jsonLines(checked.stdout)).toEqual([{ ok: true, reply: { greeting: "Hello world back at ya, Cy! (from direct)" } }]);
    // The contract refuses the request before anything is sent: a usage error.
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/breaks the contract greeter\.v1.*\n[\s\S]*at name/);
  });

  test("call: an error reply exits 1, with its code in human and --json output", async () => {
    const [human, json] = await Promise.all([
      cli("call", server, "hello", '{"name":""}'),
      cli("call", "--json", server, "nope", "{}"),
    ]);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(new RegExp(`${server} answered INVALID_REQUEST`));
    expect(json.code).toBe(1);
    expect(jsonLines(json.stdout)).toMatchObject([
      { ok: false, error: { code: "UNKNOWN_METHOD", details: { known: ["hello"] } } },
    ]);
  });

  test("call --service: through the broker, human and --json; an unknown service exits 1", async () => {
    const [human, json, missing] = await Promise.all([
      cli("call", "--service", "greeter.v1", frontend, "hello", '{"name":"Ada"}'),
      cli("call", "--json", "--service", "greeter.v1", frontend, "hello", '{"name":"Bo"}'),
      cli("call", "--json", "--service", "nobody.v1", "--timeout", "1500", frontend, "hello", "{}"),
    ]);
    expect(human.code).toBe(0);
    expect(JSON.parse(human.stdout)).toEqual({ greeting: "Hello world back at ya, Ada! (from brokered)" });
    expect(jsonLines(json.stdout)).toEqual([{ ok: true, reply: { greeting: "Hello world back at ya, Bo! (from brokered)" } }]);
    expect(missing.code).toBe(1);
    expect(jsonLines(missing.stdout)).toMatchObject([{ ok: false, error: { code: "SERVICE_UNAVAILABLE" } }]);
  });

  test("services: lists the broker's services (human and --json) and checks them by name", async () => {
    const [human, json, check] = await Promise.all([
      cli("services", frontend),
      cli("services", "--json", frontend),
      cli("services", "--json", frontend, "greeter.v1", "nobody.v1"),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^greeter\.v1: 1 worker brokered-[0-9a-f]{4} \(0\/4\), 0 queued\n$/);
    expect(jsonLines(json.stdout)).toEqual([
      {
        service: "greeter.v1",
        workers: [{ name: expect.stringMatching(/^brokered-/) as unknown, capacity: 4, inFlight: 0 }],
        queued: 0,
      },
    ]);
    expect(check.code).toBe(1);
    expect(jsonLines(check.stdout)).toEqual([
      { service: "greeter.v1", status: "200", found: true },
      { service: "nobody.v1", status: "404", found: false },
    ]);
  });

  test("sub: prints the publisher's messages for a prefix (human) and every topic (--json)", async () => {
    const [human, json] = await Promise.all([
      cli("sub", "--count", "2", "--timeout", "10000", publisher, "football.Arsenal"),
      cli("sub", "--json", "--count", "4", "--timeout", "10000", publisher),
    ]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^football\.Arsenal \{"team":"Arsenal","event":"[a-z ]+","minute":\d+\}$/);
    expect(human.stdout).not.toContain("\u001b[");
    expect(json.code).toBe(0);
    const messages = jsonLines(json.stdout) as Array<{ topic: string; body: { team: string } }>;
    expect(messages).toHaveLength(4);
    for (const m of messages) expect(m.topic).toBe(`football.${m.body.team}`);
    expect(new Set(messages.map((m) => m.body.team)).size).toBeGreaterThan(1);
  });

  test("pub: --bind reaches the demo subscriber; connecting reaches a bound `sub` (--json)", async () => {
    const bound = await cliBound("pub --bind", [
      "pub",
      "--bind",
      "--timeout",
      "15000",
      "tcp://127.0.0.1:0",
      "football.Arsenal",
      '{"team":"Arsenal","event":"goal","minute":7}',
    ]);
    const demo = start("subscriber", "examples/pub-sub/subscriber.ts", { PUB_CONNECT: bound.endpoint, COUNT: "1" });
    await demo.waitForLine(/Arsenal: goal \(7'\)/);
    expect(await bound.program.exited).toBe(0);
    expect(bound.program.lines).toContain("published on football.Arsenal");

    const receiver = await cliBound("sub --bind", [
      "sub",
      "--bind",
      "--json",
      "--count",
      "1",
      "--timeout",
      "15000",
      "tcp://127.0.0.1:0",
    ]);
    const sent = await cli("pub", "--json", receiver.endpoint, "alerts.disk", '"full"');
    expect(sent).toMatchObject({ code: 0, stdout: '{"ok":true,"topic":"alerts.disk"}\n' });
    expect(await receiver.program.exited).toBe(0);
    expect(receiver.program.lines).toContain('{"topic":"alerts.disk","body":"full"}');
  });

  test("push to the demo sink (human and --json), pull from the demo ventilator (human and --json)", async () => {
    const sink = start("sink", "examples/pipeline/sink.ts", { SINK_BIND: "tcp://127.0.0.1:0", COUNT: "2" });
    const ventA = start("ventilator A", "examples/pipeline/ventilator.ts", {
      VENT_BIND: "tcp://127.0.0.1:0",
      COUNT: "2",
      MAX_WORK_MS: "0",
    });
    const ventB = start("ventilator B", "examples/pipeline/ventilator.ts", {
      VENT_BIND: "tcp://127.0.0.1:0",
      COUNT: "2",
      MAX_WORK_MS: "0",
    });
    const [[, sinkAt], [, aAt], [, bAt]] = await Promise.all([
      sink.waitForLine(new RegExp(`bound to ${TCP.source}`)),
      ventA.waitForLine(new RegExp(`bound to ${TCP.source}`)),
      ventB.waitForLine(new RegExp(`bound to ${TCP.source}`)),
    ]);
    const [pushed, pushedJson, pulled, pulledJson] = await Promise.all([
      cli("push", sinkAt!, '{"id":1,"worker":"cli","ms":0}'),
      cli("push", "--json", sinkAt!, '{"id":2,"worker":"cli","ms":0}'),
      cli("pull", "--count", "2", "--timeout", "10000", aAt!),
      cli("pull", "--json", "--count", "2", "--timeout", "10000", bAt!),
    ]);
    expect(pushed).toMatchObject({ code: 0, stdout: "pushed\n" });
    expect(pushedJson).toMatchObject({ code: 0, stdout: '{"ok":true}\n' });
    await sink.waitForLine(/sink: cli did 2 tasks/);
    expect(await sink.exited).toBe(0);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toBe('{"id":0,"workMs":0}\n{"id":1,"workMs":0}\n');
    expect(pulledJson.code).toBe(0);
    expect(jsonLines(pulledJson.stdout)).toEqual([{ body: { id: 0, workMs: 0 } }, { body: { id: 1, workMs: 0 } }]);
  });

  test("monitor: shows connect and handshake for the server (human), and a handshake failure for a wrong socket type (--json)", async () => {
    const [human, json] = await Promise.all([
      cli("monitor", "--count", "3", "--timeout", "10000", server),
      cli("monitor", "--json", "--type", "sub", "--timeout", "1500", server),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^connect ${server}$`, "m"));
    expect(human.stdout).toMatch(new RegExp(`^handshake ${server}$`, "m"));
    expect(json.code).toBe(0);
    const events = (jsonLines(json.stdout) as Array<{ event: string; address?: string }>).map((e) => e.event);
    expect(events).toContain("connect");
    // A SUB is not a peer a ROUTER accepts: the handshake never completes, and libzmq drops the connection.
    expect(events).not.toContain("handshake");
    expect(events.some((e) => e === "disconnect" || e.startsWith("handshake:error"))).toBe(true);
  });

  test("a bad endpoint and bad JSON are usage errors (exit 2) that say what is wrong and what to write", async () => {
    const [endpoint, json, count, method] = await Promise.all([
      cli("call", "tcp://127.0.0.1", "hello", "{}"),
      cli("pub", publisher, "topic", "{name: Ada}"),
      cli("sub", "--count", "many", publisher),
      cli("call", server, "ok", "{}"),
    ]);
    expect(endpoint.code).toBe(2);
    expect(endpoint.stderr).toMatch(/typed-zmq call: bad ENDPOINT: .*tcp:\/\/127\.0\.0\.1.*missing ':port'.*tcp:\/\/host:port/);
    expect(json.code).toBe(2);
    expect(json.stderr).toMatch(/typed-zmq pub: the message is not valid JSON \(.*position 1.*\): \{name: Ada\}\. .*quote it/);
    expect(count.code).toBe(2);
    expect(count.stderr).toContain('--count must be a whole number of at least 1, got "many"');
    expect(method.code).toBe(2);
    expect(method.stderr).toContain('method name "ok" is reserved');
    for (const run of [endpoint, json, count, method]) expect(run.stdout).toBe("");
  });

  test("timeouts exit 1 and say what was waited for: a call to nothing, services, sub --count, pub and push without a peer", async () => {
    // A port the OS gave out and took back: nothing listens on it, so connections are refused at once.
    const nowhere = `tcp://127.0.0.1:${await freedPort()}`;
    const [call, services, sub, pub, push] = await Promise.all([
      cli("call", "--timeout", "500", nowhere, "hello", "{}"),
      cli("services", "--json", "--timeout", "500", nowhere),
      cli("sub", "--count", "1", "--timeout", "500", publisher, "nothing.here"),
      cli("pub", "--timeout", "500", nowhere, "t", "1"),
      cli("push", "--timeout", "500", nowhere, "1"),
    ]);
    expect(call.code).toBe(1);
    expect(call.stderr).toContain(`no reply from ${nowhere} within 500 ms`);
    expect(services.code).toBe(1);
    expect(jsonLines(services.stdout)).toMatchObject([{ ok: false, error: { code: "TIMEOUT" } }]);
    expect(sub.code).toBe(1);
    expect(sub.stderr).toContain("timed out after 0 of 1");
    expect(pub.code).toBe(1);
    expect(pub.stderr).toMatch(/no subscriber for "t" .* within 500 ms; nothing sent/);
    expect(push.code).toBe(1);
    expect(push.stderr).toMatch(/no peer took the message .* within 500 ms; nothing sent/);
  });

  test("colour on a terminal only, and never with NO_COLOR; Ctrl-C ends a stream with exit 0", async () => {
    // `script` gives the command a pseudo-terminal as stdout.
    const onTty = (env: Record<string, string>) =>
      startProcess(
        "sub on a tty",
        [
          "script",
          "-qec",
          `${process.execPath} --import tsx src/cli.ts sub --count 1 ${publisher} football.Arsenal`,
          "/dev/null",
        ],
        env,
      );
    const coloured = onTty({});
    const plain = onTty({ NO_COLOR: "1" });
    programs.push(coloured, plain);
    expect(await coloured.exited).toBe(0);
    expect(await plain.exited).toBe(0);
    expect(coloured.lines.join("\n")).toContain("\u001b[36mfootball.Arsenal\u001b[0m {");
    expect(plain.lines.join("\n")).toMatch(/^football\.Arsenal \{/m);
    expect(plain.lines.join("\n")).not.toContain("\u001b[");

    const running = await cliBound("sub --bind", ["sub", "--bind", "tcp://127.0.0.1:0"]);
    running.program.child.kill("SIGINT");
    expect(await running.program.exited).toBe(0);
    expect(running.program.lines).toContain("typed-zmq sub: 0 received (interrupted)");
  });

  test("every messaging command has a --help that names its exit codes", async () => {
    const runs = await Promise.all(["call", "sub", "pub", "push", "pull", "services", "monitor"].map((c) => cli(c, "--help")));
    for (const run of runs) {
      expect(run).toMatchObject({ code: 0, stderr: "" });
      expect(run.stdout).toMatch(/^usage: typed-zmq \w+ /);
      expect(run.stdout).toContain("exit codes: 0 done; 1 failed");
    }
    expect(runs[0]!.stdout).toContain("TypeScript module when your project has tsx");
  });
});
