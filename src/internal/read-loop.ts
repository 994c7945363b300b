/**
 * @packageDocumentation
 * The one push-style read policy: a single loop per socket (zeromq.js allows one pending `receive()`), which waits
 * for room before each read, so back-pressure stays in ZeroMQ's queues, and ends when the socket is closed.
 * Pull-style readers (`Subscriber`, `PipelineSink`) use the stream in `stream.ts` instead.
 * @internal
 */
import type * as zmq from "zeromq";

/** How a read loop behaves around each message. */
export interface ReadLoopPolicy {
  /** Returns a promise to wait on before the next read (no room yet), or undefined to read at once. */
  readonly room?: () => Promise<void> | undefined;
  /** A receive failed while the socket was still open; the loop goes on. */
  readonly onError?: (err: unknown) => void;
  /**
   * Asked after each message arrives, before it is handled: true ends the loop with that message unhandled and no
   * receive pending (the socket's poller stopped), so another thread may then use the socket (see Authenticator).
   */
  readonly stop?: () => boolean;
}

/** Reads messages from `socket` and hands each to `handle`, until the socket is closed (or `stop`). Never rejects. */
export async function readLoop(
  socket: zmq.Readable & zmq.Socket,
  handle: (frames: Buffer[]) => void,
  policy: ReadLoopPolicy = {},
): Promise<void> {
  for (;;) {
    // Only when there is no room: the common case reads at once, with no extra native call per message.
    let wait = policy.room?.();
    while (wait !== undefined) {
      if (socket.closed) return;
      await wait;
      wait = policy.room?.();
    }
    let frames: Buffer[];
    try {
      // A closed socket rejects receive(): that ends the loop.
      frames = await socket.receive();
    } catch (err) {
      if (socket.closed) return;
      policy.onError?.(err);
      // Yield to the event loop before the next try, so a failure that repeats cannot starve everything else.
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    if (policy.stop?.() === true) return;
    handle(frames);
  }
}
