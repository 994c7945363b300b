// The reliable source's batch (src/internal/counting-batch.ts): the `batch` options' timing rules, without sockets.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { CountingBatch } from "../../src/internal/counting-batch.js";

describe("CountingBatch", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function collect(maxMessages: number, maxBytes: number, maxDelayMs: number) {
    const sent: string[][] = [];
    const batch = new CountingBatch<string>({ maxMessages, maxBytes, maxDelayMs }, (items) => sent.push(items));
    return { sent, batch };
  }

  test("sends at once when `maxMessages` items are in, and starts a new batch after", () => {
    const { sent, batch } = collect(3, 1_000, 50);
    batch.add("a", 1);
    batch.add("b", 1);
    expect(sent).toEqual([]);
    expect(batch.size).toBe(2);
    batch.add("c", 1);
    expect(sent).toEqual([["a", "b", "c"]]);
    expect(batch.size).toBe(0);
    batch.add("d", 1);
    vi.advanceTimersByTime(50);
    expect(sent).toEqual([["a", "b", "c"], ["d"]]);
  });

  test("sends at once when the bytes reach `maxBytes`", () => {
    const { sent, batch } = collect(100, 10, 50);
    batch.add("a", 4);
    batch.add("b", 5);
    expect(sent).toEqual([]);
    batch.add("c", 1);
    expect(sent).toEqual([["a", "b", "c"]]);
    batch.add("big", 50); // alone over the limit: goes alone
    expect(sent).toEqual([["a", "b", "c"], ["big"]]);
  });

  test("sends `maxDelayMs` after the first item of a batch, not after the last", () => {
    const { sent, batch } = collect(100, 1_000, 10);
    batch.add("a", 1);
    vi.advanceTimersByTime(6);
    batch.add("b", 1);
    vi.advanceTimersByTime(3);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([["a", "b"]]);
    vi.advanceTimersByTime(100);
    expect(sent).toEqual([["a", "b"]]); // no empty batch
  });

  test("flush sends what waits and cancels its timer; with nothing waiting it sends nothing", () => {
    const { sent, batch } = collect(100, 1_000, 10);
    batch.flush();
    expect(sent).toEqual([]);
    batch.add("a", 1);
    batch.flush();
    expect(sent).toEqual([["a"]]);
    batch.add("b", 1);
    vi.advanceTimersByTime(9); // the timer of "a" was cleared: "b" has its own
    expect(sent).toEqual([["a"]]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([["a"], ["b"]]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
