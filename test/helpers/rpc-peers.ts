/**
 * Peers for the RpcClient tests: a contract with idempotent methods, its handlers, and a raw ROUTER that the test
 * answers by hand (to send UNAVAILABLE once, never answer, or close mid-call).
 */
import * as zmq from "zeromq";
import * as z from "zod";
import { defineRpc } from "../../src/index.js";

/** `read` and `slowRead` are idempotent; `write` is not. */
export const Store = defineRpc("store.v1", {
  read: { request: z.object({ key: z.string() }), response: z.object({ value: z.string() }), idempotent: true },
  slowRead: { request: z.object({ key: z.string() }), response: z.object({ value: z.string() }), idempotent: true },
  write: { request: z.object({ key: z.string() }), response: z.object({ value: z.string() }) },
});

/** Handlers that answer `value: <name>:<key>`, so a test sees which server answered. */
export function storeHandlers(name: string) {
  const answer = ({ key }: { key: string }) => ({ value: `${name}:${key}` });
  return { read: answer, slowRead: answer, write: answer };
}

/** One request as a raw ROUTER sees it from a typed client. */
export interface RawRequest {
  readonly frames: Buffer[];
  readonly method: string;
  readonly body: unknown;
  readonly headers: Record<string, unknown> | undefined;
  /** Answers it: `[routing id, correlation id, "", status, body]`. */
  reply(status: "ok" | "error", body: unknown): Promise<void>;
}

/** A raw ROUTER bound on an ephemeral tcp port, read one request at a time. */
export class RawRouter {
  readonly socket = new zmq.Router({ linger: 0 });
  endpoint = "";

  static async bind(): Promise<RawRouter> {
    const router = new RawRouter();
    await router.socket.bind("tcp://127.0.0.1:0");
    router.endpoint = router.socket.lastEndpoint ?? "";
    return router;
  }

  async next(): Promise<RawRequest> {
    const frames = await this.socket.receive();
    const [routing, corr, , method, body, headers] = frames;
    return {
      frames,
      method: String(method),
      body: body === undefined || body.length === 0 ? undefined : JSON.parse(String(body)),
      headers: headers === undefined ? undefined : (JSON.parse(String(headers)) as Record<string, unknown>),
      reply: async (status, value) => {
        await this.socket.send([routing!, corr!, "", status, JSON.stringify(value)]);
      },
    };
  }

  close(): void {
    this.socket.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
