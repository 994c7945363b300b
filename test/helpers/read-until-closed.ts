/**
 * The read loop of the hand-played peers in the socket tests: every message a socket receives goes to `onFrames`
 * (awaited, so a peer answers in order), until the socket is closed and its `receive()` rejects.
 */
export async function readUntilClosed(
  socket: { receive(): Promise<Buffer[]> },
  onFrames: (frames: Buffer[]) => void | Promise<void>,
): Promise<void> {
  for (;;) {
    let frames: Buffer[];
    try {
      frames = await socket.receive();
    } catch {
      return;
    }
    await onFrames(frames);
  }
}
