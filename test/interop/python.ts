import { execFileSync } from "node:child_process";
import { startProcess, type Program } from "../helpers/programs.js";

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
  };
}
