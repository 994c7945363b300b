"""A foreign subscriber (docs/protocol.md, "Publish-subscribe, version 1") reading a typed Publisher.

usage: sub.py ENDPOINT PREFIX COUNT

Connects a SUB socket, subscribes to PREFIX (a plain libzmq byte prefix), prints {"ready": true}, reads COUNT
messages and prints {"messages": [[topic, body], ...]}. Every message must be exactly [topic, body].
"""
import sys

import zmq

from common import Deadline, context, emit, fail, text


def main():
    endpoint, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    deadline = Deadline()
    ctx = context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt_string(zmq.SUBSCRIBE, prefix)
    sock.connect(endpoint)
    emit(ready=True)
    messages = []
    while len(messages) < count:
        frames = deadline.recv(sock, f"message {len(messages) + 1} of {count}")
        if len(frames) != 2:
            fail(f"a message is not [topic, body]: {text(frames)}")
        messages.append(text(frames))
    emit(messages=messages)
    ctx.destroy()


main()
