import { describe, expect, test } from "vitest";
import { pack } from "../../src/protocol/batch.js";
import {
  OutcomeStatus,
  encodeAccepted,
  encodeBrokerFailure,
  encodeFetch,
  encodePush,
  encodeQueueDisconnect,
  encodeQueueHeartbeat,
  encodeRejected,
  encodeResults,
  encodeTaken,
  encodeTask,
  encodeTaskBatch,
  encodeTaskBatchReply,
  encodeTaskReply,
  packIds,
  parseQueueBrokerMessage,
  parseQueueClientMessage,
  parseTask,
  parseTaskReply,
} from "../../src/protocol/queue.js";

const b = (text: string): Buffer => Buffer.from(text);
const packed = (...items: string[]): Buffer => pack(items.map(b), items.join("").length);
const C = (command: number, ...rest: Buffer[]): Buffer[] => [Buffer.alloc(0), b("TZPC01"), Buffer.from([command]), ...rest];
const buffers = (frames: readonly Uint8Array[]): Buffer[] => frames.map((frame) => Buffer.from(frame));

describe("queue client messages (parsed by the broker)", () => {
  test("round trips", () => {
    expect(parseQueueClientMessage(encodePush("q", ["a", "b"], [b("1"), b("22")]))).toEqual({
      kind: "push",
      queue: "q",
      ids: ["a", "b"],
      bodies: [b("1"), b("22")],
    });
    expect(parseQueueClientMessage(encodeFetch("q", 500))).toEqual({ kind: "fetch", queue: "q", window: 500 });
    expect(parseQueueClientMessage(encodeTaken("q", ["x"]))).toEqual({ kind: "taken", queue: "q", ids: ["x"] });
    expect(parseQueueClientMessage(encodeQueueHeartbeat())).toEqual({ kind: "heartbeat" });
    expect(parseQueueClientMessage(encodeQueueDisconnect())).toEqual({ kind: "disconnect" });
  });

  test("ids: ASCII frames (one decode per frame) and UTF-8 or long ids (one at a time) give the same ids", () => {
    const long = "x".repeat(200); // its length prefix (200) is not ASCII: the frame takes the per-id path
    for (const list of [
      ["a", "b-1", "c:22"],
      ["tâche-1", "ジョブ", "plain"],
      ["a", long, "b"],
      ["😀", "é"],
    ]) {
      const parsed = parseQueueClientMessage(encodeTaken("q", list));
      expect(parsed).toEqual({ kind: "taken", queue: "q", ids: list });
    }
    // The same errors in the same order on both paths: an ASCII frame with an empty id, then a UTF-8 one.
    const emptyAscii = parseQueueClientMessage(C(6, b("q"), pack([b("a"), Buffer.alloc(0)], 1)));
    const emptyUtf8 = parseQueueClientMessage(C(6, b("q"), pack([b("é"), Buffer.alloc(0)], 2)));
    const badFirst = parseQueueClientMessage(C(6, b("q"), pack([Buffer.from([0xc3]), Buffer.alloc(0)], 1)));
    expect(emptyAscii).toEqual({ kind: "malformed", reason: "TAKEN: a task id must be 1 to 255 bytes, got 0" });
    expect(emptyUtf8).toEqual(emptyAscii);
    expect(badFirst).toEqual({ kind: "malformed", reason: "TAKEN: the task id is not valid UTF-8" });
  });

  test.each([
    ["no signature", [Buffer.alloc(0), b("MDPC01"), Buffer.from([1])], "does not start with"],
    ["no empty frame", [b("TZPC01"), Buffer.from([1])], "does not start with"],
    ["a two-byte command", C(1).map((f, i) => (i === 2 ? Buffer.from([1, 1]) : f)), "one byte"],
    ["a broker command", C(2, b("q")), "not one a client sends"],
    ["PUSH without queue", C(1), "queue name frame is missing"],
    ["PUSH with an empty queue", C(1, Buffer.alloc(0)), "1 to 255 bytes"],
    ["PUSH with a 256-byte queue", C(1, Buffer.alloc(256, 97)), "1 to 255 bytes"],
    ["PUSH without ids", C(1, b("q")), "ids frame is missing"],
    ["PUSH with no id", C(1, b("q"), Buffer.alloc(0), Buffer.alloc(0)), "holds no id"],
    ["PUSH with an empty id", C(1, b("q"), pack([Buffer.alloc(0)], 0), packed("x")), "task id must be 1 to 255"],
    ["PUSH with a bad id", C(1, b("q"), pack([Buffer.from([0xff])], 1), packed("x")), "not valid UTF-8"],
    ["PUSH with short ids", C(1, b("q"), Buffer.from([0, 0, 0, 9, 1]), packed("x")), "do not add up"],
    ["PUSH without bodies", C(1, b("q"), packed("a")), "bodies frame is missing"],
    ["PUSH with fewer bodies", C(1, b("q"), packed("a", "b"), packed("x")), "2 ids but 1 bodies"],
    ["FETCH with window 0", C(4, b("q"), b("0")), "window must be"],
    ["FETCH with a huge window", C(4, b("q"), b("2000000")), "window must be"],
    ["FETCH without window", C(4, b("q")), "window must be"],
    ["TAKEN without ids", C(6, b("q")), "ids frame is missing"],
  ])("%s is malformed", (_name, frames, reason) => {
    const parsed = parseQueueClientMessage(frames);
    expect(parsed.kind).toBe("malformed");
    expect(parsed.kind === "malformed" && parsed.reason).toContain(reason);
  });
});

describe("broker messages (parsed by a source or sink)", () => {
  test("round trips", () => {
    expect(parseQueueBrokerMessage(encodeAccepted(["a", "b"]))).toEqual({ kind: "accepted", ids: ["a", "b"] });
    expect(parseQueueBrokerMessage(encodeRejected(["a"], "STORE_FULL", "full"))).toEqual({
      kind: "rejected",
      ids: ["a"],
      code: "STORE_FULL",
      message: "full",
    });
    const outcomes = [
      { status: OutcomeStatus.OK, body: b("r") },
      { status: OutcomeStatus.FAILED, body: b("") },
      { status: OutcomeStatus.BROKER_FAILED, body: encodeBrokerFailure("POISON_TASK", "m", { deliveries: 5 }) },
    ];
    expect(parseQueueBrokerMessage(encodeResults("q", ["a", "b", "c"], outcomes))).toEqual({
      kind: "results",
      queue: "q",
      ids: ["a", "b", "c"],
      outcomes,
    });
    expect(parseQueueBrokerMessage(encodeQueueHeartbeat())).toEqual({ kind: "heartbeat" });
    expect(parseQueueBrokerMessage(encodeQueueDisconnect())).toEqual({ kind: "disconnect" });
  });

  test.each([
    ["a client command", C(1, b("q")), "not one the broker sends"],
    ["REJECTED without error", C(3, packed("a")), "not JSON { code, message }"],
    ["REJECTED with a bad error", C(3, packed("a"), b('{"code":1}')), "not JSON { code, message }"],
    ["RESULTS with a retry status", C(5, b("q"), packed("a"), pack([Buffer.from([2])], 1)), "status 2"],
    ["RESULTS with an empty record", C(5, b("q"), packed("a"), pack([Buffer.alloc(0)], 0)), "status (none)"],
    ["RESULTS with fewer outcomes", C(5, b("q"), packed("a", "b"), pack([Buffer.from([0])], 1)), "2 ids but 1"],
  ])("%s is malformed", (_name, frames, reason) => {
    const parsed = parseQueueBrokerMessage(frames);
    expect(parsed.kind).toBe("malformed");
    expect(parsed.kind === "malformed" && parsed.reason).toContain(reason);
  });
});

describe("worker bodies", () => {
  test("a task and a batch round trip", () => {
    expect(parseTask(encodeTask({ id: "t1", delivery: 2, body: b("{}") }))).toEqual({
      kind: "task",
      task: { id: "t1", delivery: 2, body: b("{}") },
    });
    const tasks = [
      { id: "a", delivery: 1, body: b("1") },
      { id: "b", delivery: 300, body: b("2") },
    ];
    expect(parseTask(encodeTaskBatch(tasks))).toEqual({
      kind: "batch",
      tasks: [tasks[0], { ...tasks[1], delivery: 255 }],
    });
  });

  test.each([
    ["nothing", [], "without a task"],
    ["a body alone", [b("{}")], "2 frames"],
    ["headers without taskId", [b("{}"), b('{"delivery":1}')], "taskId"],
    ["a delivery of 0", [b("{}"), b('{"taskId":"a","delivery":0}')], "delivery"],
    ["headers that are not JSON", [b("{}"), b("nope")], "task headers"],
    ["a short batch", [Buffer.alloc(0), packed("a"), packed("x")], "4 frames"],
    ["a batch with fewer bodies", [Buffer.alloc(0), packed("a", "b"), packed("x"), Buffer.from([1, 1])], "2 ids but 1 bodies"],
    ["a batch with fewer counts", [Buffer.alloc(0), packed("a"), packed("x"), Buffer.alloc(0)], "delivery counts"],
  ])("a task of %s is malformed", (_name, frames, reason) => {
    const parsed = parseTask(frames);
    expect(parsed.kind).toBe("malformed");
    expect(parsed.kind === "malformed" && parsed.reason).toContain(reason);
  });

  test("replies round trip", () => {
    for (const status of [OutcomeStatus.OK, OutcomeStatus.FAILED, OutcomeStatus.RETRY]) {
      expect(parseTaskReply(encodeTaskReply({ status, body: b("x") }))).toEqual({
        kind: "outcome",
        outcome: { status, body: b("x") },
      });
    }
    const outcomes = [
      { status: OutcomeStatus.OK, body: b("1") },
      { status: OutcomeStatus.RETRY, body: b("2") },
    ];
    expect(parseTaskReply(encodeTaskBatchReply(["a", "b"], outcomes))).toEqual({ kind: "batch", ids: ["a", "b"], outcomes });
    // A plain RFC 7 worker's failure without headers is final.
    expect(parseTaskReply(buffers([b("error"), b("{}")]))).toMatchObject({ outcome: { status: OutcomeStatus.FAILED } });
    expect(parseTaskReply(buffers([b("error"), b("{}"), b('{"retry":false}')]))).toMatchObject({
      outcome: { status: OutcomeStatus.FAILED },
    });
  });

  test.each([
    ["nothing", [], "without a body"],
    ["two frames not starting with error", [b("a"), b("b")], "is [result]"],
    ["four frames", [b("error"), b("a"), b("{}"), b("{}")], "is [result]"],
    ["bad headers", [b("error"), b("a"), b("[")], "reply headers"],
    ["a batch with a broker status", [Buffer.alloc(0), packIds(["a"]), pack([Buffer.from([3])], 1)], "status 3"],
    ["a batch without outcomes", [Buffer.alloc(0), packIds(["a"])], "3 frames"],
  ])("a reply of %s is malformed", (_name, frames, reason) => {
    const parsed = parseTaskReply(frames);
    expect(parsed.kind).toBe("malformed");
    expect(parsed.kind === "malformed" && parsed.reason).toContain(reason);
  });
});

describe("packIds", () => {
  test("ASCII and UTF-8 lists pack to the records of their UTF-8 bytes", () => {
    for (const list of [["a", "bc", "x-1"], ["a", "é", "b"], ["ジョブ"], ["x".repeat(255)], []]) {
      const bytes = list.map((id) => Buffer.from(id, "utf8"));
      expect(packIds(list)).toEqual(
        pack(
          bytes,
          bytes.reduce((n, x) => n + x.length, 0),
        ),
      );
    }
  });
});
