import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, test } from "vitest";

// `import "typed-zmq"` must load only messaging code: not the CLI, not the PGM addon build tool, nothing that starts
// processes. This walks every import (static, re-export, dynamic, type-only) from src/index.ts through src/.

const src = fileURLToPath(new URL("../src/", import.meta.url));

interface Graph {
  /** Every src/ file reached, relative to src/. */
  readonly files: Set<string>;
  /** Every bare module specifier imported (zeromq, node:fs, ...). */
  readonly packages: Set<string>;
}

function walk(entry: string): Graph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [path.join(src, entry)];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    const rel = path.relative(src, file);
    if (files.has(rel)) continue;
    files.add(rel);
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith(".")) {
        packages.add(fileName);
        continue;
      }
      const target = path.resolve(path.dirname(file), fileName.replace(/\.js$/, ".ts"));
      if (!fs.existsSync(target)) throw new Error(`${rel} imports ${fileName}, which resolves to no file (${target})`);
      queue.push(target);
    }
  }
  return { files, packages };
}

/** What must not be reachable from the library entry point. */
function forbidden(graph: Graph): string[] {
  return [
    ...[...graph.files].filter((f) => f === "cli.ts" || f.startsWith(`tools${path.sep}`)),
    ...[...graph.packages].filter((p) => p === "node:child_process" || p === "child_process"),
  ].sort();
}

describe("import graph", () => {
  test("src/index.ts reaches neither the CLI nor the build tool nor child_process", () => {
    const graph = walk("index.ts");
    expect(graph.files.has("rpc-client.ts")).toBe(true);
    expect(graph.files.has(path.join("internal", "addon-manifest.ts"))).toBe(true);
    expect(forbidden(graph)).toEqual([]);
  });

  test("the walk does find them from the CLI (so the check above can fail)", () => {
    const graph = walk("cli.ts");
    expect(forbidden(graph)).toEqual(["cli.ts", path.join("tools", "zmq-system-addon.ts"), "node:child_process"].sort());
  });
});
