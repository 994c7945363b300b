/**
 * The orchestrator's side of a peer process: spawns `node --import tsx bench/peer.ts`, sends commands, matches the
 * JSON replies by id, and fails every waiting command if the peer dies.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CloseValue, Features, OpenValue, Reply, RunResult, type Command, type RoleSpec } from "./protocol.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const peerFile = fileURLToPath(new URL("./peer.ts", import.meta.url));

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type CommandBody = DistributiveOmit<Command, "id">;

interface Waiting {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export interface PeerOptions {
  /** Extra node flags, before `--import tsx` (for example `--expose-gc`, `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
}

export class Peer {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, Waiting>();
  readonly #exited: Promise<void>;
  #nextId = 1;
  #nextHandle = 1;
  #dead: Error | undefined;

  constructor(name: string, options: PeerOptions = {}) {
    this.name = name;
    this.#child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", peerFile], {
      cwd: root,
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: this.#child.stdout! });
    lines.on("line", (line) => this.#onLine(line));
    this.#exited = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => {
        this.#dead = new Error(`peer ${name} exited (${code ?? signal ?? "?"})`);
        for (const w of this.#waiting.values()) w.reject(this.#dead);
        this.#waiting.clear();
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #onLine(line: string): void {
    if (!line.startsWith("{")) {
      process.stderr.write(`[${this.name}] ${line}\n`);
      return;
    }
    const parsed = Reply.safeParse(JSON.parse(line));
    if (!parsed.success) {
      process.stderr.write(`[${this.name}] unreadable reply: ${line.slice(0, 200)}\n`);
      return;
    }
    const reply = parsed.data;
    const waiting = this.#waiting.get(reply.id);
    if (waiting === undefined) return;
    this.#waiting.delete(reply.id);
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(new Error(`peer ${this.name}: ${reply.error}`));
  }

  request(body: CommandBody, timeoutMs: number): Promise<unknown> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`peer ${this.name}: no reply to ${body.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#child.stdin!.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  async features(): Promise<Features> {
    return Features.parse(await this.request({ op: "features" }, 20_000));
  }

  async open(spec: RoleSpec): Promise<RemoteRole> {
    const handle = `h${this.#nextHandle++}`;
    const { endpoint, backend } = OpenValue.parse(await this.request({ op: "open", handle, spec }, 20_000));
    return new RemoteRole(this, handle, endpoint, backend);
  }

  /** Asks the peer to close everything and exit (a profile, if any, is written then); kills it after 5 s. */
  async exit(): Promise<void> {
    if (this.#dead === undefined) {
      await this.request({ op: "exit" }, 5_000).catch(() => undefined);
      const killer = setTimeout(() => this.#child.kill("SIGKILL"), 5_000);
      await this.#exited;
      clearTimeout(killer);
    }
  }

  kill(): void {
    if (this.#dead === undefined) this.#child.kill("SIGKILL");
  }
}

/** One role opened in a peer. */
export class RemoteRole {
  readonly #peer: Peer;
  readonly #handle: string;
  readonly endpoint: string;
  /** A broker's backend endpoint. */
  readonly backend: string | undefined;

  constructor(peer: Peer, handle: string, endpoint: string, backend?: string) {
    this.#peer = peer;
    this.#handle = handle;
    this.endpoint = endpoint;
    this.backend = backend;
  }

  async run(timeoutMs: number): Promise<RunResult> {
    return RunResult.parse(await this.#peer.request({ op: "run", handle: this.#handle }, timeoutMs));
  }

  async close(): Promise<CloseValue> {
    return CloseValue.parse(await this.#peer.request({ op: "close", handle: this.#handle }, 20_000));
  }
}
