/**
 * `typed-zmq services`: Majordomo management (8/MMI) against an `RpcBroker` (or any MDP broker): list the services
 * with their workers (`mmi.services`, a typed-zmq extension), or check named services (`mmi.service`).
 */
import * as zmq from "zeromq";
import { MMI_SERVICE, MMI_SERVICES, MmiStatus, encodeClientRequest, parseClientReply } from "../protocol/mdp.js";
import {
  COMMON_HELP,
  EXIT_FAILED,
  EXIT_HELP,
  EXIT_OK,
  JSON_OPTION,
  Output,
  endpointArgument,
  wholeNumberOption,
  type Command,
} from "./command.js";

const DEFAULT_TIMEOUT_MS = 5_000;

interface ServiceInfo {
  readonly service: string;
  readonly workers: readonly { readonly name: string; readonly capacity: number; readonly inFlight: number }[];
  readonly queued: number;
}

class NoReply extends Error {}

/** One MMI request on `socket`; resolves to the reply body's first frame. */
async function ask(socket: zmq.Dealer, service: string, body: string): Promise<Buffer> {
  await socket.send(encodeClientRequest(Buffer.from(service), [Buffer.from(body)]));
  for (;;) {
    let frames: Buffer[];
    try {
      frames = await socket.receive();
    } catch (error) {
      if ((error as { code?: unknown }).code === "EAGAIN") throw new NoReply();
      throw error;
    }
    const reply = parseClientReply(frames);
    if (reply.kind === "reply" && reply.service === service) return reply.body[0] ?? Buffer.alloc(0);
  }
}

function parseServices(body: Buffer): ServiceInfo[] | undefined {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { services?: unknown };
    return Array.isArray(parsed.services) ? (parsed.services as ServiceInfo[]) : undefined;
  } catch {
    return undefined;
  }
}

/** `services BROKER [SERVICE...]`. */
export const services: Command = {
  summary: "list a broker's services and workers, or check services (Majordomo MMI)",
  help: `usage: typed-zmq services [--timeout MS] [--json] BROKER [SERVICE...]

Asks the Majordomo broker whose frontend is BROKER (an RpcBroker) through its management interface (8/MMI).
Without SERVICE: lists every service with its workers (name, capacity, requests in flight) and queued requests
(mmi.services, which typed-zmq brokers answer). With SERVICE names: checks each with mmi.service, printing 200
(a live worker serves it) or 404 (none does); the exit code is 1 when any is missing.

examples:
  typed-zmq services tcp://127.0.0.1:5559
  typed-zmq services tcp://127.0.0.1:5559 greeter.v1

options:
  --timeout MS      how long to wait for each answer (default ${DEFAULT_TIMEOUT_MS})
  --json            one JSON object per service, one per line
${COMMON_HELP}

${EXIT_HELP}`,
  options: { ...JSON_OPTION, timeout: { type: "string" } },
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq services";
    const output = new Output(values);
    const [endpointText, ...names] = positionals;
    const endpoint = endpointArgument(where, endpointText, "BROKER endpoint");
    const timeoutMs = wholeNumberOption(where, values, "timeout", DEFAULT_TIMEOUT_MS);
    const socket = new zmq.Dealer({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
    socket.connect(endpoint);
    try {
      if (names.length > 0) {
        let missing = 0;
        for (const name of names) {
          const status = (await ask(socket, MMI_SERVICE, name)).toString("utf8");
          const found = status === MmiStatus.FOUND;
          if (!found) missing++;
          const label = found ? output.paint("green", "200 up") : output.paint("red", `${status} no live worker`);
          output.emit(`${name}: ${label}`, { service: name, status, found });
        }
        return missing === 0 ? EXIT_OK : EXIT_FAILED;
      }
      const body = await ask(socket, MMI_SERVICES, "");
      const list = parseServices(body);
      if (list === undefined) {
        return output.fail(
          `${where}: the broker at ${endpoint} does not list its services (mmi.services answered ${JSON.stringify(body.toString("utf8"))}); ` +
            "it is not a typed-zmq broker. Check services by name: typed-zmq services BROKER SERVICE...",
          { error: { code: "NOT_IMPLEMENTED" } },
        );
      }
      if (list.length === 0 && !output.json) console.error(`${where}: no services registered at ${endpoint}`);
      for (const info of list) {
        const workers = info.workers.map((w) => `${w.name} (${w.inFlight}/${w.capacity})`).join(", ");
        output.emit(
          `${output.paint("bold", info.service)}: ${info.workers.length} worker${info.workers.length === 1 ? "" : "s"}` +
            `${workers === "" ? "" : ` ${workers}`}, ${info.queued} queued`,
          { ...info },
        );
      }
      return EXIT_OK;
    } catch (error) {
      if (!(error instanceof NoReply)) throw error;
      return output.fail(
        `${where}: no answer from a broker at ${endpoint} within ${timeoutMs} ms. Is an RpcBroker's frontend there? Give more time with --timeout MS.`,
        { error: { code: "TIMEOUT" } },
      );
    } finally {
      socket.close();
    }
  },
};
