import { readdirSync } from "node:fs";
import { describe, expect, test, vi, type MockInstance } from "vitest";

const dir = new URL("../examples/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
const signal = (): AbortSignal => AbortSignal.timeout(3_000);

/** Runs `fn` with console.log captured, so examples stay quiet and their output can be checked. */
async function quietly<T>(fn: (log: MockInstance<typeof console.log>) => Promise<T>): Promise<T> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    return await fn(log);
  } finally {
    log.mockRestore();
  }
}

describe("examples", () => {
  test("there are examples to run", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  test("quick-start prints the greeting", async () => {
    await quietly(async (log) => {
      const { main } = await import("../examples/quick-start.js");
      await expect(main({ signal: signal() })).resolves.toBe("Hello, Ada!");
      expect(log).toHaveBeenCalledWith("Hello, Ada!");
    });
  });

  test("contracts turns the ISO string into a Date and fills the default", async () => {
    await quietly(async (log) => {
      const { main } = await import("../examples/contracts.js");
      const placed = await main({ signal: signal() });
      expect(placed.placedAt).toBeInstanceOf(Date);
      expect(log).toHaveBeenCalledWith("order for 1 x tea");
    });
  });

  test("security: a listed CURVE client gets its greeting", async () => {
    await quietly(async (log) => {
      const { main } = await import("../examples/security.js");
      await expect(main({ signal: signal() })).resolves.toBe("Hello, Ada!");
      expect(log).toHaveBeenCalledWith("Hello, Ada!");
    });
  });

  test("rpc-errors shows a remote code, a timeout and an abort", async () => {
    await quietly(async () => {
      const { main } = await import("../examples/rpc-errors.js");
      await expect(main({ signal: signal() })).resolves.toEqual([
        "NOT_FOUND: no account XX0000",
        "TIMEOUT after 50 ms",
        "AbortedError",
      ]);
    });
  });

  test("pubsub-basic delivers only the subscribed team's events, in order", async () => {
    await quietly(async () => {
      const { main } = await import("../examples/pubsub-basic.js");
      await expect(main({ signal: signal() })).resolves.toEqual(["Arsenal: red card (33')", "Arsenal: goal (90')"]);
    });
  });

  test("observability reports the client's events and the latency of its three calls", async () => {
    await quietly(async (log) => {
      const { main } = await import("../examples/observability.js");
      await expect(main({ signal: signal() })).resolves.toEqual({ events: ["connected", "validation-failed"], calls: 3 });
      expect(log).toHaveBeenCalledWith(3, true, true);
    });
  });

  test("pipeline-basic spreads 30 tasks over three workers", async () => {
    await quietly(async () => {
      const { main } = await import("../examples/pipeline-basic.js");
      const perWorker = await main({ signal: signal() });
      expect(Object.values(perWorker).reduce((a, b) => a + b, 0)).toBe(30);
      expect(Object.keys(perWorker).sort()).toEqual(["w1", "w2", "w3"]);
    });
  });

  test("pipeline-reliable gets every result through a durable broker that outlives its source", async () => {
    await quietly(async () => {
      const { main } = await import("../examples/pipeline-reliable.js");
      await expect(main({ signal: signal() })).resolves.toBe(15_000);
    });
  });

  test("standard-schema: a valibot + arktype contract calls, refuses a bad request with its path, and names the unexportable schema", async () => {
    await quietly(async () => {
      const { main } = await import("../examples/standard-schema.js");
      const lines = await main({ signal: signal() });
      expect(lines[0]).toBe("3 x SKU-0042: 7.5");
      expect(lines[1]).toMatch(/^sku: Invalid format/);
      expect(lines[2]).toBe("sell.request: valibot schema");
    });
  });

  test.each(files)("%s exports main({ signal })", async (file) => {
    const mod: unknown = await import(new URL(file, dir).href);
    expect(typeof (mod as { main?: unknown }).main).toBe("function");
  });
});
