#!/usr/bin/env node
/**
 * @packageDocumentation
 * The `typed-zmq` command: the messaging commands that talk to running systems (`call`, `sub`, `pub`, `push`, `pull`,
 * `services`, `monitor`: `src/cli/`), `asyncapi` (the AsyncAPI document of a contract module), `doctor` (what the
 * loaded ZeroMQ can do), `keygen` (write a CURVE certificate pair, or print a certificate's public key),
 * `build-zmq-system` (build zeromq.js against the system libzmq, offline, for PGM/NORM) and `restore-zmq-prebuilt`
 * (go back to the prebuilt addon).
 *
 * An entry point of its own (the package's `bin`), outside the library's import graph: `import "typed-zmq"` never
 * loads it. Arguments are parsed with `node:util` `parseArgs`, strictly: `--help`/`-h` and `--version`/`-v` work on
 * every command and never run it, help goes to stdout, and an unknown command or option is refused. Exit codes:
 * 0 done, 1 the command failed, 2 usage error.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { asyncapi } from "./cli/asyncapi.js";
import { call } from "./cli/call.js";
import {
  COMMON_HELP,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
  type Command,
  type Options,
  type Values,
} from "./cli/command.js";
import { monitor } from "./cli/monitor.js";
import { pull, push } from "./cli/pipeline.js";
import { pub, sub } from "./cli/pubsub.js";
import { services } from "./cli/services.js";

const APT_HINT = "apt-get install -y libzmq3-dev pkg-config g++ make python3";

const COMMON: Options = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
};

const COMMANDS: Readonly<Record<string, Command>> = {
  call,
  sub,
  pub,
  push,
  pull,
  services,
  monitor,
  asyncapi,
  doctor: {
    summary: "libzmq version, capabilities (ipc, pgm, norm, curve, draft), which addon is loaded, advice",
    help: `usage: typed-zmq doctor [--json]

Reports the libzmq that zeromq.js loads here: its version, its capabilities (ipc, pgm, norm, curve, draft), whether
the prebuilt addon or one built against the system libzmq is loaded, and what to do to enable a missing transport.

options:
  --json        print the report as JSON
${COMMON_HELP}`,
    options: { json: { type: "boolean" } },
    async run(values) {
      // Imported here, so that the build commands never load the addon they replace.
      const { doctor, formatDoctorReport } = await import("./doctor.js");
      const report = doctor();
      console.log(values["json"] === true ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
      return EXIT_OK;
    },
  },
  keygen: {
    summary: "write a CURVE certificate pair (pyzmq or CZMQ files), or print a certificate's public key",
    help: `usage: typed-zmq keygen [--out DIR] [--format pyzmq|czmq] NAME
       typed-zmq keygen --public FILE

Generates a CURVE key pair (libzmq's zmq_curve_keypair) and writes it as two ZPL certificate files in DIR: the public
certificate, to give to peers (a server's allow-list directory, or a client that connects to this server), and the
secret certificate, created with mode 0600, to keep. Prints both paths. Refuses to replace an existing pair.

  pyzmq (default)  NAME.key and NAME.key_secret, as zmq.auth.create_certificates writes them
  czmq             NAME and NAME_secret, as CZMQ's zcert_save writes them

With --public, prints the public key (40 characters of Z85) of the certificate FILE, public or secret.

options:
  --out DIR         the directory to write into (created if missing; default: the current directory)
  --format FORMAT   pyzmq or czmq (default: pyzmq)
  --public FILE     print the public key of FILE instead of writing a pair
${COMMON_HELP}`,
    options: { out: { type: "string" }, format: { type: "string" }, public: { type: "string" } },
    takesArguments: true,
    async run(values, positionals) {
      const { readCertificate, writeCertificate, generateCertificate } = await import("./security/certificate.js");
      const where = "typed-zmq keygen";
      const file = values["public"];
      if (typeof file === "string") {
        const extra = [...positionals, ...["out", "format"].filter((o) => values[o] !== undefined).map((o) => `--${o}`)];
        if (extra.length > 0) throw new UsageError(`${where}: --public FILE takes nothing else, got: ${extra.join(" ")}.`);
        // Only the public key is printed, so a secret file's loose mode does not matter here.
        return print(readCertificate(file, { allowInsecurePermissions: true }).publicKey);
      }
      const [name, ...more] = positionals;
      if (name === undefined)
        throw new UsageError(`${where}: give the NAME of the certificate pair to write (or --public FILE).`);
      if (more.length > 0) throw new UsageError(`${where}: takes one NAME, got: ${positionals.join(" ")}.`);
      const format = values["format"] ?? "pyzmq";
      if (format !== "pyzmq" && format !== "czmq") {
        throw new UsageError(`${where}: --format must be pyzmq or czmq, got ${JSON.stringify(format)}.`);
      }
      const dir = typeof values["out"] === "string" ? values["out"] : ".";
      const names = format === "pyzmq" ? [`${name}.key`, `${name}.key_secret`] : [name, `${name}_secret`];
      const existing = names.map((n) => path.join(dir, n)).filter((f) => fs.existsSync(f));
      if (existing.length > 0) {
        console.error(
          `${where}: ${existing.join(" and ")} already exist${existing.length === 1 ? "s" : ""}; not replacing a key pair. Remove it first, or choose another NAME or --out.`,
        );
        return EXIT_FAILED;
      }
      let files: { publicFile: string; secretFile: string };
      try {
        files = writeCertificate(dir, name, generateCertificate(), { format });
      } catch (error) {
        const { isInvalidArgumentError } = await import("./errors/invalid-argument-error.js");
        if (isInvalidArgumentError(error)) throw new UsageError(`${where}: ${error.message}`);
        throw error;
      }
      console.log(`public certificate: ${files.publicFile}`);
      console.log(`secret certificate: ${files.secretFile} (mode 0600: keep it here)`);
      return EXIT_OK;
    },
  },
  "build-zmq-system": {
    summary: "build zeromq.js's addon against the system libzmq (PGM, NORM); offline",
    help: `usage: typed-zmq build-zmq-system

Compiles zeromq.js's own C++ sources against the system libzmq (Debian's is built with PGM/EPGM and NORM), offline,
and registers the result, so that every program using this install of zeromq (node_modules/zeromq) loads it. Takes
15 to 30 s. Installs nothing itself; first: ${APT_HINT}

Undo with \`npx typed-zmq restore-zmq-prebuilt\`; reinstalling zeromq (npm ci) undoes it too.

options:
${COMMON_HELP}`,
    options: {},
    async run() {
      const { buildSystemAddon } = await import("./tools/zmq-system-addon.js");
      const report = await buildSystemAddon({ log: (line) => console.log(line) });
      const caps = Object.entries(report.capability)
        .map(([k, v]) => `${k}=${v ? "yes" : "no"}`)
        .join(" ");
      console.log(`built ${report.addonPath} in ${report.seconds.toFixed(1)} s: libzmq ${report.version}; ${caps}`);
      console.log(
        "Every program using this install of zeromq now loads it. " +
          "Undo with: npx typed-zmq restore-zmq-prebuilt (reinstalling zeromq, e.g. npm ci, undoes it too).",
      );
      return EXIT_OK;
    },
  },
  "restore-zmq-prebuilt": {
    summary: "go back to zeromq.js's prebuilt addon",
    help: `usage: typed-zmq restore-zmq-prebuilt

Makes zeromq.js load its prebuilt addon again: puts its original manifest back and removes the addon that
\`typed-zmq build-zmq-system\` installed. Does nothing when the prebuilt addon is in use.

options:
${COMMON_HELP}`,
    options: {},
    async run() {
      const { restorePrebuiltAddon } = await import("./tools/zmq-system-addon.js");
      const restored = await restorePrebuiltAddon();
      console.log(restored ? "restored the prebuilt zeromq.js addon" : "nothing to restore: the prebuilt addon is in use");
      return EXIT_OK;
    },
  },
};

const USAGE = `usage: typed-zmq <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(22)} ${command.summary}`)
  .join("\n")}
  ${"help [command]".padEnd(22)} show this help, or a command's

options (on every command):
  -h, --help    show help (the command's, after a command); runs nothing
  -v, --version show the typed-zmq version

Run \`npx typed-zmq <command> --help\` for a command's options.`;

function version(): string {
  // src/cli.ts and dist/cli.js both sit one level below package.json.
  const pkg = createRequire(import.meta.url)("../package.json") as { version?: unknown };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}

function commandNamed(name: string): Command {
  const command = COMMANDS[name];
  if (command === undefined) {
    throw new UsageError(`typed-zmq: unknown command "${name}". Commands: ${[...Object.keys(COMMANDS), "help"].join(", ")}.`);
  }
  return command;
}

/**
 * Parses `args` strictly against `options` (plus `--help` and `--version`). An unknown option is named with the
 * options this command takes; parseArgs' other errors (a value given to a flag, ...) become usage errors as they are.
 */
function parse(args: readonly string[], options: Options, where: string): { values: Values; positionals: string[] } {
  const all = { ...COMMON, ...options };
  const known = new Set(
    Object.entries(all).flatMap(([long, o]) => (o.short === undefined ? [`--${long}`] : [`--${long}`, `-${o.short}`])),
  );
  for (const token of parseArgs({ args: [...args], options: all, strict: false, allowPositionals: true, tokens: true }).tokens) {
    if (token.kind === "option" && !known.has(token.rawName)) {
      const list = Object.entries(all).map(([long, o]) => (o.short === undefined ? `--${long}` : `-${o.short}/--${long}`));
      throw new UsageError(`${where}: unknown option ${token.rawName} (options: ${list.join(", ")}).`);
    }
  }
  try {
    return parseArgs({ args: [...args], options: all, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`${where}: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  // The command is the first argument that is not an option; everything is then parsed against its options.
  const at = argv.findIndex((arg) => !arg.startsWith("-"));
  const name = at < 0 ? undefined : argv[at];
  const rest = at < 0 ? argv : [...argv.slice(0, at), ...argv.slice(at + 1)];

  if (name === undefined || name === "help") {
    const { values, positionals } = parse(rest, {}, "typed-zmq");
    if (values["version"] === true) return print(version());
    if (name === undefined && values["help"] !== true) {
      console.log(USAGE);
      throw new UsageError("typed-zmq: no command given.");
    }
    if (positionals.length > 1) throw new UsageError(`typed-zmq help: takes at most one command, got: ${positionals.join(" ")}.`);
    const topic = positionals[0];
    return print(topic === undefined ? USAGE : commandNamed(topic).help);
  }

  const command = commandNamed(name);
  const { values, positionals } = parse(rest, command.options, `typed-zmq ${name}`);
  if (values["help"] === true) return print(command.help);
  if (values["version"] === true) return print(version());
  if (positionals.length > 0 && command.takesArguments !== true) {
    throw new UsageError(`typed-zmq ${name}: takes no arguments, got: ${positionals.join(" ")}.`);
  }
  return command.run(values, positionals);
}

function print(text: string): number {
  console.log(text);
  return EXIT_OK;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message} Run \`npx typed-zmq --help\` for usage.`);
    process.exitCode = EXIT_USAGE;
  } else {
    console.error(`typed-zmq: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = EXIT_FAILED;
  }
}
