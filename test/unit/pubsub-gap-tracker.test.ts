/** The subscriber's gap tracker (src/internal/gap-tracker.ts), a pure function of the headers it is shown. */
import { describe, expect, test } from "vitest";
import { GapTracker } from "../../src/internal/gap-tracker.js";

describe("GapTracker", () => {
  test("the first message starts a stream; a jump is a gap from the next expected to the one before it", () => {
    const t = new GapTracker();
    expect(t.observe("p", 1, "a", 5)).toEqual({ kind: "next" }); // what came before the first cannot be seen
    expect(t.observe("p", 1, "a", 6)).toEqual({ kind: "next" });
    expect(t.observe("p", 1, "a", 10)).toEqual({ kind: "gap", missed: 3, from: 7, to: 9 });
    expect(t.observe("p", 1, "a", 11)).toEqual({ kind: "next" });
  });

  test("a batch covers topicSeq .. topicSeq + count - 1", () => {
    const t = new GapTracker();
    expect(t.observe("p", 1, "a", 1, 4)).toEqual({ kind: "next" });
    expect(t.observe("p", 1, "a", 5, 4)).toEqual({ kind: "next" });
    expect(t.observe("p", 1, "a", 12)).toEqual({ kind: "gap", missed: 3, from: 9, to: 11 });
  });

  test("duplicates and late arrivals are repeats, never gaps, and do not move the stream back", () => {
    const t = new GapTracker();
    t.observe("p", 1, "a", 1);
    t.observe("p", 1, "a", 3);
    expect(t.observe("p", 1, "a", 2)).toEqual({ kind: "repeat" });
    expect(t.observe("p", 1, "a", 3)).toEqual({ kind: "repeat" });
    expect(t.observe("p", 1, "a", 4)).toEqual({ kind: "next" });
  });

  test("topics, publishers and epochs are separate streams: a restarted publisher starts again without a gap", () => {
    const t = new GapTracker();
    t.observe("p", 1, "a", 1);
    expect(t.observe("p", 1, "b", 7)).toEqual({ kind: "next" });
    expect(t.observe("q", 1, "a", 9)).toEqual({ kind: "next" });
    expect(t.observe("p", 2, "a", 1)).toEqual({ kind: "next" });
    // An id that contains the separator cannot collide with another (id, topic) pair.
    expect(t.observe("x|1", 1, "y", 1)).toEqual({ kind: "next" });
    expect(t.observe("x", 1, "1|y", 5)).toEqual({ kind: "next" });
  });

  test("bounded: past its capacity the stream seen least recently is forgotten, and starts again", () => {
    const t = new GapTracker(2);
    t.observe("p", 1, "a", 1);
    t.observe("p", 1, "b", 1);
    t.observe("p", 1, "a", 2); // a is now the most recent
    t.observe("p", 1, "c", 1); // forgets b
    expect(t.size).toBe(2);
    expect(t.observe("p", 1, "a", 4)).toEqual({ kind: "gap", missed: 1, from: 3, to: 3 });
    expect(t.observe("p", 1, "b", 9)).toEqual({ kind: "next" });
  });
});
