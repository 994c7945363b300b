/**
 * `typed-zmq sub` (print the messages of a publisher as they arrive) and `typed-zmq pub` (publish one message,
 * after a subscriber for its topic is there, so it is not lost to the slow-joiner rule).
 */
import * as zmq from "zeromq";
import * as z from "zod";
import { Publisher, defineTopics, isTimeoutError } from "../index.js";
import { parsePubSub } from "../protocol/pubsub.js";
import {
  COMMON_HELP,
  EXIT_HELP,
  EXIT_OK,
  JSON_OPTION,
  Output,
  UsageError,
  announceBound,
  decodeBody,
  streamMessages,
  endpointArgument,
  fromArgument,
  jsonArgument,
  wholeNumberOption,
  type Command,
} from "./command.js";

const STREAM_OPTIONS = {
  ...JSON_OPTION,
  count: { type: "string" },
  timeout: { type: "string" },
  bind: { type: "boolean" },
} as const;

/** The help lines of the options every streaming command has. */
export const STREAM_HELP = `  --count N         stop after N messages (exit 1 if the timeout or Ctrl-C comes first)
  --timeout MS      stop after MS milliseconds (default: run until Ctrl-C)
  --json            one JSON object per message, one per line`;

/** `sub ENDPOINT [PREFIX...]`. */
export const sub: Command = {
  summary: "print the messages of a publisher as they arrive (all topics, or those starting with the prefixes)",
  help: `usage: typed-zmq sub [--count N] [--timeout MS] [--bind] [--json] ENDPOINT [PREFIX...]

Connects a subscriber to the publisher at ENDPOINT (a Publisher that binds, or a PubSubForwarder's backend) and
prints each message as it arrives: its topic and its body (JSON; other bytes as base64). With PREFIX arguments only
topics that start with one of them arrive (ZeroMQ's prefix match: "football.A" also matches "football.Arsenal");
without, every topic. Batches are unpacked; headers are shown with --json. Messages published before the
subscription reached the publisher are not received (ZeroMQ's slow-joiner rule).

examples:
  typed-zmq sub tcp://127.0.0.1:5556 football.Arsenal
  typed-zmq sub --json --count 10 tcp://127.0.0.1:5556

options:
  --bind            bind ENDPOINT instead (publishers connect to it)
${STREAM_HELP}
${COMMON_HELP}

${EXIT_HELP}`,
  options: STREAM_OPTIONS,
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq sub";
    const output = new Output(values);
    const [endpointText, ...prefixes] = positionals;
    const endpoint = endpointArgument(where, endpointText);
    const print = (frames: Buffer[]) => {
      const parsed = parsePubSub(frames);
      if (parsed.kind === "malformed") {
        console.error(
          `${where}: a malformed message${parsed.topic === undefined ? "" : ` on "${parsed.topic}"`}: ${parsed.reason}`,
        );
        return;
      }
      const bodies = parsed.kind === "message" ? [parsed.body] : parsed.bodies;
      for (const body of bodies) {
        const value = decodeBody(body);
        const record =
          parsed.headers === undefined
            ? { topic: parsed.topic, body: value }
            : { topic: parsed.topic, body: value, headers: parsed.headers };
        output.emit(`${output.paint("cyan", parsed.topic)} ${JSON.stringify(value)}`, record);
      }
    };
    const open = () => {
      const socket = new zmq.Subscriber({ linger: 0 });
      if (prefixes.length === 0) socket.subscribe();
      else socket.subscribe(...prefixes);
      return socket;
    };
    return streamMessages(where, values, open, endpoint, print);
  },
};

const DEFAULT_TIMEOUT_MS = 5_000;

/** `pub ENDPOINT TOPIC JSON`. */
export const pub: Command = {
  summary: "publish one message, once a subscriber for its topic is there",
  help: `usage: typed-zmq pub [--bind] [--timeout MS] [--json] ENDPOINT TOPIC JSON

Publishes one message [TOPIC, JSON] (the typed-zmq pub-sub frames). By default it connects to ENDPOINT, where a
subscriber binds (Subscriber.bind) or a PubSubForwarder's frontend is; with --bind it binds ENDPOINT and subscribers
connect to it. Either way it first waits until a subscriber whose prefix matches TOPIC has subscribed, so that the
message is not lost to ZeroMQ's slow-joiner rule, then sends it and waits for it to leave. If no such subscriber
comes within --timeout, nothing is sent and the exit code is 1.

examples:
  typed-zmq pub tcp://127.0.0.1:5570 football.Arsenal '{"team":"Arsenal","event":"goal","minute":12}'
  typed-zmq pub --bind tcp://127.0.0.1:5556 alerts '"disk full"'

options:
  --bind            bind ENDPOINT instead of connecting to it
  --timeout MS      how long to wait for a subscriber (default ${DEFAULT_TIMEOUT_MS})
  --json            print {"ok":true,"topic":...} on one line
${COMMON_HELP}

${EXIT_HELP}`,
  options: { ...JSON_OPTION, bind: { type: "boolean" }, timeout: { type: "string" } },
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq pub";
    const output = new Output(values);
    const [endpointText, topic, body, ...more] = positionals;
    if (more.length > 0) throw new UsageError(`${where}: takes ENDPOINT TOPIC JSON, got extra: ${more.join(" ")}.`);
    const endpoint = endpointArgument(where, endpointText);
    if (topic === undefined || topic === "") throw new UsageError(`${where}: give the TOPIC after the endpoint.`);
    const message = jsonArgument(where, "message", body);
    const timeoutMs = wholeNumberOption(where, values, "timeout", DEFAULT_TIMEOUT_MS);
    // A contract of this one topic, accepting any value: the wire topic is TOPIC itself.
    const contract = fromArgument(where, () => defineTopics("typed-zmq-cli", { [topic]: z.unknown() }));
    const open = values["bind"] === true ? Publisher.bind.bind(Publisher) : Publisher.connect.bind(Publisher);
    await using publisher = await open(endpoint, contract, { lingerMs: timeoutMs });
    if (values["bind"] === true) announceBound(where, publisher.endpoint);
    try {
      await publisher.waitForSubscribers(1, { topic, timeoutMs });
    } catch (error) {
      if (!isTimeoutError(error)) throw error;
      return output.fail(
        `${where}: no subscriber for "${topic}" at ${endpoint} within ${timeoutMs} ms; nothing sent. ` +
          `Start one first${values["bind"] === true ? " (connected to this endpoint)" : " (bound there), or use --bind if subscribers connect"}, or give more time with --timeout MS.`,
        { topic, error: { code: "TIMEOUT" } },
      );
    }
    await publisher.publish(topic, message);
    await publisher.flush();
    output.emit(`published on ${output.paint("cyan", topic)}`, { ok: true, topic });
    return EXIT_OK;
  },
};
