// The reliable sink's dedupe window and TAKEN batching (src/internal/result-acks.ts), without sockets.
import { describe, expect, test } from "vitest";
import { ResultAcks } from "../../src/internal/result-acks.js";

describe("ResultAcks", () => {
  test("remembers the last `window` ids that arrived: a repeat within it is dropped, an older one is new again", () => {
    const sent: string[][] = [];
    const acks = new ResultAcks(3, (ids) => (sent.push(ids), true));
    for (const id of ["a", "b", "c"]) expect(acks.arrived(id)).toBe(true);
    acks.handed("a"); // taken in place: "a" stays the oldest
    expect(acks.arrived("d")).toBe(true); // evicts "a"
    expect(acks.arrived("b")).toBe(false);
    expect(acks.arrived("a")).toBe(true); // forgotten: yielded again; evicts "b"
    expect(acks.arrived("b")).toBe(true);
    expect(acks.duplicates).toBe(1);
    acks.flush();
    expect(sent).toEqual([["a"]]);
  });

  test("a repeat of a taken id is acknowledged again; a repeat of a pending one is not", () => {
    const sent: string[][] = [];
    const acks = new ResultAcks(10, (ids) => (sent.push(ids), true));
    acks.arrived("x");
    acks.arrived("y");
    acks.handed("x");
    expect(acks.arrived("x")).toBe(false);
    expect(acks.arrived("y")).toBe(false);
    acks.flush();
    expect(sent).toEqual([["x", "x"]]);
    expect(acks.duplicates).toBe(2);
  });

  test("a full window keeps exactly `window` ids over many evictions", () => {
    const acks = new ResultAcks(1000, () => true);
    for (let i = 0; i < 50_000; i++) {
      acks.arrived(`t${i}`);
      acks.handed(`t${i}`);
    }
    expect(acks.arrived("t49000")).toBe(false); // the oldest still remembered
    expect(acks.arrived("t48999")).toBe(true); // the newest forgotten
  });

  test("hand-offs out of arrival order (and discards while parsing) take the right ids, and only those", () => {
    const sent: string[][] = [];
    const acks = new ResultAcks(4, (ids) => (sent.push(ids), true));
    for (const id of ["a", "b", "c", "d"]) acks.arrived(id);
    acks.discard("b"); // while parsing, before "a" is handed
    acks.handed("a");
    acks.handed("d"); // "c" skipped for now
    // Taken ones are acknowledged again on a repeat; "c" is still pending, so its repeat is not.
    expect(acks.arrived("b")).toBe(false);
    expect(acks.arrived("c")).toBe(false);
    expect(acks.arrived("d")).toBe(false);
    acks.handed("c");
    expect(acks.arrived("e")).toBe(true); // evicts "a", the oldest: "b", "c", "d", "e" remain
    expect(acks.arrived("a")).toBe(true); // evicts "b"
    expect(acks.arrived("b")).toBe(true); // evicts "c"
    expect(acks.arrived("d")).toBe(false); // still remembered, and taken
    acks.flush();
    expect(sent).toEqual([["b", "a", "d", "b", "d", "c", "d"]]);
  });

  test("a hand-off in order after the ring wrapped round takes the new id in the reused slot, not the evicted one", () => {
    const sent: string[][] = [];
    const acks = new ResultAcks(2, (ids) => (sent.push(ids), true));
    acks.arrived("a");
    acks.arrived("b");
    acks.handed("a");
    acks.handed("b");
    acks.arrived("c"); // slot of "a"
    acks.arrived("d"); // slot of "b"
    acks.handed("c");
    expect(acks.arrived("d")).toBe(false); // pending: not acknowledged
    expect(acks.arrived("c")).toBe(false); // taken: acknowledged again
    expect(acks.arrived("a")).toBe(true);
    acks.flush();
    expect(sent).toEqual([["a", "b", "c", "c"]]);
  });
});
