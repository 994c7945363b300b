/**
 * `typed-zmq asyncapi MODULE`: the AsyncAPI 3.0 document (`toAsyncApi`) of every contract a module exports, printed
 * as JSON or written to a file, for peers in other languages and for AsyncAPI tools.
 */
import fs from "node:fs";
import {
  isInvalidArgumentError,
  isInvalidEndpointError,
  isUnrepresentableSchemaError,
  toAsyncApi,
  type AnyContract,
  type AsyncApiOptions,
} from "../index.js";
import { COMMON_HELP, EXIT_FAILED, EXIT_HELP, EXIT_OK, JSON_OPTION, UsageError, loadModule, type Command } from "./command.js";

function isContract(value: unknown): value is AnyContract {
  if (typeof value !== "object" || value === null) return false;
  const { kind, name } = value as { kind?: unknown; name?: unknown };
  return (kind === "rpc" || kind === "topics" || kind === "jobs") && typeof name === "string";
}

/** `--server NAME=URL` options, in order; a malformed one is a usage error. */
function serversOf(where: string, given: unknown): AsyncApiOptions["servers"] {
  const list = Array.isArray(given) ? given : given === undefined ? [] : [given];
  const servers: Record<string, string> = {};
  for (const item of list) {
    const text = String(item);
    const at = text.indexOf("=");
    if (at <= 0 || at === text.length - 1) {
      throw new UsageError(`${where}: --server takes NAME=URL, for example --server local=tcp://127.0.0.1:5555; got "${text}".`);
    }
    servers[text.slice(0, at)] = text.slice(at + 1);
  }
  return servers;
}

/** `asyncapi MODULE`. */
export const asyncapi: Command = {
  summary: "print the AsyncAPI 3.0 document of the contracts a module exports",
  help: `usage: typed-zmq asyncapi [--server NAME=URL]... [--title TEXT] [--doc-version V] [--out FILE] MODULE

Prints the AsyncAPI 3.0.0 document (JSON) of every contract (defineRpc, defineTopics, defineJobs) that MODULE
exports: a channel for every RPC method, topic and pipeline queue, request/reply operations, the payloads' JSON
Schemas (the input side: what travels on the wire), and x-zmq extensions with the socket types and frame layout.
The same document toAsyncApi() gives in code. MODULE is a JavaScript module (.js/.mjs), or a TypeScript module when
your project has tsx: run the CLI as \`node --import tsx node_modules/.bin/typed-zmq asyncapi ...\`.

examples:
  typed-zmq asyncapi --server local=tcp://127.0.0.1:5555 dist/contracts.js
  node --import tsx node_modules/.bin/typed-zmq asyncapi --out asyncapi.json src/contracts.ts

options:
  --server NAME=URL  a server of the document (repeatable); none by default
  --title TEXT       the document's info.title (default: the contracts' names)
  --doc-version V    the document's info.version (default 1.0.0)
  --out FILE         write the document to FILE instead of stdout
  --json             accepted for symmetry: the document is JSON either way
${COMMON_HELP}

${EXIT_HELP} A contract with a type JSON Schema cannot describe (a date, a bigint, a transform) fails with 1 and
names each place; toAsyncApi's \`unrepresentable\` option is the way around it in code.`,
  options: {
    ...JSON_OPTION,
    server: { type: "string", multiple: true },
    title: { type: "string" },
    "doc-version": { type: "string" },
    out: { type: "string" },
  },
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq asyncapi";
    const [file, ...more] = positionals;
    if (file === undefined) throw new UsageError(`${where}: give the MODULE that exports your contracts.`);
    if (more.length > 0) throw new UsageError(`${where}: takes one MODULE, got extra: ${more.join(" ")}.`);
    const servers = serversOf(where, values["server"]);
    const module = await loadModule(where, "MODULE", file);
    const contracts = [...new Set(Object.values(module).filter(isContract))];
    if (contracts.length === 0) {
      throw new UsageError(`${where}: ${file} exports no contract (defineRpc, defineTopics or defineJobs).`);
    }
    const title = typeof values["title"] === "string" ? values["title"] : undefined;
    const version = typeof values["doc-version"] === "string" ? values["doc-version"] : undefined;
    let text: string;
    try {
      const document = toAsyncApi(contracts, {
        servers,
        ...(title === undefined && version === undefined
          ? {}
          : { info: { ...(title === undefined ? {} : { title }), ...(version === undefined ? {} : { version }) } }),
      });
      text = `${JSON.stringify(document, null, 2)}\n`;
    } catch (error) {
      if (isUnrepresentableSchemaError(error)) {
        console.error(`${where}: ${error.message}`);
        return EXIT_FAILED;
      }
      // A bad server URL or name: the library's message says which and what to write. Anything else is a failure.
      if (isInvalidArgumentError(error) || isInvalidEndpointError(error)) throw new UsageError(`${where}: ${error.message}`);
      throw error;
    }
    const out = typeof values["out"] === "string" ? values["out"] : undefined;
    if (out === undefined) {
      process.stdout.write(text);
    } else {
      fs.writeFileSync(out, text);
      console.error(`${where}: wrote ${out} (${contracts.length} contract(s): ${contracts.map((c) => c.name).join(", ")}).`);
    }
    return EXIT_OK;
  },
};
