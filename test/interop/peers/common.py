"""What every peer shares: results as JSON lines on stdout, one bounded deadline, frames shown as text.

The peers are written from docs/protocol.md alone, as a user of another language would write them. Each runs as its
own process, started by test/interop/python.test.ts, and ends by itself: on success after printing its result, on
any unexpected frame or when its deadline passes with exit code 2 and an {"error": ...} line.
"""
import json
import sys
import time

import zmq


def emit(**fields):
    """Prints one JSON object on one line (the test reads stdout line by line)."""
    print(json.dumps(fields), flush=True)


def fail(message):
    emit(error=message)
    sys.exit(2)


def text(frames):
    """Frames as strings; bytes that are not UTF-8 survive as escaped surrogates."""
    return [frame.decode("utf-8", "surrogateescape") for frame in frames]


def encode(frames):
    return [frame.encode("utf-8") for frame in frames]


class Deadline:
    """One time limit for the whole peer, so that no wait can hang the test."""

    def __init__(self, seconds=4.0):
        self.end = time.monotonic() + seconds

    def remaining_ms(self):
        return max(0, int((self.end - time.monotonic()) * 1000))

    def recv(self, sock, what):
        if sock.poll(self.remaining_ms(), zmq.POLLIN) == 0:
            fail(f"timed out waiting for {what}")
        return sock.recv_multipart()


def context():
    ctx = zmq.Context()
    ctx.setsockopt(zmq.LINGER, 0)
    return ctx
