/**
 * `typed-zmq monitor`: connects a socket of a chosen type to an endpoint and prints its socket events (zeromq.js'
 * `socket.events`: connect, connect:delay, connect:retry, handshake, handshake:error:*, disconnect, ...) as they come.
 */
import * as zmq from "zeromq";
import {
  COMMON_HELP,
  EXIT_HELP,
  JSON_OPTION,
  Output,
  UsageError,
  endOfStream,
  endpointArgument,
  receiveUntil,
  stopCondition,
  wholeNumberOption,
  type Command,
} from "./command.js";
import { STREAM_HELP } from "./pubsub.js";

/** Socket types to connect with, by the name `--type` takes. */
const TYPES = {
  dealer: () => new zmq.Dealer({ linger: 0 }),
  req: () => new zmq.Request({ linger: 0 }),
  sub: () => new zmq.Subscriber({ linger: 0 }),
  xsub: () => new zmq.XSubscriber({ linger: 0 }),
  pub: () => new zmq.Publisher({ linger: 0 }),
  xpub: () => new zmq.XPublisher({ linger: 0 }),
  push: () => new zmq.Push({ linger: 0 }),
  pull: () => new zmq.Pull({ linger: 0 }),
  router: () => new zmq.Router({ linger: 0 }),
  pair: () => new zmq.Pair({ linger: 0 }),
} as const;

type TypeName = keyof typeof TYPES;

function isTypeName(name: string): name is TypeName {
  return Object.hasOwn(TYPES, name);
}

/** The human line of one event: its type, its address, and what else it carries. */
function describe(output: Output, event: zmq.Event): { human: string; record: Record<string, unknown> } {
  const record: Record<string, unknown> = { event: event.type };
  if ("address" in event) record["address"] = event.address;
  if ("interval" in event) record["intervalMs"] = event.interval;
  if ("error" in event)
    record["error"] = { message: event.error.message, ...("code" in event.error ? { code: event.error.code } : {}) };
  const style =
    event.type.includes("error") || event.type === "disconnect" ? "red" : event.type === "handshake" ? "green" : "cyan";
  const extra = [
    "address" in event ? event.address : "",
    "interval" in event ? `retry in ${event.interval} ms` : "",
    "error" in event ? event.error.message : "",
  ].filter((part) => part !== "");
  return { human: `${output.paint(style, event.type)} ${extra.join(" ")}`.trimEnd(), record };
}

/** `monitor ENDPOINT`. */
export const monitor: Command = {
  summary: "connect to an endpoint and print the socket events (connect, handshake, disconnect, ...)",
  help: `usage: typed-zmq monitor [--type TYPE] [--count N] [--timeout MS] [--json] ENDPOINT

Connects a socket of TYPE to ENDPOINT and prints its socket events as they come (zeromq.js socket events):
connect:delay and connect:retry while nothing listens there, connect once TCP (or ipc) is up, handshake once the
ZMTP handshake is done (a compatible socket type, CURVE accepted), handshake:error:* when it fails (for example a
socket type the peer does not accept), disconnect when the peer goes away. It sends nothing.

TYPE is the socket to connect with, one the peer accepts: ${Object.keys(TYPES).join(", ")} (default dealer: an
RPC server, broker frontend or ROUTER; use sub for a publisher, pull for a source, push for a sink).

examples:
  typed-zmq monitor --timeout 3000 tcp://127.0.0.1:5555
  typed-zmq monitor --type sub --count 2 --json tcp://127.0.0.1:5556

options:
  --type TYPE       the socket type to connect with (default dealer)
${STREAM_HELP.replace("messages", "events").replace("per message", "per event")}
${COMMON_HELP}

${EXIT_HELP}`,
  options: { ...JSON_OPTION, type: { type: "string" }, count: { type: "string" }, timeout: { type: "string" } },
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq monitor";
    const output = new Output(values);
    const [endpointText, ...more] = positionals;
    if (more.length > 0) throw new UsageError(`${where}: takes one ENDPOINT, got extra: ${more.join(" ")}.`);
    const endpoint = endpointArgument(where, endpointText);
    const type = typeof values["type"] === "string" ? values["type"] : "dealer";
    if (!isTypeName(type)) {
      throw new UsageError(`${where}: --type must be one of ${Object.keys(TYPES).join(", ")}, got ${JSON.stringify(type)}.`);
    }
    const count = wholeNumberOption(where, values, "count", undefined);
    const stop = stopCondition(wholeNumberOption(where, values, "timeout", undefined));
    const socket = TYPES[type]();
    const events = socket.events;
    try {
      // Events are read before connecting, so that the first ones are not missed.
      const next = () => events.receive();
      const connected = Promise.resolve().then(() => socket.connect(endpoint));
      const print = (event: zmq.Event) => {
        const line = describe(output, event);
        output.emit(line.human, line.record);
      };
      const [handled] = await Promise.all([receiveUntil(next, print, stop.signal, count), connected]);
      return endOfStream(output, where, handled, count, stop.reason());
    } finally {
      stop.dispose();
      socket.close();
    }
  },
};
