/**
 * @packageDocumentation
 * Where zeromq.js keeps its addons and which one its manifest registers: read by `doctor()` (is the system addon
 * registered?) and by the build tool in `tools/zmq-system-addon.ts`, which writes it. No build code here, and nothing
 * that starts a process: `import "typed-zmq"` loads this file.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** `name` of our manifest entry: the prebuilt entries have an empty name. */
export const ENTRY_NAME = "typed-zmq-system-libzmq";
const ADDON_SUBDIR = "system-libzmq";

/** The zeromq package's addon locations. */
export interface AddonPaths {
  readonly zeromqDir: string;
  readonly buildDir: string;
  readonly manifest: string;
  readonly backup: string;
  readonly addonDir: string;
  readonly addonPath: string;
  /** The addon path as written in the manifest: relative to `buildDir`, with forward slashes. */
  readonly manifestValue: string;
}

/** The message of a thrown value. */
export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Where the installed zeromq package keeps its manifest and where the system addon goes. */
export function zeromqPaths(): AddonPaths {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve("zeromq/package.json");
  } catch (error) {
    throw new Error(`Cannot find the "zeromq" package (${message(error)}). Run \`npm install\` in the project first.`, {
      cause: error,
    });
  }
  const zeromqDir = path.dirname(packageJson);
  const buildDir = path.join(zeromqDir, "build");
  const relative = ["linux", process.arch, "node", ADDON_SUBDIR];
  const addonDir = path.join(buildDir, ...relative);
  return {
    zeromqDir,
    buildDir,
    manifest: path.join(buildDir, "manifest.json"),
    backup: path.join(buildDir, "manifest.prebuilt.json"),
    addonDir,
    addonPath: path.join(addonDir, "addon.node"),
    manifestValue: [...relative, "addon.node"].join("/"),
  };
}

/** zeromq's addon manifest: entry key (a JSON build configuration) to addon path. */
export function readManifest(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`Cannot read zeromq's addon manifest ${file}: ${message(error)}. Reinstall zeromq (\`npm ci\`).`, {
      cause: error,
    });
  }
  if (!isRecord(parsed)) throw new Error(`zeromq's addon manifest ${file} is not a JSON object. Reinstall zeromq (\`npm ci\`).`);
  const manifest: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === "string") manifest[key] = value;
  }
  return manifest;
}

/** Whether a manifest entry is the one the build tool registers. */
export function isOurEntry(key: string, value: string, paths: AddonPaths): boolean {
  if (value === paths.manifestValue) return true;
  try {
    const config: unknown = JSON.parse(key);
    return isRecord(config) && config["name"] === ENTRY_NAME;
  } catch {
    return false;
  }
}

/**
 * Whether zeromq's addon manifest currently registers the addon built against the system libzmq (so
 * `require("zeromq")` loads the system libzmq).
 *
 * @returns `true` when the manifest has our entry, `false` otherwise (also when zeromq or its manifest is missing).
 */
export function systemAddonInstalled(): boolean {
  let paths: AddonPaths;
  try {
    paths = zeromqPaths();
  } catch {
    return false;
  }
  if (!fs.existsSync(paths.manifest)) return false;
  try {
    return Object.entries(readManifest(paths.manifest)).some(([key, value]) => isOurEntry(key, value, paths));
  } catch {
    return false;
  }
}
