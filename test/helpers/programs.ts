import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { within } from "./deferred.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** A child process (a demo program run with `node --import tsx <file>`, or a foreign peer), with its output captured by line. */
export interface Program {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every stdout and stderr line so far. */
  readonly lines: string[];
  /** Resolves with the first line (already seen or still to come) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (a signal name when killed by a signal). */
  readonly exited: Promise<number | string>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | string>;
}

/**
 * Starts `file` (relative to the repository root) with extra environment variables and arguments. `wrapper` runs
 * node under another command (for example `["ip", "netns", "exec", name]`). Its stdin is a pipe.
 */
export function startProgram(
  name: string,
  file: string,
  env: Record<string, string>,
  args: readonly string[] = [],
  wrapper: readonly string[] = [],
): Program {
  return startProcess(name, [...wrapper, process.execPath, "--import", "tsx", file, ...args], env);
}

/**
 * Starts any command (`command[0]` with the rest as arguments) in the repository root, with extra environment
 * variables, and captures its output by line: for peers that are not node programs (a Python peer, for example).
 */
export function startProcess(name: string, command: readonly string[], env: Record<string, string> = {}): Program {
  const [executable, ...rest] = command;
  if (executable === undefined) throw new TypeError(`startProcess("${name}"): \`command\` is empty.`);
  const child = spawn(executable, rest, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const watchers: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  // Each stream is split into lines on its own: a program's stderr and stdout interleave, and a line written to
  // one in two writes (OpenPGM prints its "Warn: Interface lo reports as a loopback device." and then the newline)
  // must not swallow a line written to the other in between ("...device.publishing" matches no /^publishing$/).
  const onLine = (line: string): void => {
    lines.push(line);
    for (const w of [...watchers]) {
      const m = line.match(w.pattern);
      if (m !== null) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        onLine(line);
      }
    });
    stream.on("end", () => {
      if (pending !== "") onLine(pending); // a last line without its newline
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return {
    name,
    child,
    lines,
    waitForLine(pattern, timeoutMs = 20_000) {
      for (const line of lines) {
        const m = line.match(pattern);
        if (m !== null) return Promise.resolve(m);
      }
      const found = new Promise<RegExpMatchArray>((resolve) => watchers.push({ pattern, resolve }));
      const ended = exited.then((code) => {
        throw new Error(`${name} exited (${code}) before printing ${pattern}; its output:\n${lines.join("\n")}`);
      });
      // The output is read when the time is up, not now: what the program printed while we waited is the evidence.
      return within(
        Promise.race([found, ended]),
        timeoutMs,
        () => `${name} to print ${pattern}; output so far:\n${lines.join("\n")}`,
      );
    },
    exited,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Kills whatever is still running (SIGKILL) and waits for it: for `finally` blocks. */
export async function killAll(programs: readonly Program[]): Promise<void> {
  for (const p of programs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  await Promise.all(programs.map((p) => p.exited));
}
