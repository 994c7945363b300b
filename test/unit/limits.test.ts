import { describe, expect, test } from "vitest";
import {
  DEFAULT_BACKLOG,
  DEFAULT_HARD_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_FRAMES,
  readBackendLimits,
  readLimits,
  tooManyFrames,
  type LimitDefaults,
} from "../../src/internal/limits.js";
import { resolveOptions } from "../../src/internal/options.js";

const MiB = 1024 * 1024;

function limits(options: object, defaults?: LimitDefaults) {
  return resolveOptions("Thing.bind", options, (read) => ({ limits: readLimits(read, defaults) })).limits;
}

describe("readLimits", () => {
  test("with no options: the documented defaults (8 MiB hard limit, 16 frames, backlog 1024)", () => {
    const l = limits({});
    expect(DEFAULT_HARD_MAX_MESSAGE_BYTES).toBe(8 * MiB);
    expect(l).toEqual({
      maxMessageBytes: undefined,
      hardMaxMessageBytes: 8 * MiB,
      maxFrames: DEFAULT_MAX_FRAMES,
      backlog: DEFAULT_BACKLOG,
      socket: { maxMessageSize: 8 * MiB, backlog: 1024 },
    });
    expect(DEFAULT_MAX_FRAMES).toBe(16);
    expect(Object.isFrozen(l)).toBe(true);
    expect(Object.isFrozen(l.socket)).toBe(true);
  });

  test.each([
    // max(2 × m, m + 64 KiB): the margin wins for small limits, doubling for large ones.
    [1, 65_537],
    [1000, 66_536],
    [65_536, 131_072],
    [10 * MiB, 20 * MiB],
  ])("derives the hard limit from maxMessageBytes %d: %d", (maxMessageBytes, hard) => {
    const l = limits({ maxMessageBytes });
    expect(l.maxMessageBytes).toBe(maxMessageBytes);
    expect(l.hardMaxMessageBytes).toBe(hard);
    expect(l.socket.maxMessageSize).toBe(hard);
  });

  test("derive: false (worker links, clients) keeps the default hard limit whatever maxMessageBytes is", () => {
    const l = limits({ maxMessageBytes: 65_536 }, { derive: false });
    expect(l.maxMessageBytes).toBe(65_536);
    expect(l.hardMaxMessageBytes).toBe(8 * MiB);
  });

  test("explicit values win over the defaults", () => {
    const l = limits({ maxMessageBytes: 1000, hardMaxMessageBytes: 1000, maxFrames: 3, backlog: 50 }, { maxFrames: 9 });
    expect(l).toEqual({
      maxMessageBytes: 1000,
      hardMaxMessageBytes: 1000,
      maxFrames: 3,
      backlog: 50,
      socket: { maxMessageSize: 1000, backlog: 50 },
    });
    expect(limits({}, { maxFrames: 9 }).maxFrames).toBe(9);
  });

  test.each([
    [{ hardMaxMessageBytes: 0 }, RangeError, "Thing.bind: `hardMaxMessageBytes` must be a positive integer, got 0."],
    [{ maxFrames: 1.5 }, RangeError, "Thing.bind: `maxFrames` must be a positive integer, got 1.5."],
    [{ backlog: -1 }, RangeError, "Thing.bind: `backlog` must be a positive integer, got -1."],
    [
      { maxMessageBytes: 2000, hardMaxMessageBytes: 1999 },
      RangeError,
      "Thing.bind: `hardMaxMessageBytes` must be at least `maxMessageBytes` (2000), so that a message over the application limit can still be answered MESSAGE_TOO_LARGE, got 1999.",
    ],
  ])("refuses %o", (options, type, message) => {
    expect(() => limits(options)).toThrow(type);
    expect(() => limits(options)).toThrow(message);
  });
});

describe("readBackendLimits (a broker's backend)", () => {
  function faces(options: object) {
    return resolveOptions("RpcBroker.bind", options, (read) => {
      const frontend = readLimits(read, { derive: false });
      return { frontend, backend: readBackendLimits(read, frontend) };
    });
  }

  test("defaults to the frontend's hard limit and adds the MDP envelope to maxFrames", () => {
    const { frontend, backend } = faces({ hardMaxMessageBytes: 1 * MiB, maxFrames: 10, backlog: 200 });
    expect(frontend.hardMaxMessageBytes).toBe(1 * MiB);
    expect(backend.hardMaxMessageBytes).toBe(1 * MiB);
    expect(backend.socket).toEqual({ maxMessageSize: 1 * MiB, backlog: 200 });
    expect(backend.maxFrames).toBe(18);
  });

  test("takes a larger backendHardMaxMessageBytes, refuses a smaller one", () => {
    expect(faces({ hardMaxMessageBytes: 1000, backendHardMaxMessageBytes: 5000 }).backend.hardMaxMessageBytes).toBe(5000);
    expect(() => faces({ hardMaxMessageBytes: 1000, backendHardMaxMessageBytes: 999 })).toThrow(
      "RpcBroker.bind: `backendHardMaxMessageBytes` must be at least the frontend's `hardMaxMessageBytes` (1000), so that one large request cannot cut the broker off from its servers, got 999.",
    );
    expect(() => faces({ backendHardMaxMessageBytes: 1000 })).toThrow(RangeError);
  });
});

describe("tooManyFrames", () => {
  const l = limits({ maxFrames: 3 });
  test("passes a message of up to maxFrames frames", () => {
    expect(tooManyFrames(l, [], "here")).toBeUndefined();
    expect(tooManyFrames(l, [1, 2, 3], "here")).toBeUndefined();
  });
  test("names the socket, the count and the limit for a message with more", () => {
    const reason = tooManyFrames(l, [1, 2, 3, 4], "RpcServer at tcp://127.0.0.1:5555");
    expect(reason).toMatch(
      /^RpcServer at tcp:\/\/127\.0\.0\.1:5555: dropped a 4-frame message, over the limit of 3 frames \(maxFrames\)/,
    );
    expect(reason).toContain("raise { maxFrames }");
  });
});
