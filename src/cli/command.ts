/**
 * What every `typed-zmq` command shares: the command shape, exit codes, the usage error, checked arguments (endpoint,
 * JSON, durations, counts), output (human, coloured on a TTY unless `NO_COLOR`, or one JSON object per line with
 * `--json`) and the stop condition of the commands that run until Ctrl-C, `--count` or `--timeout`.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ParseArgsConfig } from "node:util";
import type * as zmq from "zeromq";
import { isInvalidArgumentError, isInvalidEndpointError, parseEndpoint } from "../index.js";

/** The command did what it was asked. */
export const EXIT_OK = 0;
/** The command ran but failed: an error reply, a timeout, a check that did not pass. */
export const EXIT_FAILED = 1;
/** The command line is wrong: an unknown option, a missing argument, bad JSON, a bad endpoint. */
export const EXIT_USAGE = 2;

/** `parseArgs` option definitions. */
export type Options = NonNullable<ParseArgsConfig["options"]>;
/** Parsed option values. */
export type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** One command of the `typed-zmq` CLI. */
export interface Command {
  /** One line for the command list. */
  readonly summary: string;
  /** The command's `--help`. */
  readonly help: string;
  /** Its options (`--help` and `--version` are added to every command). */
  readonly options: Options;
  /** Whether the command takes positional arguments (the others refuse any). */
  readonly takesArguments?: boolean;
  /** Runs the command; resolves to its exit code. */
  run(values: Values, positionals: readonly string[]): Promise<number>;
}

/** A mistake in the command line: reported with a pointer to the help, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The exit-code paragraph of every messaging command's help. */
export const EXIT_HELP = `exit codes: 0 done; 1 failed (an error reply, a timeout, a failed check); 2 usage error (an unknown option,
a missing argument, bad JSON, a bad endpoint).`;

/** The option lines every command has. */
export const COMMON_HELP = `  -h, --help        show this help
  -v, --version     show the typed-zmq version`;

/** `--json`, for every messaging command. */
export const JSON_OPTION: Options = { json: { type: "boolean" } };

/** Checks an endpoint argument without touching the network; a bad one is a usage error that says what to write. */
export function endpointArgument(where: string, endpoint: string | undefined, what = "ENDPOINT"): string {
  if (endpoint === undefined) throw new UsageError(`${where}: give the ${what}, for example tcp://127.0.0.1:5555.`);
  try {
    parseEndpoint(endpoint);
  } catch (error) {
    if (isInvalidEndpointError(error)) {
      throw new UsageError(`${where}: bad ${what}: ${error.message}`);
    }
    throw error;
  }
  return endpoint;
}

/** Runs `make` on a command-line argument (a contract built from a method or topic name): a refusal is a usage error. */
export function fromArgument<T>(where: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (isInvalidArgumentError(error)) throw new UsageError(`${where}: ${error.message}`);
    throw error;
  }
}

/** Parses a JSON argument; bad JSON is a usage error that shows the text, the parser's complaint and how to quote it. */
export function jsonArgument(where: string, what: string, text: string | undefined): unknown {
  if (text === undefined) throw new UsageError(`${where}: give the ${what} as JSON, for example '{"name":"Ada"}'.`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `${where}: the ${what} is not valid JSON (${reason}): ${text}. ` +
        `Write JSON and quote it for the shell, for example '{"name":"Ada"}' or '"text"'.`,
    );
  }
}

/** Reads a whole-number option (`--timeout`, `--count`), with a default; anything else is a usage error. */
export function wholeNumberOption(where: string, values: Values, name: string, fallback: number): number;
export function wholeNumberOption(where: string, values: Values, name: string, fallback: undefined): number | undefined;
export function wholeNumberOption(where: string, values: Values, name: string, fallback: number | undefined): number | undefined {
  const min = 1;
  const raw = values[name];
  if (typeof raw !== "string") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${where}: --${name} must be a whole number of at least ${min}, got ${JSON.stringify(raw)}.`);
  }
  return value;
}

/** The ANSI styles the human output uses. */
const STYLES = { dim: "2", bold: "1", red: "31", green: "32", yellow: "33", cyan: "36" } as const;

/** Where a command's results go: human lines (coloured on a TTY, never with `NO_COLOR`) or JSON lines with `--json`. */
export class Output {
  /** `--json` was given: one JSON object per line on stdout. */
  readonly json: boolean;
  readonly #colour: boolean;
  readonly #errorColour: boolean;

  constructor(values: Values) {
    this.json = values["json"] === true;
    const noColor = process.env["NO_COLOR"];
    const allowed = !this.json && (noColor === undefined || noColor === "");
    // Each stream is coloured only when it is a terminal itself: `sub ... 2>err.log` on a terminal keeps the log plain.
    this.#colour = allowed && process.stdout.isTTY;
    this.#errorColour = allowed && process.stderr.isTTY;
  }

  /** `text` in `style` when stdout is coloured, else as it is: for what goes to stdout. */
  paint(style: keyof typeof STYLES, text: string): string {
    return this.#colour ? `\u001b[${STYLES[style]}m${text}\u001b[0m` : text;
  }

  /** `text` in `style` when stderr is coloured, else as it is: for messages on stderr (`fail`, notes). */
  paintError(style: keyof typeof STYLES, text: string): string {
    return this.#errorColour ? `\u001b[${STYLES[style]}m${text}\u001b[0m` : text;
  }

  /** Prints one result: `human` as a line, or `record` as one JSON line with `--json`. */
  emit(human: string, record: Readonly<Record<string, unknown>>): void {
    process.stdout.write(`${this.json ? JSON.stringify(record) : human}\n`);
  }

  /** Reports a failure on stderr (with `--json`, also as a JSON line on stdout, so scripts see why). */
  fail(message: string, record: Readonly<Record<string, unknown>> = {}): number {
    if (this.json)
      process.stdout.write(`${JSON.stringify({ ok: false, ...record, error: { message, ...errorRecord(record) } })}\n`);
    console.error(message);
    return EXIT_FAILED;
  }
}

function errorRecord(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const error = record["error"];
  return typeof error === "object" && error !== null ? { ...error } : {};
}

/** A value for display: decoded JSON, or `{ base64 }` when the bytes are not JSON. */
export function decodeBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)) as unknown;
  } catch {
    return { base64: Buffer.from(body).toString("base64") };
  }
}

/** Why a stream stopped. */
export type StopReason = "count" | "timeout" | "interrupted";

/**
 * The stop condition of a streaming command: aborted on SIGINT/SIGTERM (Ctrl-C) or after `timeoutMs`. `reason` tells
 * which; `dispose()` removes the signal handlers and the timer.
 */
export function stopCondition(timeoutMs: number | undefined): {
  readonly signal: AbortSignal;
  reason: () => StopReason | undefined;
  dispose: () => void;
} {
  const controller = new AbortController();
  let why: StopReason | undefined;
  const stop = (reason: StopReason) => () => {
    why ??= reason;
    controller.abort();
  };
  const onSignal = stop("interrupted");
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const timer = timeoutMs === undefined ? undefined : setTimeout(stop("timeout"), timeoutMs);
  return {
    signal: controller.signal,
    reason: () => why,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Resolves when `signal` aborts (never rejects). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Receives from `receive` until `signal` aborts or `count` items were handled, calling `handle` for each. The caller
 * closes the socket after this resolves (which settles a receive still pending). Resolves to the number handled.
 */
export async function receiveUntil<T>(
  receive: () => Promise<T>,
  handle: (item: T) => void,
  signal: AbortSignal,
  count: number | undefined,
): Promise<number> {
  let handled = 0;
  const stopped = aborted(signal).then(() => undefined);
  while (!signal.aborted && (count === undefined || handled < count)) {
    const next = receive().then(
      (item) => ({ item }),
      (error: unknown) => {
        if (signal.aborted) return undefined;
        throw error;
      },
    );
    const got = await Promise.race([next, stopped]);
    if (got === undefined) break;
    handle(got.item);
    handled++;
  }
  return handled;
}

/** The line that ends a stream (on stderr, so stdout holds only messages), and its exit code. */
export function endOfStream(
  output: Output,
  what: string,
  handled: number,
  count: number | undefined,
  reason: StopReason | undefined,
): number {
  if (count !== undefined && handled < count) {
    const why = reason === "interrupted" ? "interrupted" : "timed out";
    return output.fail(`${what}: ${why} after ${handled} of ${count}.`, { received: handled, expected: count });
  }
  if (!output.json)
    console.error(output.paintError("dim", `${what}: ${handled} received${reason === undefined ? "" : ` (${reason})`}`));
  return EXIT_OK;
}

/**
 * Says on stderr where a `--bind` command is bound (the port or ipc path that `:0` or `*` picked), so that peers
 * (and scripts) can be pointed at it; stdout keeps only results.
 */
export function announceBound(where: string, endpoint: string | null | undefined): void {
  console.error(`${where}: bound ${endpoint ?? "(unknown endpoint)"}`);
}

/**
 * The body of `sub` and `pull`: opens the socket, binds it (`--bind`, announcing where) or connects it, hands every message to
 * `print` until `--count`, `--timeout` or Ctrl-C, reports the end, and closes the socket.
 */
export async function streamMessages(
  where: string,
  values: Values,
  open: () => zmq.Socket & zmq.Readable,
  endpoint: string,
  print: (frames: Buffer[]) => void,
): Promise<number> {
  const output = new Output(values);
  const count = wholeNumberOption(where, values, "count", undefined);
  const stop = stopCondition(wholeNumberOption(where, values, "timeout", undefined));
  const socket = open();
  try {
    if (values["bind"] === true) {
      await socket.bind(endpoint);
      announceBound(where, socket.lastEndpoint);
    } else socket.connect(endpoint);
    const handled = await receiveUntil(() => socket.receive(), print, stop.signal, count);
    return endOfStream(output, where, handled, count, stop.reason());
  } finally {
    stop.dispose();
    socket.close();
  }
}

/**
 * Loads the user's module `file` (a contract module): a JavaScript module, or TypeScript when the CLI runs with tsx
 * (`node --import tsx node_modules/.bin/typed-zmq ...`). A module that cannot load is a usage error that says why.
 */
export async function loadModule(where: string, what: string, file: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(path.resolve(file)).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint = /\.[cm]?tsx?$/.test(file)
      ? " A TypeScript module loads only when tsx is installed: run `node --import tsx node_modules/.bin/typed-zmq ...`, or give the built .js file."
      : "";
    throw new UsageError(`${where}: cannot load ${what} ${file}: ${reason}.${hint}`);
  }
}
