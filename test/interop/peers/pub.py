"""A foreign publisher (docs/protocol.md, "Publish-subscribe, version 1") feeding a typed Subscriber.

usage: pub.py ENDPOINT MESSAGES_JSON

Connects an XPUB socket (a plain publisher that also reads subscriptions) to the subscriber, waits until the first
subscription arrives (0x01 followed by the prefix), so nothing is lost to the slow-joiner race, then sends each
message of MESSAGES_JSON (lists of text frames, normally [topic, body]) and prints {"sent": n}.
"""
import json
import sys

import zmq

from common import Deadline, context, emit, encode, fail


def main():
    endpoint, messages = sys.argv[1], json.loads(sys.argv[2])
    deadline = Deadline()
    ctx = context()
    sock = ctx.socket(zmq.XPUB)
    sock.connect(endpoint)
    [subscription] = deadline.recv(sock, "a subscription")
    if subscription[:1] != b"\x01":
        fail(f"expected a subscription (0x01 + prefix), got {subscription!r}")
    emit(subscribed=subscription[1:].decode("utf-8", "replace"))
    for frames in messages:
        sock.send_multipart(encode(frames))
    emit(sent=len(messages))
    sock.close(linger=2000)  # let the queued messages go out before the process ends
    ctx.term()


main()
