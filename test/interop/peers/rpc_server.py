"""A foreign RPC server (docs/protocol.md, "RPC, version 1") that a typed RpcClient calls.

usage: rpc_server.py COUNT

Binds a ROUTER to an ephemeral tcp port on 127.0.0.1, prints {"endpoint": ...}, answers COUNT requests, then prints
{"served": [{"method": ..., "frames": n}, ...]} (n: frames after the delimiter) and exits.

Methods (those of the test's contract): echo returns its request; getOrder returns {id, total}, or the application
error NOT_FOUND for id 404; whoami returns a value that breaks the client's response schema; any other method gets
UNKNOWN_METHOD. A request is [...envelope, "", method, body]; the reply copies the envelope and the delimiter.
A third frame after the body is a protocol 1.1 headers frame, which this server ignores.
"""
import json
import sys

import zmq

from common import Deadline, context, emit, fail


def answer(method, request):
    if method == "echo":
        return "ok", request
    if method == "getOrder":
        if request.get("id") == 404:
            return "error", {"code": "NOT_FOUND", "message": "no order 404", "details": {"id": 404}}
        return "ok", {"id": request["id"], "total": request["id"] * 1.5}
    if method == "whoami":
        return "ok", {"server": 42}  # the contract says a string
    return "error", {"code": "UNKNOWN_METHOD", "message": f"no method {method!r}", "details": {"known": ["echo", "getOrder", "whoami"]}}


def main():
    count = int(sys.argv[1])
    deadline = Deadline(8.0)
    ctx = context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind("tcp://127.0.0.1:*")
    emit(endpoint=sock.getsockopt_string(zmq.LAST_ENDPOINT))
    served = []
    while len(served) < count:
        frames = deadline.recv(sock, f"request {len(served) + 1} of {count}")
        if b"" not in frames:
            fail(f"a request without an empty delimiter frame: {frames}")
        end = frames.index(b"")
        envelope, rest = frames[: end + 1], frames[end + 1 :]
        if len(rest) not in (2, 3):
            status, body = "error", {"code": "MALFORMED", "message": f"expected [method, body], got {len(rest)} frames"}
        else:
            try:
                method, request = rest[0].decode("utf-8"), json.loads(rest[1])
                status, body = answer(method, request)
            except (UnicodeDecodeError, ValueError) as err:
                method = None
                status, body = "error", {"code": "MALFORMED", "message": str(err)}
        served.append({"method": method if len(rest) in (2, 3) else None, "frames": len(rest)})
        sock.send_multipart(envelope + [status.encode(), json.dumps(body).encode()])
    emit(served=served)
    ctx.destroy()


if __name__ == "__main__":
    main()
