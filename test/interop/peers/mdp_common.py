"""What the MDP peers share: the MDP 0.1 constants (rfc.zeromq.org spec 7/MDP), a bounded lifetime, readable names.

Written from the RFC alone. Every MDP peer is a long-running process (a worker or a broker waits for work), so none
may outlive its test: each ends when its stdin closes (the test process died or closed it) or when --lifetime-s
passes, whichever comes first. Results and events go to stdout as JSON lines (common.emit).
"""
import os
import select
import sys
import time

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
