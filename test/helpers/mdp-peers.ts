// Raw MDP 0.1 peers for broker tests: real zeromq.js sockets speaking the frames of protocol/mdp.ts, so the broker is
// tested against exactly what an independent MDP worker or client sends.
import * as zmq from "zeromq";
import {
  encodeClientRequest,
  encodeHeartbeat,
  encodeReady,
  encodeWorkerReply,
  parseWorkerCommand,
} from "../../src/protocol/mdp.js";
import { readUntilClosed } from "./read-until-closed.js";

/** What a raw worker's handler returns: the reply body, or undefined to never answer (the request stays held). */
export type RawHandler = (
  body: Buffer[],
  client: Buffer,
) => Array<string | Uint8Array> | undefined | Promise<Array<string | Uint8Array> | undefined>;

export interface RawWorkerOptions {
  readonly service: string;
  /** Routing id (its readable name at the broker); zeromq's binary one when absent. */
  readonly name?: string;
  /** The READY capacity extension; left out when undefined (a plain MDP worker). */
  readonly capacity?: number;
  /** Sends a HEARTBEAT this often (and answers none): 0 for never. */
  readonly heartbeatMs?: number;
}

/** A plain MDP worker on a DEALER: READY on start, a heartbeat timer, REQUESTs answered by `handler`. */
export class RawWorker implements AsyncDisposable {
  readonly socket: zmq.Dealer;
  /** Every command received, by kind, in order (REQUESTs included). */
  readonly received: string[] = [];
  /** Bodies of the REQUESTs received, as text. */
  readonly requests: string[][] = [];
  #timer: NodeJS.Timeout | undefined;
  #muted = false;
  #loop: Promise<void> | undefined;
  #listeners: Array<() => void> = [];

  private constructor(socket: zmq.Dealer) {
    this.socket = socket;
  }

  static async start(endpoint: string, options: RawWorkerOptions, handler: RawHandler): Promise<RawWorker> {
    const socket = new zmq.Dealer({ linger: 0, ...(options.name === undefined ? {} : { routingId: options.name }) });
    const worker = new RawWorker(socket);
    socket.connect(endpoint);
    await socket.send(encodeReady(options.service, options.capacity));
    const every = options.heartbeatMs ?? 0;
    if (every > 0) {
      worker.#timer = setInterval(() => {
        if (!worker.#muted && !socket.closed) socket.send(encodeHeartbeat()).catch(() => undefined);
      }, every);
    }
    worker.#loop = worker.#read(handler);
    return worker;
  }

  async #read(handler: RawHandler): Promise<void> {
    await readUntilClosed(this.socket, (frames) => {
      const command = parseWorkerCommand(frames);
      this.received.push(command.kind);
      for (const wake of this.#listeners) wake();
      if (command.kind !== "request" || this.#muted) return;
      this.requests.push(command.body.map((b) => b.toString("utf8")));
      const { client, body } = command;
      void Promise.resolve(handler(body, client)).then((out) => {
        if (out !== undefined && !this.#muted && !this.socket.closed) {
          this.socket
            .send(
              encodeWorkerReply(
                client,
                out.map((x) => (typeof x === "string" ? Buffer.from(x) : x)),
              ),
            )
            .catch(() => undefined);
        }
      });
    });
  }

  /** Resolves once `count` commands of `kind` have been received (bounded by `ms`). */
  async waitFor(kind: string, count = 1, ms = 3_000): Promise<void> {
    const seen = (): boolean => this.received.filter((k) => k === kind).length >= count;
    if (seen()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${count} ${kind}`)), ms);
      const check = (): void => {
        if (!seen()) return;
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== check);
        resolve();
      };
      this.#listeners.push(check);
    });
  }

  /** Stops heartbeats and replies, as a stopped process would (the connection stays up). */
  mute(): void {
    this.#muted = true;
  }

  async send(frames: Array<string | Uint8Array>): Promise<void> {
    await this.socket.send(frames);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.socket.close();
    await this.#loop;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** An RPC handler for raw workers: `[method, body, headers?]` in, `["ok", body, {correlationId}?]` out. */
export function rpcReply(answer: (method: string, body: unknown) => unknown): (body: Buffer[]) => Array<string | Uint8Array> {
  return (body) => {
    const [method, payload, headers] = body;
    const result = answer(method?.toString("utf8") ?? "", JSON.parse(payload?.toString("utf8") || "null"));
    const out: Array<string | Uint8Array> = ["ok", JSON.stringify(result)];
    if (headers !== undefined && headers[0] === 0x7b) {
      const { correlationId } = JSON.parse(headers.toString("utf8")) as { correlationId?: string };
      if (correlationId !== undefined) out.push(JSON.stringify({ correlationId }));
    }
    return out;
  };
}

/** An MDP client request from a DEALER: `["", "MDPC01", service, ...body]`. */
export function clientRequest(service: string, body: Array<string | Uint8Array>): Uint8Array[] {
  return encodeClientRequest(
    Buffer.from(service),
    body.map((x) => (typeof x === "string" ? Buffer.from(x) : x)),
  );
}
