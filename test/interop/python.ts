import { execFileSync } from "node:child_process";
import { within } from "../helpers/deferred.js";
import { killAll, startProcess, type Program } from "../helpers/programs.js";

// Finds a Python that has pyzmq and starts the peers in ./peers as their own processes.

/** The first of `$PYTHON`, /usr/bin/python3 (Debian's, where `python3-zmq` installs) and `python3` that imports zmq. */
function findPython(): { python?: string; tried: string[] } {
  const tried: string[] = [];
  for (const candidate of [process.env["PYTHON"], "/usr/bin/python3", "python3"]) {
    if (candidate === undefined || candidate === "") continue;
    try {
      execFileSync(candidate, ["-c", "import zmq"], { stdio: "ignore", timeout: 5_000 });
      return { python: candidate, tried };
    } catch {
      tried.push(candidate);
    }
  }
  return { tried };
}

const found = findPython();

/** Why the interop suite cannot run here, or undefined when it can. */
export const missingPython: string | undefined =
  found.python === undefined
    ? `no Python with pyzmq (tried ${found.tried.join(", ")}; install Debian's python3-zmq or set PYTHON)`
    : undefined;

/** A peer's process and the JSON objects it printed, one per stdout line. */
export interface Peer {
  readonly program: Program;
  /** Resolves with the first printed object that has `key` (already printed or still to come); rejects on exit. */
  waitFor<T = unknown>(key: string, timeoutMs?: number): Promise<T>;
  /** Resolves with the first printed `key` object (already printed or still to come) that `accept` takes. */
  waitUntil<T = unknown>(key: string, accept: (value: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Every `key` object printed so far, in order. */
  printed<T = unknown>(key: string): T[];
  /** Writes `command` to the peer's stdin as one JSON line. */
  tell(command: Record<string, unknown>): void;
}

/** The `key` field of a printed JSON line, if the line is a JSON object with it. */
function field(line: string, key: string): { value: unknown } | undefined {
  if (!line.startsWith(`{"${key}": `)) return undefined;
  try {
    return { value: (JSON.parse(line) as Record<string, unknown>)[key] };
  } catch {
    return undefined;
  }
}

/** Starts `peers/<script>.py` with `args`. */
export function startPeer(script: string, args: readonly (string | number)[]): Peer {
  if (found.python === undefined) throw new Error(`cannot start ${script}.py: ${missingPython}`);
  const program = startProcess(`${script}.py`, [
    found.python,
    "-B",
    "-u",
    `test/interop/peers/${script}.py`,
    ...args.map(String),
  ]);
  return {
    program,
    async waitFor<T>(key: string, timeoutMs = 4_500): Promise<T> {
      const [line] = await program.waitForLine(new RegExp(`^\\{"(${key}|error)": .*$`), timeoutMs);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (key !== "error" && "error" in parsed) {
        throw new Error(`${program.name} failed: ${String(parsed["error"])}\n${program.lines.join("\n")}`);
      }
      return parsed[key] as T;
    },
    waitUntil<T>(key: string, accept: (value: T) => boolean, timeoutMs = 4_500): Promise<T> {
      let checked = 0;
      const scan = (): { value: T } | undefined => {
        for (; checked < program.lines.length; checked++) {
          const found = field(program.lines[checked]!, key);
          if (found !== undefined && accept(found.value as T)) return { value: found.value as T };
        }
        return undefined;
      };
      const now = scan();
      if (now !== undefined) return Promise.resolve(now.value);
      // programs.ts splits lines in its own "data" listener, registered first, so they are in `lines` by now.
      let onData = (): void => {};
      const found = new Promise<T>((resolve) => {
        onData = () => {
          const hit = scan();
          if (hit !== undefined) resolve(hit.value);
        };
      });
      program.child.stdout?.on("data", onData);
      const ended = program.exited.then((code): never => {
        throw new Error(
          `${program.name} exited (${code}) before printing the ${key} awaited; its output:\n${program.lines.join("\n")}`,
        );
      });
      return within(
        Promise.race([found, ended]),
        timeoutMs,
        `${program.name} to print the ${key} awaited; output so far:\n${program.lines.join("\n")}`,
      ).finally(() => program.child.stdout?.off("data", onData));
    },
    printed<T>(key: string): T[] {
      return program.lines.flatMap((line) => {
        const found = field(line, key);
        return found === undefined ? [] : [found.value as T];
      });
    },
    tell(command: Record<string, unknown>): void {
      program.child.stdin?.write(`${JSON.stringify(command)}\n`);
    },
  };
}

/** Runs `body` with the peers it starts, and kills whatever is still running afterwards. */
export async function withPeers(body: (start: typeof startPeer) => Promise<void>): Promise<void> {
  const peers: Peer[] = [];
  try {
    await body((script, args) => {
      const peer = startPeer(script, args);
      peers.push(peer);
      return peer;
    });
  } finally {
    await killAll(peers.map((p) => p.program));
  }
}
