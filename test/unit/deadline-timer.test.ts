/**
 * The shared deadline timer of internal/deadline-timer.ts: entries expire in deadline order (ties in the order they
 * were added), never before their time, removed entries never expire, an expiry may add entries, and clear() stops
 * everything. Real timers, short deadlines, every wait bounded.
 */
import { describe, expect, test } from "vitest";
import { DeadlineTimer, type DeadlineEntry } from "../../src/internal/deadline-timer.js";
import { deferred, within } from "../helpers/deferred.js";

interface Entry extends DeadlineEntry {
  readonly name: string;
  readonly afterMs: number;
  addedAt: number;
}

const entry = (name: string, afterMs: number): Entry => ({
  name,
  afterMs,
  addedAt: 0,
  deadlineKey: 0,
  deadlineSeq: 0,
  heapIndex: -1,
});

/** Adds `entries` (in that order) and waits until `count` have expired; returns them in expiry order with lateness. */
async function expireAll(
  timer: DeadlineTimer<Entry>,
  fired: Array<{ entry: Entry; at: number }>,
  entries: Entry[],
  count: number,
) {
  const done = deferred();
  const check = setInterval(() => {
    if (fired.length >= count) done.resolve();
  }, 5);
  for (const e of entries) {
    e.addedAt = performance.now();
    timer.add(e, e.afterMs);
  }
  try {
    await within(done.promise, 5_000, `${count} expiries (got ${fired.length})`);
  } finally {
    clearInterval(check);
  }
}

describe("DeadlineTimer", () => {
  test("entries expire in deadline order, ties in the order they were added, none before its time", async () => {
    const fired: Array<{ entry: Entry; at: number }> = [];
    const timer = new DeadlineTimer<Entry>((e) => fired.push({ entry: e, at: performance.now() }));
    // Added out of order, with ties: 40 a, 10 b, 40 c, 25 d, 10 e, 60 f, 1 g.
    const entries = [
      entry("a", 40),
      entry("b", 10),
      entry("c", 40),
      entry("d", 25),
      entry("e", 10),
      entry("f", 60),
      entry("g", 1),
    ];
    await expireAll(timer, fired, entries, entries.length);
    expect(fired.map((f) => f.entry.name)).toEqual(["g", "b", "e", "d", "a", "c", "f"]);
    for (const { entry: e, at } of fired) expect(at - e.addedAt).toBeGreaterThanOrEqual(e.afterMs);
    expect(timer.size).toBe(0);
    for (const e of entries) expect(e.heapIndex).toBe(-1);
  });

  test("a removed entry never expires; the others still do, in order", async () => {
    const fired: Array<{ entry: Entry; at: number }> = [];
    const timer = new DeadlineTimer<Entry>((e) => fired.push({ entry: e, at: performance.now() }));
    const entries = Array.from({ length: 50 }, (_, i) => entry(`e${i}`, 5 + ((i * 37) % 50)));
    for (const e of entries) timer.add(e, e.afterMs);
    // Remove every third one, from the middle of the heap as much as from its top.
    const removed = entries.filter((_, i) => i % 3 === 0);
    for (const e of removed) timer.remove(e);
    timer.remove(removed[0]!); // removing twice is harmless
    const kept = entries.filter((_, i) => i % 3 !== 0);
    expect(timer.size).toBe(kept.length);
    await expireAll(timer, fired, [], kept.length);
    const names = fired.map((f) => f.entry.name);
    expect(names).toHaveLength(kept.length);
    expect(names.some((n) => removed.some((r) => r.name === n))).toBe(false);
    const expected = [...kept].sort((a, b) => a.afterMs - b.afterMs || kept.indexOf(a) - kept.indexOf(b)).map((e) => e.name);
    expect(names).toEqual(expected);
  });

  test("an expiry may add an earlier entry and remove a later one; the timer works again after it was idle", async () => {
    const fired: Array<{ entry: Entry; at: number }> = [];
    const later = entry("later", 200);
    const timer = new DeadlineTimer<Entry>((e) => {
      fired.push({ entry: e, at: performance.now() });
      if (e.name === "first") {
        timer.remove(later);
        const chained = entry("chained", 5);
        chained.addedAt = performance.now();
        timer.add(chained, 5);
      }
    });
    later.addedAt = performance.now();
    timer.add(later, 200);
    await expireAll(timer, fired, [entry("first", 10)], 2);
    expect(fired.map((f) => f.entry.name)).toEqual(["first", "chained"]);
    expect(timer.size).toBe(0);
    // Idle now (its timer unref'd or spent); a new entry is still expired.
    await expireAll(timer, fired, [entry("again", 5)], 3);
    expect(fired.map((f) => f.entry.name)).toEqual(["first", "chained", "again"]);
  });

  test("clear() drops every entry without expiring it", async () => {
    const fired: string[] = [];
    const timer = new DeadlineTimer<Entry>((e) => fired.push(e.name));
    const entries = [entry("x", 5), entry("y", 10)];
    for (const e of entries) timer.add(e, e.afterMs);
    timer.clear();
    expect(timer.size).toBe(0);
    // A later entry proves the timer is usable and lets the cleared ones' time pass: only it fires.
    const after: Array<{ entry: Entry; at: number }> = [];
    const probe = new DeadlineTimer<Entry>((e) => after.push({ entry: e, at: performance.now() }));
    await expireAll(probe, after, [entry("probe", 30)], 1);
    expect(fired).toEqual([]);
    expect(entries.every((e) => e.heapIndex === -1)).toBe(true);
  });
});
