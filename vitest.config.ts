import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Examples and README snippets import "typed-zmq" as users do; in this repository that is src/.
    alias: { "typed-zmq": fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 5_000,
    hookTimeout: 5_000,
    retry: 0,
    pool: "forks",
  },
});
