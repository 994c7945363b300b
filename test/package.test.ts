import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

// The package's metadata as the npm page shows it. What the tarball holds is checked by tools/check-package.mjs and
// tools/check-consumer.mjs (in .ci/run), which need a build.

const root = fileURLToPath(new URL("../", import.meta.url));
const read = (file: string): string => fs.readFileSync(`${root}${file}`, "utf8");
const pkg = JSON.parse(read("package.json")) as Record<string, unknown>;
const readme = read("README.md");
const REPO = "https://github.com/typed-zmq/typed-zmq";

describe("package metadata", () => {
  test("names the repository, the homepage, the issue tracker and an MIT LICENSE file", () => {
    expect(pkg).toMatchObject({
      license: "MIT",
      repository: { type: "git", url: `git+${REPO}.git` },
      homepage: `${REPO}#readme`,
      bugs: { url: `${REPO}/issues` },
    });
    expect(read("LICENSE")).toMatch(/^MIT License\n\nCopyright \(c\) 2026 typed-zmq contributors\n/);
    expect(read("CHANGELOG.md")).toMatch(/^## Unreleased$/m);
  });

  test("README links work from the npm page: none is relative to the repository", () => {
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? "");
    expect(links.length).toBeGreaterThan(5);
    expect(links.filter((link) => !/^(https?:\/\/|#)/.test(link))).toEqual([]);
    for (const link of links.filter((l) => l.startsWith(`${REPO}/`))) {
      // Every repository link points at a file or folder that exists.
      const path = link.replace(/^.*?\/(?:blob|tree)\/main\//, "").replace(/[?#].*$/, "");
      expect(fs.existsSync(`${root}${path}`), link).toBe(true);
    }
  });

  test("engines and the README agree on the Node.js version", () => {
    expect(pkg["engines"]).toEqual({ node: ">=20.19.0" });
    expect(readme).toContain("**Node.js 20.19 or later** (`engines`: `>=20.19.0`)");
    expect(readme).toMatch(/`require\("typed-zmq"\)` too, from Node 20\.19 on/);
  });
});
