import { readdirSync } from "node:fs";
import { describe, expect, test, vi } from "vitest";

const dir = new URL("../examples/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));

describe("examples", () => {
  test("there are examples to run", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  test("quick-start prints the greeting", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const { main } = (await import("../examples/quick-start.js")) as { main: (o: { signal: AbortSignal }) => Promise<string> };
      await expect(main({ signal: AbortSignal.timeout(3_000) })).resolves.toBe("Hello, Ada!");
      expect(log).toHaveBeenCalledWith("Hello, Ada!");
    } finally {
      log.mockRestore();
    }
  });

  test("contracts turns the ISO string into a Date and fills the default", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const { main } = await import("../examples/contracts.js");
      const placed = await main({ signal: AbortSignal.timeout(3_000) });
      expect(placed.placedAt).toBeInstanceOf(Date);
      expect(log).toHaveBeenCalledWith("order for 1 x tea");
    } finally {
      log.mockRestore();
    }
  });

  test("rpc-errors shows a remote code, a timeout and an abort", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const { main } = await import("../examples/rpc-errors.js");
      await expect(main({ signal: AbortSignal.timeout(3_000) })).resolves.toEqual([
        "NOT_FOUND: no account XX0000",
        "TIMEOUT after 50 ms",
        "AbortedError",
      ]);
    } finally {
      log.mockRestore();
    }
  });

  test.each(files)("%s exports main({ signal })", async (file) => {
    const mod: unknown = await import(new URL(file, dir).href);
    expect(typeof (mod as { main?: unknown }).main).toBe("function");
  });
});
