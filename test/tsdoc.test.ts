import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, test } from "vitest";

const index = fileURLToPath(new URL("../src/index.ts", import.meta.url));

/** Every name the package exports, with its TSDoc text (empty when missing). */
function exportedDocs(): Map<string, string> {
  const program = ts.createProgram([index], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(index);
  if (source === undefined) throw new Error(`cannot read ${index}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error("src/index.ts is not a module");
  const docs = new Map<string, string>();
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    docs.set(exported.getName(), ts.displayPartsToString(target.getDocumentationComment(checker)).trim());
  }
  return docs;
}

describe("public API", () => {
  const docs = exportedDocs();

  test("exports the RPC classes and helpers", () => {
    for (const name of ["RpcClient", "RpcServer", "defineRpc", "jsonCodec", "msgpackCodec", "parseEndpoint", "TypedZmqError"]) {
      expect(docs.has(name), name).toBe(true);
    }
  });

  test("every export has a TSDoc comment", () => {
    const missing = [...docs].filter(([, doc]) => doc.length === 0).map(([name]) => name);
    expect(missing).toEqual([]);
  });
}, 20_000);
