/**
 * Flood-test role: a hostile peer. `sockets` raw zeromq.js DEALERs, each its own connection, send valid-shaped
 * requests of the fault contract (`work`, 1 s of handler time each) whose body is padded to `bytes`, as fast as
 * libzmq takes them, and reconnect when the server drops them. Prints `ready`, then an `event` line every second:
 * `{ type: "flood", sent, disconnects, replies }`. Stdin: `stop`.
 */
import * as zmq from "zeromq";
import { control, emit, fail, settings } from "../../fault/harness/emit.js";
import type { FlooderSettings } from "../harness/settings.js";

const config = settings() as FlooderSettings;
try {
  const counts = { sent: 0, disconnects: 0, replies: 0 };
  const state = { stopping: false };
  const head = '{"id":"flood","ms":1000,"pad":"';
  const body = Buffer.alloc(config.bytes, 0x78);
  body.write(head, 0);
  body.write('"}', config.bytes - 2);
  const sockets = Array.from({ length: config.sockets }, () => {
    const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: 4, reconnectInterval: 10, reconnectMaxInterval: 100 });
    socket.events.on("disconnect", () => counts.disconnects++);
    socket.connect(config.endpoint);
    return socket;
  });
  const report = setInterval(() => emit({ type: "event", event: { type: "flood", ...counts } }), 1_000);
  control(config.lifeMs, () => {
    if (state.stopping) return;
    state.stopping = true;
    clearInterval(report);
    emit({ type: "event", event: { type: "flood", ...counts } });
    for (const socket of sockets) socket.close();
    process.exit(0);
  });
  emit({ type: "ready", endpoints: [config.endpoint], pid: process.pid });
  for (const socket of sockets) {
    void (async () => {
      while (!state.stopping) {
        try {
          await socket.send([Buffer.alloc(0), "work", body]);
          counts.sent++;
        } catch {
          if (socket.closed) return;
        }
      }
    })();
    void (async () => {
      for (;;) {
        try {
          await socket.receive();
          counts.replies++;
        } catch {
          if (socket.closed) return;
        }
      }
    })();
  }
} catch (err) {
  fail(err);
}
