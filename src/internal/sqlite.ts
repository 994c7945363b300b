/**
 * @packageDocumentation
 * The lazy loader of `better-sqlite3`, the optional peer dependency behind the durable `PipelineBroker`: nothing
 * loads it until a store is opened, so an application without a store never needs it installed. Its failures
 * (module missing, native addon not loading) become a {@link StoreUnavailableError} that says what to install.
 * @internal
 */
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import { StoreUnavailableError } from "../errors/store-unavailable-error.js";

/** The constructor `better-sqlite3` exports. */
export type SqliteConstructor = typeof BetterSqlite3;
/** An open `better-sqlite3` connection. */
export type SqliteDatabase = BetterSqlite3.Database;

/** The package name of the optional peer dependency, and the version range typed-zmq supports. */
export const SQLITE_MODULE = "better-sqlite3";
const INSTALL = "npm install better-sqlite3@12";

const loaded = new Map<string, SqliteConstructor>();

function nodeCode(err: unknown): unknown {
  return typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
}

/**
 * Loads `better-sqlite3` (once per process) for the store at `path`.
 *
 * @param path - The store file, named in the error.
 * @param moduleName - The module to load; only tests pass another name (to see the missing-module error).
 * @throws {@link StoreUnavailableError} when the module is not installed or does not load.
 */
export function loadSqlite(path: string, moduleName: string = SQLITE_MODULE): SqliteConstructor {
  const cached = loaded.get(moduleName);
  if (cached !== undefined) return cached;
  let exported: unknown;
  try {
    exported = createRequire(import.meta.url)(moduleName);
  } catch (err) {
    if (nodeCode(err) === "MODULE_NOT_FOUND")
      throw new StoreUnavailableError(
        path,
        `the optional dependency '${moduleName}' is not installed, and a durable broker keeps its queue in SQLite through it`,
        `Install it next to typed-zmq with \`${INSTALL}\`, or run the broker without \`store\` (in memory).`,
        { cause: err },
      );
    throw addonFailure(path, moduleName, err);
  }
  if (typeof exported !== "function")
    throw new StoreUnavailableError(
      path,
      `the module '${moduleName}' does not export a Database constructor`,
      `Reinstall it with \`${INSTALL}\`.`,
    );
  const ctor = exported as SqliteConstructor; // checked just above: the module's export is its constructor
  loaded.set(moduleName, ctor);
  return ctor;
}

/** The error for a `better-sqlite3` whose native addon did not load (built for another Node, or not built). */
export function addonFailure(path: string, moduleName: string, err: unknown): StoreUnavailableError {
  const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
  return new StoreUnavailableError(
    path,
    `the module '${moduleName}' is installed but did not load (${why})`,
    `Rebuild it for this Node with \`npm rebuild better-sqlite3\` (it builds from source when no prebuilt binary ` +
      `is available: that needs python3, make and a C++ compiler), or reinstall it with \`${INSTALL}\`.`,
    { cause: err },
  );
}
