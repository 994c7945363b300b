// The reliable source's PUSH frames (src/internal/push-frames.ts) against the protocol's own encodePush.
import { describe, expect, test } from "vitest";
import { PushFrames, type PushRecord } from "../../src/internal/push-frames.js";
import { encodePush, parseQueueClientMessage } from "../../src/protocol/queue.js";

function record(id: string, body: string): PushRecord {
  return { id, idBytes: Buffer.byteLength(id, "utf8"), body: Buffer.from(body, "utf8") };
}

describe("PushFrames", () => {
  const records = [
    record("a1b2c3d4-1", '{"seq":1}'),
    record("tâche-é", ""), // multi-byte UTF-8 id, empty body
    record("x".repeat(255), "b".repeat(300)),
    record("🦀", "\u0000\u00ff"),
  ];

  test("builds exactly encodePush's frames, for every slice of the records", () => {
    const frames = new PushFrames("jobs.v1");
    for (let from = 0; from < records.length; from++) {
      for (let to = from + 1; to <= records.length; to++) {
        const slice = records.slice(from, to);
        const expected = encodePush(
          "jobs.v1",
          slice.map((r) => r.id),
          slice.map((r) => r.body),
        );
        expect(frames.encode(records, from, to)).toEqual(expected);
      }
    }
  });

  test("the broker's parser reads the ids and bodies back", () => {
    const encoded = new PushFrames("queue-ü").encode(records, 0, records.length);
    const parsed = parseQueueClientMessage(encoded);
    expect(parsed).toEqual({
      kind: "push",
      queue: "queue-ü",
      ids: records.map((r) => r.id),
      bodies: records.map((r) => Buffer.from(r.body)),
    });
  });

  test("successive PUSHes do not share their ids or bodies frames", () => {
    const frames = new PushFrames("q");
    const first = frames.encode(records, 0, 1);
    const copy = first.map((f) => Buffer.from(f));
    frames.encode(records, 1, 2);
    expect(first).toEqual(copy);
  });
});
