/**
 * The export: JSON Schema of the demo contracts (their concrete content), the error and the override for types JSON
 * Schema cannot describe, and the AsyncAPI 3.0.0 document of the three demo contracts, validated offline by
 * `@asyncapi/parser` with zero errors and checked for a channel, an operation and a payload per method and topic.
 */
import { Parser } from "@asyncapi/parser";
import { afterEach, beforeEach, describe, expect, expectTypeOf, test, vi } from "vitest";
import * as z from "zod";
import { Football } from "../../schemas/football.js";
import { Greeter } from "../../schemas/greeter.js";
import { Tasks } from "../../schemas/tasks.js";
import {
  ErrorCode,
  InvalidArgumentError,
  InvalidEndpointError,
  UnrepresentableSchemaError,
  defineJobs,
  defineRpc,
  defineTopics,
  isUnrepresentableSchemaError,
  toAsyncApi,
  toJsonSchema,
  type AsyncApiDocument,
  type AsyncApiRef,
  type JsonSchema,
  type MethodJsonSchema,
} from "../../src/index.js";

const Events = defineTopics("events.v1", {
  created: z.object({ id: z.string(), at: z.date() }),
  counted: z.object({ n: z.bigint(), label: z.string() }),
});

describe("toJsonSchema", () => {
  test("gives the request and response of every method of an RPC contract", () => {
    const exported = toJsonSchema(Greeter);
    expect(exported.kind).toBe("rpc");
    expect(exported.contract).toBe("greeter.v1");
    expect(Object.keys(exported.methods)).toEqual(["hello"]);
    expect(exported.methods.hello.request).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
      required: ["name"],
    });
    expect(exported.methods.hello.response).toMatchObject({
      type: "object",
      properties: { greeting: { type: "string" } },
      required: ["greeting"],
    });
    expect(exported.methods.hello.idempotent).toBe(false);
    expectTypeOf(exported.methods).toEqualTypeOf<{ readonly hello: MethodJsonSchema }>();
    // @ts-expect-error the demo contract has no method "goodbye": the result is keyed by the contract's own names
    expect(exported.methods.goodbye).toBeUndefined();
  });

  test("gives the payload of every declared topic", () => {
    const exported = toJsonSchema(Football);
    expect(exported).toMatchObject({ kind: "topics", contract: "football.v1" });
    expect(Object.keys(exported.topics)).toEqual(["football"]);
    const football = exported.topics.football;
    expect(football.required).toEqual(["team", "event", "minute"]);
    expect(football.properties).toEqual({
      team: { type: "string", minLength: 1 },
      event: { type: "string", enum: ["goal", "red card", "yellow card", "substitution"] },
      minute: { type: "integer", minimum: 0, maximum: 130 },
    });
  });

  test("gives the task and the result of a pipeline", () => {
    const exported = toJsonSchema(Tasks, { target: "draft-07" });
    expect(exported).toMatchObject({ kind: "jobs", contract: "tasks.v1" });
    expect(exported.task).toMatchObject({
      $schema: "http://json-schema.org/draft-07/schema#",
      required: ["id", "workMs"],
      properties: { workMs: { type: "integer", minimum: 0, maximum: 10_000 } },
    });
    expect(exported.result.required).toEqual(["id", "worker", "ms"]);
    expect(exported.result.properties?.["ms"]).toEqual({ type: "number" });
  });

  test("describes the input side, what travels on the wire: before a transform, with defaults optional", () => {
    const Lengths = defineRpc("lengths.v1", {
      measure: {
        request: z.object({ text: z.string().transform((s) => s.length), unit: z.enum(["chars", "bytes"]).default("chars") }),
        response: z.object({ length: z.number() }),
        idempotent: true,
      },
    });
    const { request } = toJsonSchema(Lengths).methods.measure;
    expect(request.properties?.["text"]).toEqual({ type: "string" });
    expect(request.required).toEqual(["text"]);
    expect(request.properties?.["unit"]).toMatchObject({ default: "chars" });
    expect(toJsonSchema(Lengths).methods.measure.idempotent).toBe(true);
  });

  test("throws one typed error naming the contract, every message and path, and what to do", () => {
    let caught: unknown;
    try {
      toJsonSchema(Events);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnrepresentableSchemaError);
    expect(isUnrepresentableSchemaError(caught)).toBe(true);
    const error = caught as UnrepresentableSchemaError;
    expect(error.code).toBe(ErrorCode.UNREPRESENTABLE_SCHEMA);
    expect(error.contract).toBe("events.v1");
    expect(error.sites).toEqual([
      {
        contract: "events.v1",
        message: "created",
        part: "payload",
        path: "/properties/at",
        type: "date",
        reason: "Date cannot be represented in JSON Schema",
      },
      {
        contract: "events.v1",
        message: "counted",
        part: "payload",
        path: "/properties/n",
        type: "bigint",
        reason: "BigInt cannot be represented in JSON Schema",
      },
    ]);
    expect(error.message).toContain('Contract "events.v1" cannot be exported to JSON Schema');
    expect(error.message).toContain('created.payload at "/properties/at" is a date');
    expect(error.message).toContain('counted.payload at "/properties/n" is a bigint');
    expect(error.message).toContain("z.iso.datetime()");
    expect(error.message).toContain("{ unrepresentable: (site) => jsonSchema }");
  });

  test("names the part of an RPC method and of a pipeline", () => {
    const Rpc = defineRpc("clock.v1", { now: { request: z.object({}), response: z.object({ at: z.date() }) } });
    expect(() => toJsonSchema(Rpc)).toThrow(/now\.response at "\/properties\/at" is a date/);
    const Jobs = defineJobs("jobs.v1", { task: z.custom<string>(), result: z.object({ ok: z.boolean() }) });
    expect(() => toJsonSchema(Jobs)).toThrow(/task\.task at "\/" is a custom/);
  });

  test("the unrepresentable function supplies a schema per site; undefined keeps that site an error", () => {
    const seen: string[] = [];
    const override = (site: { readonly type: string; readonly message: string }): JsonSchema | undefined => {
      seen.push(`${site.message}:${site.type}`);
      return site.type === "date" ? { type: "string", format: "date-time" } : undefined;
    };
    expect(() => toJsonSchema(Events, { unrepresentable: override })).toThrow(
      expect.objectContaining({ sites: [expect.objectContaining({ message: "counted", type: "bigint" })] }),
    );
    expect(seen).toEqual(["created:date", "counted:bigint"]);

    const full = toJsonSchema(Events, {
      unrepresentable: (site) =>
        site.type === "date" ? { type: "string", format: "date-time" } : { type: "string", pattern: "^-?\\d+$" },
    });
    expect(full.topics.created.properties?.["at"]).toEqual({ type: "string", format: "date-time" });
    expect(full.topics.counted.properties?.["n"]).toEqual({ type: "string", pattern: "^-?\\d+$" });
    expect(full.topics.created.required).toEqual(["id", "at"]);
  });

  test('unrepresentable: "any" puts an empty schema (any value) in their place', () => {
    const exported = toJsonSchema(Events, { unrepresentable: "any" });
    expect(exported.topics.created.properties?.["at"]).toEqual({});
    expect(exported.topics.created.properties?.["id"]).toEqual({ type: "string" });
  });

  test("refuses what is not a contract, and a bad option", () => {
    expect(() => toJsonSchema({ kind: "rest", name: "x" } as never)).toThrow(InvalidArgumentError);
    expect(() => toJsonSchema(null as never)).toThrow(
      /expected a contract made by defineRpc, defineTopics or defineJobs, got null/,
    );
    expect(() => toJsonSchema(Greeter, { unrepresentable: "ignore" as never })).toThrow(/`unrepresentable` must be/);
  });
});

/** The servers of the demo topology: the broker's frontend, the publisher, the ventilator side. */
const servers = {
  broker: { url: "tcp://broker.example:5555", description: "RpcBroker frontend" },
  football: "ipc:///tmp/football.sock",
  tasks: "tcp://*:5557",
};

function demoDocument(): AsyncApiDocument {
  return toAsyncApi(
    [
      { contract: Greeter, servers: ["broker"], service: true },
      { contract: Football, servers: ["football"] },
      { contract: Tasks, servers: ["tasks"] },
    ],
    { servers, info: { title: "typed-zmq demo", version: "2.0.0" } },
  );
}

/** Follows a local `$ref` (`#/a/b`) in the document. */
function resolve(document: unknown, ref: AsyncApiRef): unknown {
  expect(ref.$ref.startsWith("#/")).toBe(true);
  return ref.$ref
    .slice(2)
    .split("/")
    .reduce<unknown>((node, part) => (typeof node === "object" && node !== null ? Reflect.get(node, part) : undefined), document);
}

/** Every `$ref` string in a JSON value. */
function refsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsOf);
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => (k === "$ref" && typeof v === "string" ? [v] : refsOf(v)));
}

/** Spectral's severities: errors are 0, warnings 1 (information 2, hints 3). */
const ERROR_SEVERITY = 0;
const WARNING_SEVERITY = 1;

/** True for a diagnostic at `worst` or worse (the enum of another copy of `@stoplight/types`, read as its number). */
function atLeast(severity: number, worst: number): boolean {
  return severity <= worst;
}

/** The parser's errors (or, with `worst` = warnings, errors and warnings), as `code at path: message`. */
async function errorsOf(document: unknown, worst = ERROR_SEVERITY): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(document));
  return diagnostics
    .filter((d) => atLeast(d.severity, worst))
    .map((d) => `${String(d.code)} at ${d.path.join("/")}: ${d.message}`);
}

/** The payload schema of a channel's message, without the JSON Schema dialect line. */
function payloadOf(document: AsyncApiDocument, channel: string, message: string): unknown {
  const channelObject = document.channels[channel];
  const ref = channelObject?.messages[message];
  expect(ref, `${channel}/${message}`).toBeDefined();
  const messageObject = resolve(document, ref ?? { $ref: "#/missing" }) as { payload: AsyncApiRef };
  return resolve(document, messageObject.payload);
}

function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

describe("toAsyncApi", () => {
  // The parser must not need the network: any fetch fails the test.
  beforeEach(() => {
    vi.stubGlobal("fetch", () => Promise.reject(new Error("toAsyncApi test: no network")));
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  test("the document for the three demo contracts validates offline with zero errors", async () => {
    const document = demoDocument();
    expect(document.asyncapi).toBe("3.0.0");
    expect(refsOf(document).filter((ref) => !ref.startsWith("#/"))).toEqual([]);
    expect(await errorsOf(document)).toEqual([]);
    expect(await errorsOf(document, WARNING_SEVERITY)).toEqual([]);

    const parsed = await new Parser().parse(JSON.stringify(document));
    expect(parsed.document).toBeDefined();
    const channels =
      parsed.document
        ?.channels()
        .all()
        .map((c) => c.id()) ?? [];
    expect(channels).toEqual(
      expect.arrayContaining([
        "greeter.v1.hello",
        "greeter.v1.hello.reply",
        "football.v1.football",
        "tasks.v1.task",
        "tasks.v1.result",
      ]),
    );
    const hello = parsed.document?.operations().get("greeter.v1.hello");
    expect(hello?.action()).toBe("receive");
    expect(hello?.reply()?.channel()?.id()).toBe("greeter.v1.hello.reply");
    expect(parsed.document?.operations().get("football.v1.football")?.action()).toBe("send");
  }, 30_000);

  test("has a channel for every method and every topic, each with its payload schema", () => {
    const document = demoDocument();
    for (const [method, schemas] of Object.entries(toJsonSchema(Greeter, { target: "draft-07" }).methods)) {
      const channel = document.channels[`greeter.v1.${method}`];
      expect(channel?.address).toBe(method);
      expect(payloadOf(document, `greeter.v1.${method}`, "request")).toEqual(withoutDialect(schemas.request));
      expect(payloadOf(document, `greeter.v1.${method}.reply`, "response")).toEqual(withoutDialect(schemas.response));
      expect(payloadOf(document, `greeter.v1.${method}.reply`, "error")).toMatchObject({ required: ["code", "message"] });
      expect(document.operations[`greeter.v1.${method}`]).toMatchObject({
        action: "receive",
        channel: { $ref: `#/channels/greeter.v1.${method}` },
        reply: { channel: { $ref: `#/channels/greeter.v1.${method}.reply` } },
      });
    }
    for (const [topic, schema] of Object.entries(toJsonSchema(Football, { target: "draft-07" }).topics)) {
      expect(document.channels[`football.v1.${topic}`]?.address).toBe(topic);
      expect(payloadOf(document, `football.v1.${topic}`, "message")).toEqual(withoutDialect(schema));
      expect(payloadOf(document, `football.v1.${topic}`, "message")).toMatchObject({ required: ["team", "event", "minute"] });
    }
    const jobs = toJsonSchema(Tasks, { target: "draft-07" });
    expect(payloadOf(document, "tasks.v1.task", "task")).toEqual(withoutDialect(jobs.task));
    expect(payloadOf(document, "tasks.v1.result", "result")).toEqual(withoutDialect(jobs.result));
    expect(Object.keys(document.operations).sort()).toEqual(
      ["football.v1.football", "greeter.v1.hello", "tasks.v1.result", "tasks.v1.task"].sort(),
    );
  });

  test("names the socket types, the frames, the endpoints and the Majordomo service in x-zmq", () => {
    const document = demoDocument();
    expect(document.info).toMatchObject({ title: "typed-zmq demo", version: "2.0.0" });
    expect(document["x-zmq"]).toMatchObject({ protocolVersion: "1.4", contentType: "application/json" });
    expect(document.servers["broker"]).toEqual({
      host: "broker.example:5555",
      protocol: "zmq",
      protocolVersion: "3.1",
      description: "RpcBroker frontend",
      "x-zmq": { endpoint: "tcp://broker.example:5555", transport: "tcp" },
    });
    expect(document.servers["football"]).toMatchObject({ host: "localhost", pathname: "/tmp/football.sock" });
    expect(document.channels["greeter.v1.hello"]).toMatchObject({
      servers: [{ $ref: "#/servers/broker" }],
      "x-zmq": {
        pattern: "majordomo",
        service: "greeter.v1",
        method: "hello",
        sockets: { broker: "ROUTER", client: ["DEALER", "REQ"], worker: "DEALER" },
        frames: { request: '[ "", "MDPC01", service, method, body, headers ]' },
        endpoints: ["tcp://broker.example:5555"],
      },
    });
    expect(document.channels["football.v1.football"]?.["x-zmq"]).toMatchObject({
      pattern: "publish-subscribe",
      sockets: { publisher: ["XPUB", "PUB"], subscriber: "SUB" },
      frames: { message: "[ topic, body, H? ]" },
      endpoints: ["ipc:///tmp/football.sock"],
    });
    expect(document.channels["tasks.v1.task"]?.["x-zmq"]).toMatchObject({ sockets: { source: "PUSH", worker: "PULL" } });
    expect(document.channels["tasks.v1.result"]?.["x-zmq"]).toMatchObject({
      sockets: { worker: "PUSH", sink: "PULL" },
      frames: { failure: '[ "error", body, H? ]' },
    });

    const direct = toAsyncApi([Greeter], { servers: { local: "tcp://127.0.0.1:5555" } });
    expect(direct.channels["greeter.v1.hello"]?.["x-zmq"]).toMatchObject({
      pattern: "request-reply",
      sockets: { server: "ROUTER", client: ["DEALER", "REQ"] },
      frames: { request: '[ ...envelope, "", method, body, headers? ]' },
      endpoints: ["tcp://127.0.0.1:5555"],
    });
    expect(direct.channels["greeter.v1.hello"]).not.toHaveProperty("servers");
  });

  test("the parser rejects a broken document, so the zero-error check can fail", async () => {
    const document = demoDocument();
    const brokenRef = {
      ...document,
      operations: {
        ...document.operations,
        "greeter.v1.hello": { ...document.operations["greeter.v1.hello"], channel: { $ref: "#/channels/nope" } },
      },
    };
    expect(await errorsOf(brokenRef)).toEqual(
      expect.arrayContaining([expect.stringContaining("'#/channels/nope' does not exist")]),
    );
    // There is no official ZeroMQ binding: a `zmq` binding key is refused, which is why the facts live in x-zmq.
    const zmqBinding = {
      ...document,
      channels: { ...document.channels, "tasks.v1.task": { ...document.channels["tasks.v1.task"], bindings: { zmq: {} } } },
    };
    expect(await errorsOf(zmqBinding)).toEqual(
      expect.arrayContaining([expect.stringContaining('channels/tasks.v1.task/bindings/zmq: Property "zmq" is not expected')]),
    );
  }, 30_000);

  test("moves recursive schemas into components with local references, and still validates", async () => {
    interface Node {
      readonly label: string;
      readonly children: readonly Node[];
    }
    const NodeSchema: z.ZodType<Node> = z.object({
      label: z.string(),
      get children() {
        return z.array(NodeSchema);
      },
    });
    const Trees = defineTopics("trees.v1", { tree: NodeSchema, forest: z.object({ trees: z.array(NodeSchema), at: z.date() }) });
    const document = toAsyncApi([Trees], {
      servers: { local: "tcp://127.0.0.1:5556" },
      unrepresentable: () => ({ type: "string", format: "date-time" }),
    });
    expect(document.components.schemas["trees.v1.tree"]).toMatchObject({
      properties: { children: { type: "array", items: { $ref: "#/components/schemas/trees.v1.tree" } } },
    });
    const forest = document.components.schemas["trees.v1.forest"];
    const items = (forest?.properties?.["trees"] as JsonSchema | undefined)?.items as AsyncApiRef | undefined;
    expect(items?.$ref).toMatch(/^#\/components\/schemas\/trees\.v1\.forest\./);
    expect(resolve(document, items ?? { $ref: "#/missing" })).toMatchObject({ required: ["label", "children"] });
    expect(forest?.properties?.["at"]).toEqual({ type: "string", format: "date-time" });
    for (const ref of refsOf(document)) expect(resolve(document, { $ref: ref }), ref).toBeDefined();
    expect(await errorsOf(document)).toEqual([]);
  }, 30_000);

  test("the README example prints what it says and gives a valid document", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const { main } = await import("../../examples/export-contracts.js");
      const document = await main({ signal: AbortSignal.timeout(3_000) });
      expect(log).toHaveBeenCalledWith(["sku"]);
      expect(log).toHaveBeenCalledWith(["resized /properties/width custom"]);
      expect(log).toHaveBeenCalledWith({ type: "string", pattern: "^\\d+px$" });
      expect(log).toHaveBeenCalledWith(["shop.v1.placeOrder", "shop.v1.placeOrder.reply", "layout.v1.resized"]);
      expect(await errorsOf(document)).toEqual([]);
    } finally {
      log.mockRestore();
    }
  }, 30_000);

  test("refuses what it cannot describe, saying what to do", () => {
    expect(() => toAsyncApi([Events], { servers: {} })).toThrow(UnrepresentableSchemaError);
    expect(() => toAsyncApi([], { servers: {} })).toThrow(/non-empty array of contracts/);
    expect(() => toAsyncApi([Greeter], {} as never)).toThrow(/`options.servers` must map server names/);
    expect(() => toAsyncApi([{ contract: Greeter, servers: ["nope"] }], { servers: { local: "tcp://127.0.0.1:1" } })).toThrow(
      /names server "nope", which is not in `options.servers` \(local\)/,
    );
    expect(() => toAsyncApi([{ contract: Football, service: "football" }], { servers: {} })).toThrow(
      /`service` is for RPC contracts/,
    );
    expect(() => toAsyncApi([Greeter, Greeter], { servers: {} })).toThrow(/contract "greeter.v1" is given twice/);
    expect(() => toAsyncApi([Greeter], { servers: { local: "tcp//127.0.0.1:1" } })).toThrow(InvalidEndpointError);
    expect(() => toAsyncApi([Greeter], { servers: { "a b": "tcp://127.0.0.1:1" } })).toThrow(/server name "a b" must use only/);
  });
});
