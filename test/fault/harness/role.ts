/**
 * Starts a role (test/fault/roles/<role>.ts) as its own process, `node --import tsx`, so that the pid the test
 * holds is the node process itself: SIGKILL and SIGSTOP reach the role, not a wrapper that forks it (the `tsx`
 * command does). Inside a network namespace it runs under `ip netns exec`, which execs node in place (same pid).
 * Reads the role's stdout as JSON lines ({@link RoleMessage}), with bounded waits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RoleMessage } from "./contract.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** The roles there are: test/fault/roles/<name>.ts. */
export type RoleName = "server" | "worker" | "broker" | "client";
/** A role: one of test/fault/roles, or another suite's role file, given by its path from the repository root. */
export type RoleFile = RoleName | `test/${string}.ts`;

/** A running role. */
export interface Role {
  /** A label for messages, for example `server A`. */
  readonly label: string;
  readonly pid: number;
  /** Every message printed so far, in order. */
  readonly messages: RoleMessage[];
  /** Lines that were not JSON messages (stderr, and anything else). */
  readonly other: string[];
  /** Resolves with the exit code, or the signal's name when killed. */
  readonly exited: Promise<number | string>;
  readonly running: boolean;
  /** The first message (already printed or still to come) that `match` accepts; rejects after `timeoutMs` or on exit. */
  waitFor<T extends RoleMessage>(match: (m: RoleMessage) => m is T, timeoutMs: number, what: string): Promise<T>;
  waitFor(match: (m: RoleMessage) => boolean, timeoutMs: number, what: string): Promise<RoleMessage>;
  /** Writes one command line to the role's stdin. */
  send(command: string): void;
  /** Sends `signal` and returns the time it was sent (epoch ms). */
  signal(signal: NodeJS.Signals): number;
  /** SIGKILL, then waits (bounded) for the exit. Returns the time the signal was sent. */
  kill(): Promise<number>;
  /** Asks the role to stop (`stop` on stdin) and waits for it to exit, killing it after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | string>;
  /** The role's output so far, for failure messages. */
  transcript(): string;
}

/** Options of {@link startRole}. */
export interface StartOptions {
  /** Run inside this network namespace. */
  readonly netns?: string;
}

/** Starts `test/fault/roles/<role>.ts` (or the role file given) with `settings` as its one argument. */
export function startRole(role: RoleFile, label: string, settings: object, options: StartOptions = {}): Role {
  const file = role.startsWith("test/") ? role : `test/fault/roles/${role}.ts`;
  const node = [process.execPath, "--import", "tsx", file, JSON.stringify(settings)];
  const command = options.netns === undefined ? node : ["ip", "netns", "exec", options.netns, ...node];
  const child: ChildProcess = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${label} (${command.join(" ")})`);
  const messages: RoleMessage[] = [];
  const other: string[] = [];
  const watchers = new Set<() => void>();
  const lineReader = (into: (line: string) => void): ((chunk: Buffer) => void) => {
    let pending = "";
    return (chunk) => {
      pending += chunk.toString("utf8");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        into(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      for (const watcher of [...watchers]) watcher();
    };
  };
  child.stdout!.on(
    "data",
    lineReader((line) => {
      if (line.startsWith("{")) {
        try {
          messages.push(JSON.parse(line) as RoleMessage);
          return;
        } catch {
          // not a message: kept below
        }
      }
      other.push(line);
    }),
  );
  child.stderr!.on(
    "data",
    lineReader((line) => other.push(`stderr: ${line}`)),
  );
  child.stdin!.on("error", () => undefined); // the role may be gone when the test writes
  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      running = false;
      for (const watcher of [...watchers]) watcher();
      resolve(code ?? signal ?? "unknown");
    });
  });
  const transcript = (): string => {
    const tail = (list: readonly unknown[]): string =>
      list
        .slice(-15)
        .map((x) => (typeof x === "string" ? x : JSON.stringify(x)))
        .join("\n  ");
    return `${label} (pid ${pid}): last messages:\n  ${tail(messages)}\nother output:\n  ${tail(other)}`;
  };
  const self: Role = {
    label,
    pid,
    messages,
    other,
    exited,
    get running() {
      return running;
    },
    waitFor(match: (m: RoleMessage) => boolean, timeoutMs: number, what: string): Promise<RoleMessage> {
      return new Promise<RoleMessage>((resolve, reject) => {
        let seen = 0;
        const check = (): void => {
          for (; seen < messages.length; seen++) {
            const m = messages[seen]!;
            if (m.type === "error") {
              finish(new Error(`${label} failed: ${m.message}\n${transcript()}`));
              return;
            }
            if (match(m)) {
              finish(m);
              return;
            }
          }
          if (!running) finish(new Error(`${label} exited before ${what}\n${transcript()}`));
        };
        const timer = setTimeout(
          () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${label}: ${what}\n${transcript()}`)),
          timeoutMs,
        );
        const finish = (result: RoleMessage | Error): void => {
          clearTimeout(timer);
          watchers.delete(check);
          if (result instanceof Error) reject(result);
          else resolve(result);
        };
        watchers.add(check);
        check();
      });
    },
    send(command) {
      if (running) child.stdin!.write(`${command}\n`);
    },
    signal(signal) {
      const at = Date.now();
      if (running) process.kill(pid, signal);
      return at;
    },
    async kill() {
      const at = self.signal("SIGKILL");
      await bounded(exited, 5_000, `${label} to die after SIGKILL`);
      return at;
    },
    async stop(timeoutMs = 5_000) {
      self.send("stop");
      const timer = setTimeout(() => {
        if (running) process.kill(pid, "SIGKILL");
      }, timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    transcript,
  };
  return self;
}

/** `promise`, or a rejection naming `what` after `ms`. */
export async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Timeout of the `afterEach` hook that calls {@link RoleSet.killAll}: above its own bound of 5 s. */
export const KILL_ALL_MS = 10_000;

/**
 * The roles a test started, killed together: call {@link RoleSet.killAll} in `afterEach`. A stopped (SIGSTOP)
 * role dies on SIGKILL too.
 */
export class RoleSet {
  readonly #roles: Role[] = [];

  start(role: RoleFile, label: string, settings: object, options: StartOptions = {}): Role {
    const started = startRole(role, label, settings, options);
    this.#roles.push(started);
    return started;
  }

  async killAll(): Promise<void> {
    const roles = this.#roles.splice(0);
    for (const role of roles) if (role.running) process.kill(role.pid, "SIGKILL");
    await Promise.all(roles.map((role) => bounded(role.exited, 5_000, `${role.label} to die`)));
  }
}

/** Type guards for {@link Role.waitFor}. */
export const is = {
  ready: (m: RoleMessage): m is Extract<RoleMessage, { type: "ready" }> => m.type === "ready",
  done: (m: RoleMessage): m is Extract<RoleMessage, { type: "done" }> => m.type === "done",
  stats: (m: RoleMessage): m is Extract<RoleMessage, { type: "stats" }> => m.type === "stats",
  stopped: (m: RoleMessage): m is Extract<RoleMessage, { type: "stopped" }> => m.type === "stopped",
  /** A client's progress line once it has made `n` calls. */
  made:
    (n: number) =>
    (m: RoleMessage): boolean =>
      (m.type === "progress" || m.type === "stopped") && m.made >= n,
  /** An `event` line of one of `types` (one type or several) that `test` accepts. */
  event:
    (types: string | readonly string[], test: (event: Readonly<Record<string, unknown>>) => boolean = () => true) =>
    (m: RoleMessage): m is Extract<RoleMessage, { type: "event" }> =>
      m.type === "event" && [types].flat().includes(String(m.event["type"])) && test(m.event),
};
