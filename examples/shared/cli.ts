/**
 * What every demo program shares: options (environment and output), running as a command until SIGINT/SIGTERM,
 * and reading settings from the environment with clear errors.
 */
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** Options of a demo program's `main`. */
export interface DemoOptions {
  /** Stops the program (SIGINT/SIGTERM when run as a command). */
  readonly signal?: AbortSignal | undefined;
  /** Settings, as environment variables; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where lines go; defaults to `console.log`. */
  readonly log?: (line: string) => void;
}

/** Reads a setting, with a default. */
export function setting(options: DemoOptions, name: string, fallback: string): string {
  const value = (options.env ?? process.env)[name];
  return value === undefined || value === "" ? fallback : value;
}

/** Reads an integer setting, refusing anything else with a message that names it. */
export function intSetting(options: DemoOptions, name: string, fallback: number): number {
  const text = setting(options, name, String(fallback));
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name}=${text} is not valid: expected a whole number >= 0.`);
  }
  return value;
}

/** PIPELINE_MODE of the pipeline demos: `plain` (push-pull, the default) or `reliable` (through the broker). */
export function pipelineMode(options: DemoOptions): "plain" | "reliable" {
  const mode = setting(options, "PIPELINE_MODE", "plain");
  if (mode !== "plain" && mode !== "reliable") {
    throw new RangeError(`PIPELINE_MODE=${mode} is not valid: expected plain or reliable.`);
  }
  return mode;
}

/** The output function of a program. */
export function output(options: DemoOptions): (line: string) => void {
  return options.log ?? ((line) => console.log(line));
}

/** Resolves when `signal` fires (or never, without one). */
export function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Resolves after `ms`, or at once when `signal` fires: simulated work in the demos. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** True when the module at `url` is the program being run (`tsx examples/...`). */
export function isMain(url: string): boolean {
  return process.argv[1] === fileURLToPath(url);
}

/**
 * Runs a demo as a command: SIGINT and SIGTERM stop it, and it exits 0 once its sockets are closed.
 * A failure prints one line to stderr and exits 1.
 */
export async function runAsCommand(main: (options: DemoOptions) => Promise<unknown>): Promise<void> {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => controller.abort(new Error(`received ${signal}`));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await main({ signal: controller.signal });
    process.exitCode = 0;
  } catch (err) {
    if (controller.signal.aborted) {
      process.exitCode = 0;
    } else {
      console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for running demos side by side without fixed ports). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
