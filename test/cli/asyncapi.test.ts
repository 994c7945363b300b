// `typed-zmq asyncapi MODULE`, run as the real command: the document it prints for the demo contracts validates
// offline with @asyncapi/parser and has a channel per method and topic; usage errors exit 2, an unrepresentable
// schema exits 1 and says where.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { afterAll, afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Football } from "../../schemas/football.js";
import { Greeter } from "../../schemas/greeter.js";
import { runCli } from "../helpers/cli-run.js";

const dir = mkdtempSync(join(tmpdir(), "tzmq-cli-asyncapi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether a diagnostic's severity is the parser's Error (DiagnosticSeverity.Error, 0). */
function isError(severity: number): boolean {
  return severity === 0;
}

/** The parser's errors (severity 0) for `text`, as `code at path: message`. */
async function errorsOf(text: string): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(text);
  return diagnostics.filter((d) => isError(d.severity)).map((d) => `${String(d.code)} at ${d.path.join("/")}: ${d.message}`);
}

describe("typed-zmq asyncapi", () => {
  beforeEach(() => {
    vi.stubGlobal("fetch", () => Promise.reject(new Error("cli asyncapi test: no network")));
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  test("writes the document of an RPC contract module: valid offline, a channel per method, the server given", async () => {
    const out = join(dir, "greeter.json");
    const run = await runCli(["asyncapi", "--server", "local=tcp://127.0.0.1:5555", "--out", out, "schemas/greeter.ts"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("wrote");
    const text = readFileSync(out, "utf8");
    expect(await errorsOf(text)).toEqual([]);
    const document = JSON.parse(text) as { channels: Record<string, unknown>; servers: Record<string, { host: string }> };
    for (const method of Object.keys(Greeter.methods)) {
      expect(
        Object.keys(document.channels).some((name) => name.includes(method)),
        method,
      ).toBe(true);
    }
    expect(document.servers["local"]?.host).toBe("127.0.0.1:5555");
  });

  test("prints the document of a topics module on stdout, with the title and version given", async () => {
    const run = await runCli(["asyncapi", "--title", "Football feed", "--doc-version", "2.1.0", "schemas/football.ts"]);
    expect(run.code, run.stderr).toBe(0);
    expect(await errorsOf(run.stdout)).toEqual([]);
    const document = JSON.parse(run.stdout) as { info: { title: string; version: string }; channels: Record<string, unknown> };
    expect(document.info).toMatchObject({ title: "Football feed", version: "2.1.0" });
    for (const topic of Object.keys(Football.topics)) {
      expect(
        Object.keys(document.channels).some((name) => name.includes(topic)),
        topic,
      ).toBe(true);
    }
  });

  test("usage errors exit 2 and say what to write: no module, a module without contracts, a bad --server", async () => {
    const none = await runCli(["asyncapi"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("give the MODULE");
    const empty = await runCli(["asyncapi", "examples/shared/cli.ts"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("exports no contract");
    const missing = await runCli(["asyncapi", "schemas/nope.ts"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot load MODULE schemas/nope.ts");
    const server = await runCli(["asyncapi", "--server", "local", "schemas/greeter.ts"]);
    expect(server.code).toBe(2);
    expect(server.stderr).toContain("--server takes NAME=URL");
    const url = await runCli(["asyncapi", "--server", "local=nope://x", "schemas/greeter.ts"]);
    expect(url.code).toBe(2);
    expect(url.stdout).toBe("");
  });

  test("a schema JSON Schema cannot describe exits 1 and names the place", async () => {
    const run = await runCli(["asyncapi", "test/cli/fixtures/dated-contract.ts"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("clock.v1");
    expect(run.stderr).toContain("tick");
  });
});
