"""A plain MDP 0.1 client (rfc.zeromq.org 7/MDP, with 8/MMI), written from the RFCs: one REQ socket.

usage: mdp_client.py ENDPOINT REQUESTS_JSON [--timeout-ms MS]

REQUESTS_JSON is a list of requests, each [service, ...body frames]; a frame is a string (sent as UTF-8) or
{"hex": "..."} for arbitrary bytes. An MMI query is a request like any other: ["mmi.service", "echo.v1"].
For each request in turn the client sends ["MDPC01", service, ...body] (REQ adds the empty frame) and waits up to
--timeout-ms for ["MDPC01", service, ...reply]. A reply whose header or service is wrong is a failure (exit 2).
After a timeout it closes the socket and opens a new one (a REQ socket cannot send again before a reply) and goes
on with the next request.

Prints {"reply": {...}} for each request and then {"replies": [...]}, each {service, body, hex, ms} (body: the
reply frames as text; hex: the same frames as hex; ms: how long it waited) or {service, timeout: true, ms}.
"""
import argparse
import json
import time

import zmq

from common import context, emit, fail, text
from mdp_common import MDPC01


def frame(value):
    return bytes.fromhex(value["hex"]) if isinstance(value, dict) else value.encode("utf-8")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("requests")
    parser.add_argument("--timeout-ms", type=int, default=3000)
    args = parser.parse_args()
    ctx = context()

    def open_socket():
        sock = ctx.socket(zmq.REQ)
        sock.connect(args.endpoint)
        return sock

    sock = open_socket()
    replies = []
    for request in json.loads(args.requests):
        service, body = request[0], [frame(f) for f in request[1:]]
        started = time.monotonic()
        sock.send_multipart([MDPC01, service.encode("utf-8"), *body])
        if sock.poll(args.timeout_ms, zmq.POLLIN) == 0:
            result = {"service": service, "timeout": True, "ms": int((time.monotonic() - started) * 1000)}
            sock.close(linger=0)
            sock = open_socket()
        else:
            reply = sock.recv_multipart()
            ms = int((time.monotonic() - started) * 1000)
            if len(reply) < 3 or reply[0] != MDPC01 or reply[1] != service.encode("utf-8"):
                fail(f"the reply to a request for {service!r} is not [\"MDPC01\", {service!r}, ...body]: {text(reply)}")
            result = {"service": service, "body": text(reply[2:]), "hex": [f.hex() for f in reply[2:]], "ms": ms}
        emit(reply=result)
        replies.append(result)
    emit(replies=replies)
    ctx.destroy()


main()
