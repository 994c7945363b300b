/**
 * `typed-zmq push` (send one pipeline message) and `typed-zmq pull` (print pipeline messages as they arrive), in the
 * plain pipeline's frames (docs/protocol.md, "Pipeline").
 */
import * as zmq from "zeromq";
import { encodePipelineMessage, parsePipeline } from "../protocol/pipeline.js";
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
  jsonArgument,
  wholeNumberOption,
  type Command,
} from "./command.js";
import { STREAM_HELP } from "./pubsub.js";

const DEFAULT_TIMEOUT_MS = 5_000;

function isAgain(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "EAGAIN";
}

/** `push ENDPOINT JSON`. */
export const push: Command = {
  summary: "send one pipeline message (a task to workers, or a result to a sink)",
  help: `usage: typed-zmq push [--bind] [--timeout MS] [--json] ENDPOINT JSON

Sends one pipeline message [JSON] from a PUSH socket. By default it connects to ENDPOINT, where a PULL binds: a
PipelineSink (the message is then a result) or a PipelineStreamer's frontend (a task). With --bind it binds ENDPOINT
and the message goes to the first worker that connects (a task). PUSH waits for a peer: if none is there within
--timeout, nothing is sent and the exit code is 1.

examples:
  typed-zmq push tcp://127.0.0.1:5558 '{"id":1,"worker":"cli","ms":0}'
  typed-zmq push --bind tcp://127.0.0.1:5557 '{"id":1,"workMs":10}'

options:
  --bind            bind ENDPOINT instead of connecting to it
  --timeout MS      how long to wait for a peer (default ${DEFAULT_TIMEOUT_MS})
  --json            print {"ok":true} on one line
${COMMON_HELP}

${EXIT_HELP}`,
  options: { ...JSON_OPTION, bind: { type: "boolean" }, timeout: { type: "string" } },
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq push";
    const output = new Output(values);
    const [endpointText, body, ...more] = positionals;
    if (more.length > 0) throw new UsageError(`${where}: takes ENDPOINT JSON, got extra: ${more.join(" ")}.`);
    const endpoint = endpointArgument(where, endpointText);
    const message = jsonArgument(where, "message", body);
    const timeoutMs = wholeNumberOption(where, values, "timeout", DEFAULT_TIMEOUT_MS);
    // immediate: queue only to a connection that is up (else a connect() queues at once, even to nothing);
    // linger: a sent message still leaves after close(), for at most the timeout.
    const socket = new zmq.Push({ immediate: true, linger: timeoutMs, sendTimeout: timeoutMs });
    try {
      if (values["bind"] === true) {
        await socket.bind(endpoint);
        announceBound(where, socket.lastEndpoint);
      } else socket.connect(endpoint);
      try {
        await socket.send(encodePipelineMessage(Buffer.from(JSON.stringify(message), "utf8")));
      } catch (error) {
        if (!isAgain(error)) throw error;
        return output.fail(
          `${where}: no peer took the message at ${endpoint} within ${timeoutMs} ms; nothing sent. ` +
            `Start the ${values["bind"] === true ? "worker that connects here" : "sink (or streamer) that binds there"}, or give more time with --timeout MS.`,
          { error: { code: "TIMEOUT" } },
        );
      }
      output.emit("pushed", { ok: true });
      return EXIT_OK;
    } finally {
      socket.close();
    }
  },
};

/** `pull ENDPOINT`. */
export const pull: Command = {
  summary: "print pipeline messages as they arrive (tasks from a source, or results as a sink)",
  help: `usage: typed-zmq pull [--count N] [--timeout MS] [--bind] [--json] ENDPOINT

Receives pipeline messages on a PULL socket and prints each as it arrives: a message (its JSON body; other bytes as
base64), a failure result (its error body), or each message of a batch. By default it connects to ENDPOINT, where a
PUSH binds: a PipelineSource (it then takes tasks as a worker would: they are not done by anyone else, and the
tasks the source has already routed to it when it stops, up to the source's send high-water mark, are lost: do
not point it at a source whose tasks matter) or a PipelineStreamer's backend. With --bind it binds ENDPOINT and workers send their results to it, as to a sink.

examples:
  typed-zmq pull --count 5 tcp://127.0.0.1:5557
  typed-zmq pull --bind --json tcp://127.0.0.1:5558

options:
  --bind            bind ENDPOINT instead (pushers connect to it)
${STREAM_HELP}
${COMMON_HELP}

${EXIT_HELP}`,
  options: { ...JSON_OPTION, bind: { type: "boolean" }, count: { type: "string" }, timeout: { type: "string" } },
  takesArguments: true,
  async run(values, positionals) {
    const where = "typed-zmq pull";
    const output = new Output(values);
    const [endpointText, ...more] = positionals;
    if (more.length > 0) throw new UsageError(`${where}: takes one ENDPOINT, got extra: ${more.join(" ")}.`);
    const endpoint = endpointArgument(where, endpointText);
    const print = (frames: Buffer[]) => {
      const parsed = parsePipeline(frames);
      if (parsed.kind === "malformed") {
        console.error(`${where}: a malformed message: ${parsed.reason}`);
        return;
      }
      const headers = parsed.headers === undefined ? {} : { headers: parsed.headers };
      if (parsed.kind === "failure") {
        const error = decodeBody(parsed.body);
        output.emit(`${output.paint("red", "failure")} ${JSON.stringify(error)}`, { failure: error, ...headers });
        return;
      }
      for (const body of parsed.kind === "message" ? [parsed.body] : parsed.bodies) {
        const value = decodeBody(body);
        output.emit(JSON.stringify(value), { body: value, ...headers });
      }
    };
    // A small receive queue, so that fewer tasks wait here unprinted when --count or --timeout stops the command. It
    // does not make it one at a time: a bound PUSH keeps routing to this peer up to its own send high-water mark
    // (plus what the TCP buffers hold), and those tasks are lost when the socket closes (see the help).
    return streamMessages(where, values, () => new zmq.Pull({ linger: 0, receiveHighWaterMark: 1 }), endpoint, print);
  },
};
