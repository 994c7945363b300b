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
});
