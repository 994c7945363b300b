/**
 * `typed-zmq call`: one RPC call to a typed-zmq server, directly or through an `RpcBroker` (Majordomo), validated
 * with the user's contract when `--contract` names one, else with an accept-anything contract.
 */
import * as z from "zod";
import {
  RpcClient,
  defineRpc,
  isContractValidationError,
  isNoServerError,
  isRemoteCallError,
  isTimeoutError,
  type RpcContract,
} from "../index.js";
import {
  COMMON_HELP,
  EXIT_HELP,
  EXIT_OK,
  EXIT_USAGE,
  JSON_OPTION,
  Output,
  UsageError,
  endpointArgument,
  fromArgument,
  jsonArgument,
  loadModule,
  wholeNumberOption,
  type Command,
} from "./command.js";

const DEFAULT_TIMEOUT_MS = 5_000;

function isRpcContract(value: unknown): value is RpcContract {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "rpc" &&
    typeof (value as { name?: unknown }).name === "string" &&
    typeof (value as { methods?: unknown }).methods === "object"
  );
}

/** Loads the RPC contract that has `method` from the module `file` (any of its exports). */
async function loadContract(where: string, file: string, method: string): Promise<RpcContract> {
  const module = await loadModule(where, "--contract", file);
  const contracts = Object.values(module).filter(isRpcContract);
  if (contracts.length === 0) throw new UsageError(`${where}: --contract ${file} exports no RPC contract (defineRpc).`);
  const found = contracts.find((c) => Object.hasOwn(c.methods, method));
  if (found === undefined) {
    const known = contracts.flatMap((c) => Object.keys(c.methods).map((m) => `${m} (${c.name})`));
    throw new UsageError(`${where}: no contract in ${file} has a method "${method}"; its methods: ${known.join(", ")}.`);
  }
  return found;
}

/** `call ENDPOINT METHOD JSON`. */
export const call: Command = {
  summary: "call a method of an RPC server (or, with --service, through a broker) and print the reply",
  help: `usage: typed-zmq call [--service NAME] [--timeout MS] [--contract MODULE] [--json] ENDPOINT METHOD JSON

Calls METHOD with the request JSON on the typed-zmq RPC server at ENDPOINT (a server that binds, e.g.
RpcServer.bind), and prints the reply. With --service, ENDPOINT is an RpcBroker's frontend and the call goes to
the service NAME through it (Majordomo, MDP 0.1).

Without --contract, any request is sent and any reply accepted (no validation; direct calls go without the
protocol 1.1 headers, so a server of any contract answers; through a broker the contract name sent is the service
name, which is what a typed-zmq server registered under its contract's name expects).
With --contract MODULE, the request and the reply are validated with the RPC contract (defineRpc) exported by
MODULE that has METHOD. MODULE is a JavaScript module (.js/.mjs), or a TypeScript module when your project has tsx:
run the CLI as \`node --import tsx node_modules/.bin/typed-zmq call ...\`.

examples:
  typed-zmq call tcp://127.0.0.1:5555 hello '{"name":"Ada"}'
  typed-zmq call --service greeter.v1 tcp://127.0.0.1:5559 hello '{"name":"Ada"}'

options:
  --service NAME    call the service NAME through the broker whose frontend is ENDPOINT
  --timeout MS      give up after MS milliseconds (default ${DEFAULT_TIMEOUT_MS}); the call is never retried
  --contract MODULE validate with the RPC contract in MODULE
  --json            print {"ok":true,"reply":...} or {"ok":false,"error":{code,message,details}} on one line
${COMMON_HELP}

${EXIT_HELP}`,
  options: { ...JSON_OPTION, service: { type: "string" }, timeout: { type: "string" }, contract: { type: "string" } },
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq call";
    const output = new Output(values);
    const [endpointText, method, body, ...more] = positionals;
    if (more.length > 0) throw new UsageError(`${where}: takes ENDPOINT METHOD JSON, got extra: ${more.join(" ")}.`);
    const endpoint = endpointArgument(where, endpointText);
    if (method === undefined || method === "") throw new UsageError(`${where}: give the METHOD to call after the endpoint.`);
    const request = jsonArgument(where, "request", body);
    const timeoutMs = wholeNumberOption(where, values, "timeout", DEFAULT_TIMEOUT_MS);
    const service = typeof values["service"] === "string" ? values["service"] : undefined;
    const file = typeof values["contract"] === "string" ? values["contract"] : undefined;
    const contract =
      file === undefined
        ? fromArgument(where, () =>
            defineRpc(service ?? "typed-zmq-cli", { [method]: { request: z.unknown(), response: z.unknown() } }),
          )
        : await loadContract(where, file, method);

    await using client = await RpcClient.connect(endpoint, contract, {
      timeoutMs,
      retry: false,
      // A direct call without a contract sends no contract name, so that a server of any contract answers.
      headers: file !== undefined || service !== undefined,
      ...(service === undefined ? {} : { service }),
    });
    const target = service === undefined ? endpoint : `service ${service} at ${endpoint}`;
    try {
      const reply: unknown = await client.call(method, request);
      output.emit(JSON.stringify(reply, null, 2), { ok: true, reply });
      return EXIT_OK;
    } catch (error) {
      if (isRemoteCallError(error)) {
        const record = { error: { code: error.code, message: error.remoteMessage, details: error.details } };
        return output.fail(
          `${where}: ${target} answered ${output.paintError("red", error.code)}: ${error.remoteMessage}`,
          record,
        );
      }
      if (isTimeoutError(error) || isNoServerError(error)) {
        return output.fail(
          `${where}: no reply from ${target} within ${timeoutMs} ms (${error.message}). Is a server${service === undefined ? "" : " (and a worker for the service)"} running there? Give more time with --timeout MS.`,
          { error: { code: "TIMEOUT", detail: error.message } },
        );
      }
      if (isContractValidationError(error) && error.direction === "outgoing") {
        console.error(`${where}: the request breaks the contract ${contract.name}: ${error.message}`);
        return EXIT_USAGE;
      }
      if (isContractValidationError(error)) {
        return output.fail(`${where}: the reply from ${target} breaks the contract ${contract.name}: ${error.message}`, {
          error: { code: "INVALID_RESPONSE" },
        });
      }
      throw error;
    }
  },
};
