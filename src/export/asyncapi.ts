/**
 * @packageDocumentation
 * {@link toAsyncApi}: an AsyncAPI 3.0.0 document for a set of contracts, to hand to peers and tools.
 *
 * AsyncAPI has no ZeroMQ binding (asyncapi/spec#361), so the ZeroMQ facts travel in `x-zmq` extensions: on the
 * document (protocol version, codec), on each server (endpoint, transport) and on each channel and operation
 * (pattern, socket types, frame layout from docs/protocol.md, endpoints, the Majordomo service). Payloads are the
 * JSON Schemas of {@link toJsonSchema} (draft-07, the dialect AsyncAPI schemas extend), stored once in
 * `components/schemas` and referenced from `components/messages`. The document has no remote `$ref`: every
 * reference is local, so tools validate it offline.
 *
 * The document is written from the side that serves each contract: an RPC server receives requests and replies
 * (`receive` with a `reply`), a publisher sends on its topics, a pipeline worker receives tasks and sends results.
 */
import { PROTOCOL_VERSION } from "../protocol/headers.js";
import { parseEndpoint } from "../endpoint.js";
import { InvalidArgumentError } from "../errors/index.js";
import { contractName } from "../internal/export-contract.js";
import { toJsonSchema, type AnyContract, type JsonSchema, type JsonSchemaOptions } from "./json-schema.js";

/** A server (an endpoint) given to {@link toAsyncApi} with more than its URL. */
export interface AsyncApiServerInput {
  /** The ZeroMQ endpoint, for example `tcp://orders.example.com:5555` or `ipc:///run/orders.sock`. */
  readonly url: string;
  /** What runs there, in a sentence. */
  readonly description?: string;
}

/** A contract given to {@link toAsyncApi} with where it is served. */
export interface AsyncApiContractInput {
  /** The contract. */
  readonly contract: AnyContract;
  /** Names (keys of `options.servers`) of the servers where it is served. @defaultValue every server */
  readonly servers?: readonly string[];
  /**
   * RPC only: the contract is served through a Majordomo broker (`RpcBroker`) under this service name; `true` means
   * the contract's name (what `RpcServer.connect` registers by default). The servers are then broker frontends.
   */
  readonly service?: string | true;
}

/** Options of {@link toAsyncApi}. */
export interface AsyncApiOptions {
  /**
   * The servers, by name (a key of `[A-Za-z0-9._-]`): each an endpoint URL such as `tcp://host:5555`, or
   * `{ url, description }`. `tcp://` endpoints give `host` `host:port`; `ipc://` ones `host` `localhost` and the path as
   * `pathname`. Every server gets protocol `zmq` (ZMTP 3.1) and an `x-zmq` extension with the endpoint.
   */
  readonly servers: Readonly<Record<string, string | AsyncApiServerInput>>;
  /**
   * The document's `info`.
   * @defaultValue title `typed-zmq contracts: <names>`, version `1.0.0`
   */
  readonly info?: { readonly title?: string; readonly version?: string; readonly description?: string };
  /**
   * The content type of the bodies: the codec both sides use.
   * @defaultValue "application/json" (jsonCodec); use "application/msgpack" with msgpackCodec
   */
  readonly contentType?: string;
  /** As in {@link JsonSchemaOptions.unrepresentable}: what to do with types JSON Schema cannot describe. */
  readonly unrepresentable?: JsonSchemaOptions["unrepresentable"];
}

/** A local reference, the only kind the document holds. */
export interface AsyncApiRef {
  /** A JSON Pointer into this document, for example `#/components/messages/greeter.v1.hello.request`. */
  readonly $ref: string;
}

/** The `x-zmq` extension of the document. */
export interface ZmqDocumentExtension {
  /** The typed-zmq wire protocol version the frames below follow. */
  readonly protocolVersion: string;
  /** Where the wire protocol is specified. */
  readonly specification: string;
  /** The content type of every body frame. */
  readonly contentType: string;
  /** How the optional headers frame is written. */
  readonly headersFrame: string;
}

/** The `x-zmq` extension of a server. */
export interface ZmqServerExtension {
  /** The ZeroMQ endpoint, as given. */
  readonly endpoint: string;
  /** The ZeroMQ transport: `tcp`, `ipc`, `inproc`, `pgm` or `epgm`. */
  readonly transport: string;
}

/** The `x-zmq` extension of a channel or an operation: what a ZeroMQ peer needs to speak it. */
export interface ZmqChannelExtension {
  /** `request-reply`, `majordomo` (request-reply through a broker), `publish-subscribe` or `pipeline`. */
  readonly pattern: "request-reply" | "majordomo" | "publish-subscribe" | "pipeline";
  /** The contract (name and version) the channel belongs to. */
  readonly contract: string;
  /** The socket type of each role, for example `{ server: "ROUTER", client: ["DEALER", "REQ"] }`. */
  readonly sockets: Readonly<Record<string, string | readonly string[]>>;
  /** The frame layout of each message shape, written as docs/protocol.md writes it. */
  readonly frames: Readonly<Record<string, string>>;
  /** The endpoints where the channel is served (the URLs of its servers). */
  readonly endpoints: readonly string[];
  /** RPC: the method frame. */
  readonly method?: string;
  /** RPC: the method may be retried (the `idempotent` header). */
  readonly idempotent?: boolean;
  /** Majordomo: the service frame. */
  readonly service?: string;
  /** Publish-subscribe: the declared topic, and which wire topics it covers. */
  readonly topic?: { readonly declared: string; readonly covers: string };
}

/** An AsyncAPI 3 Server Object. */
export interface AsyncApiServer {
  /** `host:port` for tcp, `localhost` for ipc, the name for inproc. */
  readonly host: string;
  /** Always `zmq`. */
  readonly protocol: "zmq";
  /** The ZMTP version libzmq 4.3 speaks. */
  readonly protocolVersion: "3.1";
  /** The ipc socket path. */
  readonly pathname?: string;
  /** As given in `options.servers`. */
  readonly description?: string;
  /** The endpoint and transport. */
  readonly "x-zmq": ZmqServerExtension;
}

/** An AsyncAPI 3 Message Object. */
export interface AsyncApiMessage {
  /** A machine-friendly name, for example `hello.request`. */
  readonly name: string;
  /** A human-friendly title. */
  readonly title: string;
  /** What the message is, on which frames. */
  readonly summary: string;
  /** The content type of the body frame. */
  readonly contentType: string;
  /** The optional headers frame (a JSON object whatever the codec). */
  readonly headers: AsyncApiRef;
  /** The body frame. */
  readonly payload: AsyncApiRef;
}

/** An AsyncAPI 3 Channel Object. */
export interface AsyncApiChannel {
  /** The method frame, the declared topic, or `null` (replies and pipeline messages have no address on the wire). */
  readonly address: string | null;
  /** A human-friendly title. */
  readonly title: string;
  /** What travels on it. */
  readonly description: string;
  /** The messages, each a reference to `components/messages`. */
  readonly messages: Readonly<Record<string, AsyncApiRef>>;
  /** The servers it is on, when not all of them. */
  readonly servers?: readonly AsyncApiRef[];
  /** Socket types, frames, endpoints. */
  readonly "x-zmq": ZmqChannelExtension;
}

/** An AsyncAPI 3 Operation Object. */
export interface AsyncApiOperation {
  /** From the serving side: `receive` (a server, a worker's tasks) or `send` (a publisher, a worker's results). */
  readonly action: "send" | "receive";
  /** The channel it acts on. */
  readonly channel: AsyncApiRef;
  /** A human-friendly title. */
  readonly title: string;
  /** What it does. */
  readonly summary: string;
  /** The messages, each a reference to a message of the channel. */
  readonly messages: readonly AsyncApiRef[];
  /** RPC: the reply, on the method's reply channel (an `ok` response or an `error` body). */
  readonly reply?: { readonly channel: AsyncApiRef; readonly messages: readonly AsyncApiRef[] };
  /** Socket types, frames, endpoints (the same as its channel's). */
  readonly "x-zmq": ZmqChannelExtension;
}

/** The AsyncAPI 3.0.0 document {@link toAsyncApi} returns: a plain object, ready for `JSON.stringify`. */
export interface AsyncApiDocument {
  /** Always `3.0.0`. */
  readonly asyncapi: "3.0.0";
  /** Title, version, description. */
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  /** The content type of the bodies. */
  readonly defaultContentType: string;
  /** The servers, by name. */
  readonly servers: Readonly<Record<string, AsyncApiServer>>;
  /** One channel per RPC method and its reply, per declared topic, and per pipeline task and result. */
  readonly channels: Readonly<Record<string, AsyncApiChannel>>;
  /** One operation per RPC method (with its reply), per declared topic, and per pipeline task and result. */
  readonly operations: Readonly<Record<string, AsyncApiOperation>>;
  /** The messages and the payload schemas, each stored once. */
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly messages: Readonly<Record<string, AsyncApiMessage>>;
  };
  /** The wire protocol version and the codec. */
  readonly "x-zmq": ZmqDocumentExtension;
}

const SPECIFICATION = "https://github.com/typed-zmq/typed-zmq/blob/main/docs/protocol.md";
const HEADERS = "typed-zmq.headers";
const ERROR = "typed-zmq.error";
const KEY = /^[A-Za-z0-9._-]+$/;

/** What the status frame of an RPC reply says. */
const STATUS = '"ok" before the response body, "error" before an error body { code, message, details? }';

/** The frames of each pattern, as docs/protocol.md writes them (`H` and `headers` are the optional headers frame). */
const FRAMES = {
  rpc: {
    request: '[ ...envelope, "", method, body, headers? ]',
    reply: '[ ...envelope, "", status, body, headers? ]',
    status: STATUS,
    reqSocket: "a REQ client sends [ method, body ] and receives [ status, body ]: REQ adds and strips the envelope",
  },
  majordomo: {
    request: '[ "", "MDPC01", service, method, body, headers ]',
    reply: '[ "", "MDPC01", service, status, body, headers? ]',
    workerRequest: '[ "", "MDPW01", 0x02, client, "", method, body, headers ]',
    workerReply: '[ "", "MDPW01", 0x03, client, "", status, body, headers? ]',
    status: STATUS,
  },
  pubsub: { message: "[ topic, body, H? ]", batch: '[ topic, "", packed, H? ]' },
  task: { task: "[ body, H? ]", batch: '[ "", packed, H? ]' },
  result: { result: "[ body, H? ]", failure: '[ "error", body, H? ]', batch: '[ "", packed, H? ]' },
} as const;

/** The headers frame's keys (docs/protocol.md, "Headers"): every one optional, unknown keys ignored. */
const HEADERS_SCHEMA: JsonSchema = {
  type: "object",
  description:
    "The optional headers frame: one JSON object (UTF-8, at most 8 KiB) whatever the body codec; unknown keys are ignored.",
  properties: {
    version: { type: "string", description: "protocol version of the sender" },
    deadline: { type: "number", description: "absolute deadline, ms since the Unix epoch" },
    remainingMs: { type: "number", description: "the time the sender had left when it sent the message" },
    correlationId: { type: "string", description: "echoed by a server in the reply's headers" },
    contract: { type: "string", description: "the contract's name and version" },
    idempotent: { type: "boolean", description: "the method may safely run more than once" },
    traceparent: { type: "string", description: "W3C Trace Context" },
    tracestate: { type: "string", description: "W3C Trace Context" },
    publisherId: { type: "string", description: "pub-sub: a stable id of the publishing process" },
    epoch: { type: "number", description: "pub-sub: changes when the publisher restarts" },
    seq: { type: "number", description: "pub-sub: sequence number within the epoch" },
    topicSeq: { type: "number", description: "pub-sub: sequence number within the epoch on exactly this topic" },
  },
};

/** The error body of an RPC error reply and of a pipeline failure result. */
const ERROR_SCHEMA: JsonSchema = {
  type: "object",
  description: "An error body: a wire code (INVALID_REQUEST, HANDLER_ERROR, ...) or an application code.",
  properties: { code: { type: "string" }, message: { type: "string" }, details: {} },
  required: ["code", "message"],
};

/**
 * Gives the AsyncAPI 3.0.0 document of a set of contracts: a channel and an operation for every RPC method (with
 * its reply), every declared topic, and the pipeline's tasks and results, their payloads as JSON Schemas, the
 * servers, and `x-zmq` extensions with the socket types, the frame layout and the endpoints.
 *
 * Validate it with `@asyncapi/parser`, render it with AsyncAPI's tools, or hand it to a team writing a peer in
 * another language. Channel, operation, message and schema keys are `<contract>.<method|topic|task|result>`, with
 * any character outside `[A-Za-z0-9._-]` replaced by `_`.
 *
 * @param contracts - The contracts, each alone (served on every server) or as `{ contract, servers?, service? }`.
 * @param options - `servers` (name to endpoint), `info`, `contentType`, `unrepresentable`.
 * @returns A plain object, ready for `JSON.stringify` (or a YAML writer).
 * @throws {@link UnrepresentableSchemaError} when a schema holds types JSON Schema cannot describe.
 * @throws {@link InvalidEndpointError} when a server's URL is not a ZeroMQ endpoint.
 * @throws {@link InvalidArgumentError} for anything else that is not usable: no contract, two contracts with one
 *   name, an unknown server name, a `service` on a contract that is not RPC.
 * @example
 * ```ts
 * const doc = toAsyncApi([Greeter, Football], { servers: { local: "tcp://127.0.0.1:5555" } });
 * writeFileSync("asyncapi.json", JSON.stringify(doc, null, 2));
 * ```
 */
export function toAsyncApi(
  contracts: readonly (AnyContract | AsyncApiContractInput)[],
  options: AsyncApiOptions,
): AsyncApiDocument {
  if (!Array.isArray(contracts) || contracts.length === 0) {
    throw new InvalidArgumentError("toAsyncApi: `contracts` must be a non-empty array of contracts.");
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
  if (typeof options !== "object" || options === null || typeof options.servers !== "object" || options.servers === null) {
    throw new InvalidArgumentError(
      'toAsyncApi: `options.servers` must map server names to endpoints, for example { servers: { local: "tcp://127.0.0.1:5555" } }.',
    );
  }
  const builder = new Builder(options);
  const entries = contracts.map(entryOf);
  for (const entry of entries) builder.add(entry);
  const names = entries.map((e) => e.name);
  return {
    asyncapi: "3.0.0",
    info: {
      title: options.info?.title ?? `typed-zmq contracts: ${names.join(", ")}`,
      version: options.info?.version ?? "1.0.0",
      description:
        options.info?.description ??
        `ZeroMQ services described by their typed-zmq contracts (${names.join(", ")}), from the serving side: RPC ` +
          `servers receive requests and reply, publishers send, pipeline workers receive tasks and send results. ` +
          `The frames are in each channel's x-zmq extension and in the typed-zmq wire protocol, ${SPECIFICATION}.`,
    },
    defaultContentType: builder.contentType,
    servers: builder.servers,
    channels: builder.channels,
    operations: builder.operations,
    components: { schemas: builder.schemas, messages: builder.messages },
    "x-zmq": {
      protocolVersion: PROTOCOL_VERSION,
      specification: SPECIFICATION,
      contentType: builder.contentType,
      headersFrame:
        "optional, always the last frame: one JSON object in UTF-8 whatever the codec (components/schemas/typed-zmq.headers)",
    },
  };
}

/** One contract with where it is served, after the run-time checks. */
interface Entry {
  readonly contract: AnyContract;
  readonly name: string;
  readonly servers: readonly string[] | undefined;
  readonly service: string | undefined;
}

function entryOf(input: AnyContract | AsyncApiContractInput): Entry {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
  const wrapped = typeof input === "object" && input !== null && "contract" in input;
  const contract = wrapped ? input.contract : input;
  const name = contractName(contract, "toAsyncApi");
  const servers = wrapped ? input.servers : undefined;
  const service = wrapped ? input.service : undefined;
  if (service !== undefined && contract.kind !== "rpc") {
    throw new InvalidArgumentError(
      `toAsyncApi: \`service\` is for RPC contracts served through a broker; "${name}" is a ${contract.kind} contract. Remove it.`,
    );
  }
  if (service !== undefined && service !== true && (typeof service !== "string" || service.length === 0)) {
    throw new InvalidArgumentError(`toAsyncApi: the \`service\` of "${name}" must be a non-empty string or true.`);
  }
  return { contract, name, servers, service: service === true ? name : service };
}

/** Accumulates the parts of the document. */
class Builder {
  readonly contentType: string;
  readonly servers: Record<string, AsyncApiServer> = {};
  readonly channels: Record<string, AsyncApiChannel> = {};
  readonly operations: Record<string, AsyncApiOperation> = {};
  readonly schemas: Record<string, JsonSchema> = { [HEADERS]: HEADERS_SCHEMA, [ERROR]: ERROR_SCHEMA };
  readonly messages: Record<string, AsyncApiMessage> = {};
  readonly #unrepresentable: JsonSchemaOptions["unrepresentable"];
  readonly #contracts = new Set<string>();

  constructor(options: AsyncApiOptions) {
    this.contentType = options.contentType ?? "application/json";
    this.#unrepresentable = options.unrepresentable;
    for (const [name, given] of Object.entries(options.servers))
      this.servers[checkedKey(name, "server name")] = server(name, given);
    this.messages[ERROR] = {
      name: "error",
      title: "Error",
      summary: "An error body, after the status frame `error` (RPC) or the marker frame `error` (pipeline failure results).",
      contentType: this.contentType,
      headers: schemaRef(HEADERS),
      payload: schemaRef(ERROR),
    };
  }

  add(entry: Entry): void {
    if (this.#contracts.has(entry.name)) {
      throw new InvalidArgumentError(`toAsyncApi: contract "${entry.name}" is given twice; give each contract once.`);
    }
    this.#contracts.add(entry.name);
    const where = this.#where(entry);
    const options = {
      target: "draft-07",
      ...(this.#unrepresentable !== undefined && { unrepresentable: this.#unrepresentable }),
    } as const;
    const contract = entry.contract;
    switch (contract.kind) {
      case "rpc": {
        const exported = toJsonSchema(contract, options);
        for (const [method, schemas] of Object.entries(exported.methods)) {
          const base = key(entry.name, method);
          const zmq: ZmqChannelExtension =
            entry.service === undefined
              ? {
                  pattern: "request-reply",
                  contract: entry.name,
                  sockets: { server: "ROUTER", client: ["DEALER", "REQ"] },
                  frames: FRAMES.rpc,
                  endpoints: where.endpoints,
                  method,
                  idempotent: schemas.idempotent,
                }
              : {
                  pattern: "majordomo",
                  contract: entry.name,
                  sockets: { broker: "ROUTER", client: ["DEALER", "REQ"], worker: "DEALER" },
                  frames: FRAMES.majordomo,
                  endpoints: where.endpoints,
                  method,
                  idempotent: schemas.idempotent,
                  service: entry.service,
                };
          const request = this.#message(
            `${base}.request`,
            `${method}.request`,
            `Request of ${entry.name}/${method}`,
            schemas.request,
          );
          const response = this.#message(
            `${base}.response`,
            `${method}.response`,
            `Response of ${entry.name}/${method}`,
            schemas.response,
          );
          this.#channel(base, {
            address: method,
            title: `${entry.name}/${method}`,
            description: `Requests to method "${method}" of ${entry.name}${entry.service === undefined ? "" : ` through the Majordomo service "${entry.service}"`}.`,
            messages: { request: messageRef(request) },
            ...where.servers,
            "x-zmq": zmq,
          });
          this.#channel(`${base}.reply`, {
            address: null,
            title: `${entry.name}/${method} reply`,
            description: `Replies to "${method}", routed back along the request's envelope: status "ok" and the response, or "error" and an error body.`,
            messages: { response: messageRef(response), error: messageRef(ERROR) },
            ...where.servers,
            "x-zmq": zmq,
          });
          this.operations[base] = {
            action: "receive",
            channel: channelRef(base),
            title: `${entry.name}/${method}`,
            summary: `A server receives a "${method}" request and replies once.`,
            messages: [channelMessageRef(base, "request")],
            reply: {
              channel: channelRef(`${base}.reply`),
              messages: [channelMessageRef(`${base}.reply`, "response"), channelMessageRef(`${base}.reply`, "error")],
            },
            "x-zmq": zmq,
          };
        }
        return;
      }
      case "topics": {
        const exported = toJsonSchema(contract, options);
        for (const [topic, schema] of Object.entries(exported.topics)) {
          const base = key(entry.name, topic);
          const zmq: ZmqChannelExtension = {
            pattern: "publish-subscribe",
            contract: entry.name,
            sockets: { publisher: ["XPUB", "PUB"], subscriber: "SUB" },
            frames: FRAMES.pubsub,
            endpoints: where.endpoints,
            topic: { declared: topic, covers: `"${topic}" and "${topic}.<anything>" (subscriptions are byte prefixes)` },
          };
          const message = this.#message(base, topic, `${entry.name} topic ${topic}`, schema);
          this.#channel(base, {
            address: topic,
            title: `${entry.name} ${topic}`,
            description: `Messages on the wire topic "${topic}" and every "${topic}.<anything>" (the topic frame comes first).`,
            messages: { [topicMessage]: messageRef(message) },
            ...where.servers,
            "x-zmq": zmq,
          });
          this.operations[base] = {
            action: "send",
            channel: channelRef(base),
            title: `${entry.name} ${topic}`,
            summary: `A publisher sends "${topic}" messages to every subscriber whose subscription prefixes the topic.`,
            messages: [channelMessageRef(base, topicMessage)],
            "x-zmq": zmq,
          };
        }
        return;
      }
      case "jobs": {
        const exported = toJsonSchema(contract, options);
        const task = key(entry.name, "task");
        const result = key(entry.name, "result");
        const taskZmq: ZmqChannelExtension = {
          pattern: "pipeline",
          contract: entry.name,
          sockets: { source: "PUSH", worker: "PULL" },
          frames: FRAMES.task,
          endpoints: where.endpoints,
        };
        const resultZmq: ZmqChannelExtension = { ...taskZmq, sockets: { worker: "PUSH", sink: "PULL" }, frames: FRAMES.result };
        const taskMessage = this.#message(task, "task", `${entry.name} task`, exported.task);
        const resultMessage = this.#message(result, "result", `${entry.name} result`, exported.result);
        this.#channel(task, {
          address: null,
          title: `${entry.name} tasks`,
          description: `Tasks a source pushes; each goes to one worker (round-robin). No address: the socket is the queue.`,
          messages: { task: messageRef(taskMessage) },
          ...where.servers,
          "x-zmq": taskZmq,
        });
        this.#channel(result, {
          address: null,
          title: `${entry.name} results`,
          description: `Results workers push to the sink, or a failure result: the frame "error" and an error body.`,
          messages: { result: messageRef(resultMessage), error: messageRef(ERROR) },
          ...where.servers,
          "x-zmq": resultZmq,
        });
        this.operations[task] = {
          action: "receive",
          channel: channelRef(task),
          title: `${entry.name} tasks`,
          summary: "A worker pulls tasks.",
          messages: [channelMessageRef(task, "task")],
          "x-zmq": taskZmq,
        };
        this.operations[result] = {
          action: "send",
          channel: channelRef(result),
          title: `${entry.name} results`,
          summary: "A worker pushes a result, or a failure result, for each task.",
          messages: [channelMessageRef(result, "result"), channelMessageRef(result, "error")],
          "x-zmq": resultZmq,
        };
        return;
      }
    }
  }

  /** The servers of an entry: the channel's `servers` (when not all) and their endpoints. */
  #where(entry: Entry): {
    readonly servers: { readonly servers?: readonly AsyncApiRef[] };
    readonly endpoints: readonly string[];
  } {
    const known = Object.keys(this.servers);
    if (entry.servers === undefined) {
      return { servers: {}, endpoints: known.map((name) => this.servers[name]?.["x-zmq"].endpoint ?? name) };
    }
    for (const name of entry.servers) {
      if (!known.includes(name)) {
        throw new InvalidArgumentError(
          `toAsyncApi: contract "${entry.name}" names server "${name}", which is not in \`options.servers\` (${known.join(", ") || "none"}). Add it there.`,
        );
      }
    }
    return {
      servers: { servers: entry.servers.map((name) => ({ $ref: `#/servers/${name}` })) },
      endpoints: entry.servers.map((name) => this.servers[name]?.["x-zmq"].endpoint ?? name),
    };
  }

  #channel(name: string, channel: AsyncApiChannel): void {
    if (name in this.channels) {
      throw new InvalidArgumentError(
        `toAsyncApi: two channels would both be named "${name}" (names are "<contract>.<method|topic>" with characters outside [A-Za-z0-9._-] replaced by "_"). Rename one method or topic.`,
      );
    }
    this.channels[name] = channel;
  }

  /** Stores a payload schema (with its definitions hoisted into components) and its message; returns the key. */
  #message(name: string, messageName: string, title: string, schema: JsonSchema): string {
    this.schemas[name] = hoist(schema, name, this.schemas);
    this.messages[name] = {
      name: messageName,
      title,
      summary: `${title}: the body frame, encoded with ${this.contentType}.`,
      contentType: this.contentType,
      headers: schemaRef(HEADERS),
      payload: schemaRef(name),
    };
    return name;
  }
}

/** The message key of a topic channel. */
const topicMessage = "message";

function server(name: string, given: string | AsyncApiServerInput): AsyncApiServer {
  const url = typeof given === "string" ? given : given.url;
  const description = typeof given === "string" ? undefined : given.description;
  if (typeof url !== "string") {
    throw new InvalidArgumentError(`toAsyncApi: server "${name}" needs an endpoint URL such as "tcp://host:5555".`);
  }
  const parsed = parseEndpoint(url);
  const address =
    parsed.transport === "tcp"
      ? { host: `${parsed.host ?? "*"}:${parsed.port ?? "*"}` }
      : parsed.transport === "ipc"
        ? { host: "localhost", pathname: parsed.address }
        : { host: parsed.address };
  return {
    ...address,
    protocol: "zmq",
    protocolVersion: "3.1",
    ...(description !== undefined && { description }),
    "x-zmq": { endpoint: url, transport: parsed.transport },
  };
}

function checkedKey(name: string, what: string): string {
  if (!KEY.test(name)) {
    throw new InvalidArgumentError(`toAsyncApi: ${what} "${name}" must use only letters, digits and . _ - (AsyncAPI keys).`);
  }
  return name;
}

/** `<contract>.<part>`, with characters AsyncAPI keys do not allow replaced by `_`. */
function key(contract: string, part: string): string {
  return `${contract}.${part}`.replace(/[^A-Za-z0-9._-]/g, "_");
}

const schemaRef = (name: string): AsyncApiRef => ({ $ref: `#/components/schemas/${name}` });
const messageRef = (name: string): AsyncApiRef => ({ $ref: `#/components/messages/${name}` });
const channelRef = (name: string): AsyncApiRef => ({ $ref: `#/channels/${name}` });
const channelMessageRef = (channel: string, message: string): AsyncApiRef => ({
  $ref: `#/channels/${channel}/messages/${message}`,
});

/**
 * Makes a generated schema fit inside the document: drops `$schema`, moves its `definitions` (recursive and reused
 * parts) to `components/schemas/<name>.<definition>`, and rewrites its local references (`#` itself, and
 * `#/definitions/...`) to point there.
 */
function hoist(schema: JsonSchema, name: string, into: Record<string, JsonSchema>): JsonSchema {
  const { $schema: _dialect, definitions, ...rest } = schema;
  const rewrite = (ref: string): string => {
    if (ref === "#") return `#/components/schemas/${name}`;
    const defined = /^#\/definitions\/(.+)$/.exec(ref);
    if (defined?.[1] === undefined) return ref;
    const def = decodeURIComponent(defined[1]).replaceAll("~1", "/").replaceAll("~0", "~");
    return `#/components/schemas/${key(name, def)}`;
  };
  if (typeof definitions === "object" && definitions !== null) {
    for (const [def, body] of Object.entries(definitions)) into[key(name, def)] = asSchema(rewriteRefs(body, rewrite));
  }
  return asSchema(rewriteRefs(rest, rewrite));
}

/** A rewritten schema is still an object (a JSON Schema whose properties are all optional). */
function asSchema(value: unknown): JsonSchema {
  return isObject(value) ? value : {};
}

/** Every JSON object is a JSON Schema as far as the type goes: all of its keywords are optional. */
function isObject(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy of a JSON value with every `$ref` string passed through `rewrite`. */
function rewriteRefs(value: unknown, rewrite: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, rewrite));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = k === "$ref" && typeof v === "string" ? rewrite(v) : rewriteRefs(v, rewrite);
  return out;
}
