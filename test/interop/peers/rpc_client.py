"""A foreign RPC client (docs/protocol.md, "RPC, version 1").

usage: rpc_client.py req|dealer|dealer-inflight ENDPOINT CALLS_JSON

CALLS_JSON is a list of calls, each the list of text frames that follow the delimiter: [method, body] (or, in
protocol 1.1, [method, body, headers]). The client connects, makes the calls and prints
{"replies": [[status, body, ...], ...]} in call order.

- req: a REQ socket, one call at a time. REQ adds the empty delimiter itself and removes it from the reply.
- dealer: a DEALER socket, one call at a time, sending ["", method, body]; the reply must be ["", status, body].
- dealer-inflight: a DEALER socket with a correlation frame: every call is sent at once as [id, "", method, body],
  then the replies [id, "", status, body] are matched to the calls by id, in whatever order they come.
"""
import json
import sys

import zmq

from common import Deadline, context, emit, encode, fail, text


def main():
    mode, endpoint, calls = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    deadline = Deadline()
    ctx = context()
    sock = ctx.socket(zmq.REQ if mode == "req" else zmq.DEALER)
    sock.connect(endpoint)
    replies = []
    if mode == "req":
        for call in calls:
            sock.send_multipart(encode(call))
            replies.append(text(deadline.recv(sock, f"the reply to {call[0]!r}")))
    elif mode == "dealer":
        for call in calls:
            sock.send_multipart([b""] + encode(call))
            reply = deadline.recv(sock, f"the reply to {call[0]!r}")
            if len(reply) == 0 or reply[0] != b"":
                fail(f"the reply to {call[0]!r} does not start with the empty delimiter: {text(reply)}")
            replies.append(text(reply[1:]))
    elif mode == "dealer-inflight":
        for i, call in enumerate(calls):
            sock.send_multipart([f"call-{i}".encode()] + [b""] + encode(call))
        by_id = {}
        while len(by_id) < len(calls):
            reply = deadline.recv(sock, f"{len(calls) - len(by_id)} more replies")
            if len(reply) < 2 or reply[1] != b"":
                fail(f"a reply is not [id, \"\", status, body]: {text(reply)}")
            call_id = reply[0].decode()
            if call_id in by_id or not call_id.startswith("call-"):
                fail(f"a reply carries an unknown or repeated correlation frame: {text(reply)}")
            by_id[call_id] = text(reply[2:])
        replies = [by_id[f"call-{i}"] for i in range(len(calls))]
    else:
        fail(f"unknown mode {mode!r}: use req, dealer or dealer-inflight")
    emit(replies=replies)
    ctx.destroy()


main()
