"""A foreign CURVE client (docs/protocol.md, "RPC, version 1", over CURVE), and pyzmq's certificate writer.

usage:
  curve_client.py keygen DIR NAME
      zmq.auth.create_certificates(DIR, NAME): writes DIR/NAME.key and DIR/NAME.key_secret (with the process umask)
      and prints {"created": {"public": path, "secret": path}}.
  curve_client.py call ENDPOINT CLIENT_SECRET_FILE SERVER_PUBLIC_FILE CALLS_JSON [WAIT_MS]
      A DEALER with CURVE_SECRETKEY and CURVE_PUBLICKEY from its secret certificate and CURVE_SERVERKEY from the
      server's public certificate (both read with zmq.auth.load_certificate) makes the calls one at a time, each
      sent as ["", method, body], and prints {"replies": [[status, body], ...]}.
      With WAIT_MS, a client that expects to be refused: it sends every call at once, waits WAIT_MS for anything at
      all and prints {"received": N} (N frames sets received), then exits 0.
"""
import json
import os
import sys
import time

import zmq
import zmq.auth

from common import Deadline, context, emit, encode, fail, text


def keygen(directory, name):
    os.makedirs(directory, exist_ok=True)
    public, secret = zmq.auth.create_certificates(directory, name)
    emit(created={"public": str(public), "secret": str(secret)})


def curve_dealer(ctx, client_secret_file, server_public_file):
    public, secret = zmq.auth.load_certificate(client_secret_file)
    if secret is None:
        fail(f"{client_secret_file} holds no secret key")
    server_public, _ = zmq.auth.load_certificate(server_public_file)
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_public)
    return sock


def call(endpoint, client_secret_file, server_public_file, calls, wait_ms):
    ctx = context()
    sock = curve_dealer(ctx, client_secret_file, server_public_file)
    sock.connect(endpoint)
    if wait_ms is None:
        deadline = Deadline()
        replies = []
        for method, body in calls:
            sock.send_multipart([b""] + encode([method, body]))
            reply = deadline.recv(sock, f"the reply to {method!r}")
            if len(reply) == 0 or reply[0] != b"":
                fail(f"the reply to {method!r} does not start with the empty delimiter: {text(reply)}")
            replies.append(text(reply[1:]))
        emit(replies=replies)
    else:
        for method, body in calls:
            # Never blocks: without a completed handshake the messages wait in the pipe (or are dropped at close).
            try:
                sock.send_multipart([b""] + encode([method, body]), zmq.NOBLOCK)
            except zmq.Again:
                pass
        received = 0
        end = time.monotonic() + wait_ms / 1000
        while (left := end - time.monotonic()) > 0:
            if sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                sock.recv_multipart()
                received += 1
        emit(received=received)
    ctx.destroy()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "keygen":
        keygen(sys.argv[2], sys.argv[3])
    elif mode == "call":
        endpoint, client_secret, server_public, calls = sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
        wait_ms = int(sys.argv[6]) if len(sys.argv) > 6 else None
        call(endpoint, client_secret, server_public, calls, wait_ms)
    else:
        fail(f"unknown mode {mode!r}: use keygen or call")


main()
