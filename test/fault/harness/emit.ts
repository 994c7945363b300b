/**
 * What every role process shares: printing one JSON line per message, reading its settings from argv, the stdin
 * commands, and the bound on its life (a role exits when its life runs out or when stdin closes: the test is gone).
 */
import { createInterface } from "node:readline";
import type { RoleMessage } from "./contract.js";

type Unstamped<T> = T extends RoleMessage ? Omit<T, "t"> : never;

/** Prints one message as a JSON line, stamped with the time. */
export function emit(message: Unstamped<RoleMessage>): void {
  process.stdout.write(`${JSON.stringify({ ...message, t: Date.now() })}\n`);
}

/** The role's settings: its first argument, a JSON object (the test wrote it from the role's settings type). */
export function settings(): unknown {
  const text = process.argv[2];
  if (text === undefined) throw new Error(`${process.argv[1] ?? "role"}: pass the settings as one JSON argument`);
  return JSON.parse(text);
}

/**
 * Runs `commands[line]` for every stdin line; `stop` (or stdin closing) calls `onStop`, and so does the end of the
 * role's life, after `lifeMs`. `onStop` must end the process.
 */
export function control(lifeMs: number, onStop: (why: string) => void, commands: Record<string, () => void> = {}): void {
  const life = setTimeout(() => onStop(`life of ${lifeMs} ms over`), lifeMs);
  life.unref();
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const command = line.trim();
    if (command === "stop") onStop("stop");
    else commands[command]?.();
  });
  lines.on("close", () => onStop("stdin closed"));
}

/** Reports a failure and exits with status 1. */
export function fail(err: unknown): never {
  emit({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}

/**
 * The stop of a role that owns one closable object: the first call prints its `stats` (when given), closes it and
 * exits 0; later calls do nothing.
 */
export function stopOnce(owner: { close(): Promise<void> }, stats?: () => unknown): () => void {
  let stopping = false;
  return () => {
    if (stopping) return;
    stopping = true;
    if (stats !== undefined) emit({ type: "stats", stats: stats() });
    void owner.close().finally(() => process.exit(0));
  };
}
