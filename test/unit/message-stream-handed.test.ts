// MessageStream's `handed` hook (src/internal/stream.ts): called once per item receive() or the iterator hands out,
// never for take() (collect decides itself) nor for an item a timed-out wait leaves behind. Fed by a Channel.
import { describe, expect, test } from "vitest";
import { Channel } from "../../src/internal/channel.js";
import { ClosedError, TimeoutError } from "../../src/errors/index.js";
import { Many, MessageStream } from "../../src/internal/stream.js";

function streamOf(handed: number[]): {
  channel: Channel<number[]>;
  stream: MessageStream<number, "bad", { reason: "bad" }, number[]>;
} {
  const channel = new Channel<number[]>();
  const stream = new MessageStream<number, "bad", { reason: "bad" }, number[]>(
    channel,
    (batch) => new Many(batch),
    ["bad"],
    undefined,
    (item) => handed.push(item),
  );
  return { channel, stream };
}

const place = { what: "test", endpoint: "inproc://x", waitingFor: "items", hint: "none" };
const closed = (): ClosedError => new ClosedError("closed");

describe("MessageStream handed hook", () => {
  test("the iterator and receive() report each item once, in order, as they hand it out", async () => {
    const handed: number[] = [];
    const { channel, stream } = streamOf(handed);
    channel.push([1, 2, 3]);
    const it = stream.iterator();
    expect((await it.next()).value).toBe(1);
    expect(handed).toEqual([1]); // the stashed 2 and 3 are not handed yet
    expect(await stream.receive(undefined, () => place, closed)).toBe(2);
    expect(await stream.receive({ timeoutMs: 1_000 }, () => place, closed)).toBe(3);
    expect(handed).toEqual([1, 2, 3]);
    const waiting = stream.receive({ timeoutMs: 5_000 }, () => place, closed); // a waiter, resolved by a push
    channel.push([4]);
    expect(await waiting).toBe(4);
    expect(handed).toEqual([1, 2, 3, 4]);
    stream.end();
    channel.end();
  });

  test("take() never reports, and a wait that times out leaves its item unreported for the next reader", async () => {
    const handed: number[] = [];
    const { channel, stream } = streamOf(handed);
    await expect(stream.receive({ timeoutMs: 20 }, () => place, closed)).rejects.toBeInstanceOf(TimeoutError);
    channel.push([7, 8]);
    const taken = await stream.take({ place });
    expect(taken.value).toBe(7);
    expect(handed).toEqual([]);
    expect(await stream.receive(undefined, () => place, closed)).toBe(8);
    expect(handed).toEqual([8]);
    stream.end();
    channel.end();
  });
});
