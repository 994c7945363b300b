import { describe, expect, test } from "vitest";
import { jsonCodec, msgpackCodec } from "../src/index.js";
import { openPattern } from "../src/internal/open.js";
import { resolveOptions } from "../src/internal/options.js";

describe("resolveOptions", () => {
  test("returns a frozen config with defaults, and freezes nested options", () => {
    const config = resolveOptions("Thing.bind", { n: 3, batch: true }, (read) => ({
      n: read.positiveInt("n", 1),
      ms: read.nonNegativeMs("ms", 7),
      on: read.flag("on", false),
      codec: read.codec(),
      batch: read.nested("batch", (b) => ({ maxMessages: b.positiveInt("maxMessages", 256) })),
      off: read.nested("off", (b) => ({ x: b.positiveInt("x", 1) })),
    }));
    expect(config).toEqual({ n: 3, ms: 7, on: false, codec: jsonCodec, batch: { maxMessages: 256 }, off: undefined });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.batch)).toBe(true);
    expect(resolveOptions("Thing.bind", { codec: msgpackCodec }, (read) => read.codec()).valueOf()).toBe(msgpackCodec);
  });

  test.each([
    [{ n: 0 }, RangeError, "Thing.bind: `n` must be a positive integer, got 0."],
    [{ n: 1.5 }, RangeError, "Thing.bind: `n` must be a positive integer, got 1.5."],
    [{ ms: -1 }, RangeError, "Thing.bind: `ms` must be a number of milliseconds >= 0, got -1."],
    [{ on: "yes" }, TypeError, 'Thing.bind: `on` must be true or false, got "yes".'],
    [{ mode: "x" }, TypeError, 'Thing.bind: `mode` must be one of "a", "b", got "x".'],
    [{ onDrop: 1 }, TypeError, "Thing.bind: `onDrop` must be a function, got 1."],
    [{ batch: 3 }, TypeError, "Thing.bind: `batch` must be an options object, true or false, got 3."],
    [{ batch: { maxMessages: 0 } }, RangeError, "Thing.bind: `batch.maxMessages` must be a positive integer, got 0."],
    [{ codec: {} }, TypeError, "Thing.bind: `codec` must be a codec"],
  ])("refuses %j, naming the owner and the option", (options, type, message) => {
    const resolve = (): unknown =>
      resolveOptions("Thing.bind", options, (read) => ({
        n: read.positiveInt("n", 1),
        ms: read.nonNegativeMs("ms", 0),
        on: read.flag("on", false),
        mode: read.oneOf("mode", ["a", "b"], "a"),
        onDrop: read.hook("onDrop"),
        batch: read.nested("batch", (b) => ({ maxMessages: b.positiveInt("maxMessages", 256) })),
        codec: read.codec(),
      }));
    expect(resolve).toThrow(type);
    expect(resolve).toThrow(message);
  });

  test("refuses options that are not an object", () => {
    expect(() => resolveOptions("Thing.bind", 5, () => ({}))).toThrow("Thing.bind: `options` must be an object, got 5.");
    expect(() => resolveOptions("Thing.bind", null, () => ({}))).toThrow(TypeError);
  });
});

describe("openPattern", () => {
  test("closes the object when attaching fails, and rethrows the attach error", async () => {
    let closed = 0;
    const failure = new Error("attach failed");
    await expect(
      openPattern(
        {
          create: (owner) => ({
            owner,
            close: async () => {
              closed++;
            },
          }),
          attach: async () => Promise.reject(failure),
          start: () => expect.unreachable("start must not run after a failed attach"),
        },
        "Thing",
        "bind",
      ),
    ).rejects.toBe(failure);
    expect(closed).toBe(1);
  });

  test("names the owner, attaches, then starts", async () => {
    const steps: string[] = [];
    const self = await openPattern(
      {
        create: (owner) => ({ owner, close: async () => void steps.push("close") }),
        attach: async (s, use) => void steps.push(`attach ${s.owner} multicast=${String(use.multicast)}`),
        start: () => void steps.push("start"),
      },
      "Thing",
      "connect",
      { multicast: true },
    );
    expect(self.owner).toBe("Thing.connect");
    expect(steps).toEqual(["attach Thing.connect multicast=true", "start"]);
  });
});
