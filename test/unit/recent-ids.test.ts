// The broker's repeat check: exactly the last `limit` ids added are remembered, across the tables' growth and the
// ring's wrap-around, with the probe runs kept intact when the oldest id is taken out (backward-shift deletion).
import { describe, expect, test } from "vitest";
import { RecentIds } from "../../src/internal/recent-ids.js";

/** A small deterministic generator (xorshift32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("RecentIds", () => {
  test("remembers exactly the last limit ids, oldest forgotten first", () => {
    const recent = new RecentIds(3);
    for (const id of ["a", "b", "c"]) recent.add(id);
    expect(["a", "b", "c", "d"].map((id) => recent.has(id))).toEqual([true, true, true, false]);
    recent.add("d");
    expect(["a", "b", "c", "d"].map((id) => recent.has(id))).toEqual([false, true, true, true]);
    expect(recent.size).toBe(3);
  });

  test.each([
    [1, 50],
    [7, 2_000],
    [1_000, 5_000],
    [3_000, 12_000], // grows past its first tables (1,024 ids), then wraps
  ])("limit %i, %i random adds and lookups agree with a plain list of the last ids", (limit, adds) => {
    const next = random(limit * 7919 + adds);
    const recent = new RecentIds(limit);
    const order: string[] = [];
    let mismatches = 0;
    for (let i = 0; i < adds; i++) {
      // Ids from a small space, so that lookups hit as often as they miss, and re-adds happen.
      const id = `task-${Math.floor(next() * limit * 2)}`;
      recent.add(id);
      order.push(id);
      if (order.length > limit) order.shift();
      const probe = `task-${Math.floor(next() * limit * 2)}`;
      if (recent.has(probe) !== order.includes(probe)) mismatches++;
    }
    expect(mismatches).toBe(0);
    for (let k = 0; k < limit * 2; k++) expect(recent.has(`task-${k}`)).toBe(order.includes(`task-${k}`));
  });

  test("ids that differ only in their last characters, and non-ASCII ids, are told apart", () => {
    const recent = new RecentIds(10_000);
    for (let i = 0; i < 10_000; i++) recent.add(`3f9a12c0-${i}`);
    expect(recent.has("3f9a12c0-9999")).toBe(true);
    expect(recent.has("3f9a12c0-10000")).toBe(false);
    recent.add("tâche-1");
    expect(recent.has("tâche-1")).toBe(true);
    expect(recent.has("tache-1")).toBe(false);
    expect(recent.has("3f9a12c0-0")).toBe(false); // pushed out by tâche-1
  });

  test("slots: given in order, reused oldest first; slotOf and idAt agree", () => {
    const recent = new RecentIds(2);
    expect([recent.add("a"), recent.add("b")]).toEqual([0, 1]);
    expect([recent.slotOf("a"), recent.slotOf("b"), recent.slotOf("c")]).toEqual([0, 1, -1]);
    expect(recent.add("c")).toBe(0); // a's slot
    expect([recent.slotOf("a"), recent.idAt(0), recent.idAt(1)]).toEqual([-1, "c", "b"]);
  });

  test("limit 0 remembers nothing", () => {
    const recent = new RecentIds(0);
    recent.add("a");
    expect(recent.has("a")).toBe(false);
  });
});
