/**
 * Demo contract: the classic ZeroMQ "Hello" request-reply, shared by the demo server and client
 * (and the docker-compose services). Not part of the published package.
 */
import * as z from "zod";
import { defineRpc } from "typed-zmq";

export const Greeter = defineRpc("greeter.v1", {
  hello: {
    request: z.object({ name: z.string().min(1).max(100) }),
    response: z.object({ greeting: z.string() }),
  },
});
