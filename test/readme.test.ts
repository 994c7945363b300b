import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";

const root = new URL("../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");
const INCLUDE = /<!-- example:(\S+) -->\n```ts\n([\s\S]*?)```\n<!-- \/example -->/g;

describe("README", () => {
  const blocks = [...readme.matchAll(INCLUDE)].map((m) => ({ path: m[1] ?? "", code: m[2] ?? "" }));

  test("includes the examples", () => {
    expect(blocks.map((b) => b.path)).toEqual(
      expect.arrayContaining([
        "examples/quick-start.ts",
        "examples/contracts.ts",
        "examples/rpc-errors.ts",
        "examples/pubsub-basic.ts",
        "examples/pipeline-basic.ts",
        "examples/security.ts",
      ]),
    );
  });

  test.each(blocks.map((b) => [b.path, b.code] as const))("shows %s exactly as the file that the tests run", (path, code) => {
    expect(code).toBe(readFileSync(new URL(path, root), "utf8"));
  });

  test("has no TypeScript block that is not an executed example", () => {
    const allTs = [...readme.matchAll(/```ts\n/g)].length;
    expect(allTs).toBe(blocks.length);
  });

  test("tells users the test command that CI runs", () => {
    const ci = readFileSync(new URL(".ci/run", root), "utf8");
    expect(readme).toContain("npm test");
    expect(ci).toMatch(/^npm test$/m);
  });
});
