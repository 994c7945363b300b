"""What the MDP peers share: the MDP 0.1 constants (rfc.zeromq.org spec 7/MDP), a bounded lifetime, readable names.

Written from the RFC alone. Every MDP peer is a long-running process (a worker or a broker waits for work), so none
may outlive its test: each ends when its stdin closes (the test process died or closed it) or when --lifetime-s
passes, whichever comes first. Results and events go to stdout as JSON lines (common.emit).
"""
import os
import select
import sys
import time

import zmq

MDPC01 = b"MDPC01"
MDPW01 = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
COMMAND_NAMES = {READY: "READY", REQUEST: "REQUEST", REPLY: "REPLY", HEARTBEAT: "HEARTBEAT", DISCONNECT: "DISCONNECT"}


def now_ms():
    return time.monotonic() * 1000.0


def command(code, *frames):
    """An MDP/Worker command as a DEALER sends it: ["", "MDPW01", code, ...frames]."""
    return [b"", MDPW01, code, *frames]


def readable(identity):
    """A peer's routing id as text when it is printable ASCII, else as hex (libzmq's generated ids start with 0x00)."""
    if identity and all(0x21 <= b < 0x7F for b in identity):
        return identity.decode("ascii")
    return "0x" + identity.hex()


class Lifetime:
    """Ends the peer when stdin closes or after `seconds`. `lines()` returns the JSON-line commands read from stdin."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds
        self.closed = False
        self._pending = b""

    def over(self):
        return self.closed or time.monotonic() >= self.end

    def remaining_ms(self):
        return max(0, int((self.end - time.monotonic()) * 1000))

    def fileno(self):
        return sys.stdin.fileno()

    def lines(self):
        """Reads what stdin has now (call when poll says it is readable); sets `closed` at end of file."""
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], 0)
        if not ready:
            return []
        chunk = os.read(sys.stdin.fileno(), 65536)
        if chunk == b"":
            self.closed = True
            return []
        self._pending += chunk
        *complete, self._pending = self._pending.split(b"\n")
        return [line.decode("utf-8") for line in complete if line.strip()]


class WorkerLink:
    """An MDP/Worker link as RFC 7 describes it: one DEALER, READY on every new socket, HEARTBEAT when nothing else
    was sent for heartbeat_ms, a new socket when the broker is silent for heartbeat_ms x liveness or sends
    DISCONNECT. `on_ready(number)`, `on_lost(number, silent_ms)` and `on_disconnected(number)` report each new
    socket, each silence and each DISCONNECT (after which poll() has opened a new socket and returns None)."""

    def __init__(self, ctx, endpoint, ready_frames, heartbeat_ms, liveness, on_ready, on_lost, on_disconnected):
        self.ctx, self.endpoint, self.ready_frames = ctx, endpoint, ready_frames
        self.heartbeat_ms, self.liveness, self.on_ready, self.on_lost = heartbeat_ms, liveness, on_ready, on_lost
        self.on_disconnected = on_disconnected
        self.socket, self.number, self.sent, self.heard = None, 0, 0.0, 0.0
        self.open()

    def send(self, *frames):
        self.socket.send_multipart(list(frames))
        self.sent = now_ms()

    def open(self):
        """A new socket (closing the old one) and READY on it."""
        if self.socket is not None:
            self.socket.close(linger=0)
        self.socket = self.ctx.socket(zmq.DEALER)
        self.socket.connect(self.endpoint)
        self.number, self.heard = self.number + 1, now_ms()
        self.send(*command(READY, *self.ready_frames))
        self.on_ready(self.number)

    def poll(self, life, fail):
        """The broker's next command as frames (checked to be MDP/Worker), or None after a short wait; heartbeats
        and silence are handled here. `fail(message)` is called for anything that is not MDP/Worker."""
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        poller.register(life.fileno(), zmq.POLLIN)
        events = dict(poller.poll(min(max(10, self.heartbeat_ms // 4), life.remaining_ms())))
        if life.fileno() in events:
            life.lines()
        frames = None
        if self.socket in events:
            frames = self.socket.recv_multipart()
            self.heard = now_ms()
            if len(frames) < 3 or frames[0] != b"" or frames[1] != MDPW01:
                fail(f"the broker sent something that is not MDP/Worker: {frames!r}")
            if frames[2] == REQUEST and (len(frames) < 6 or frames[4] != b""):
                fail(f'a REQUEST that is not ["", MDPW01, 0x02, client, "", ...body]: {frames!r}')
            if frames[2] == DISCONNECT:
                if len(frames) != 3:
                    fail(f'a DISCONNECT that is not exactly ["", MDPW01, 0x05] (RFC 7): {frames!r}')
                self.on_disconnected(self.number)
                self.open()
                return None
        at = now_ms()
        if at - self.heard > self.heartbeat_ms * self.liveness:
            self.on_lost(self.number, int(at - self.heard))
            self.open()
        elif at - self.sent >= self.heartbeat_ms:
            self.send(*command(HEARTBEAT))
        return frames
