"""A foreign RPC client sending call batches (docs/protocol.md, "Call batches (1.4, opt-in)").

usage: rpc_batch_client.py ENDPOINT CALLS_JSON

CALLS_JSON is a list of calls, each [method, body] as text. The client connects a DEALER and first asks the server
whether it reads batches: one ordinary request [corr, "", method, body, {"batch": true}], whose reply must end with a
headers frame holding "batch": true. Then it sends every call in one batch,

    [b"B1", "", "$batch", calls]    calls = records [u32 length][record], each record = packed [id, method, body]

and reads reply batches [b"B1", "", "$batch", replies] (each reply record packed [id, status, body, headers?])
until every call is answered, in however many reply batches the server sends. Prints {"announced": ...},
{"replyBatches": n} and {"replies": [[status, body], ...]} (in call order), one line each.
"""
import json
import struct
import sys

import zmq

from common import Deadline, context, emit, fail


def pack(parts):
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def unpack(frame):
    parts, at = [], 0
    while at < len(frame):
        if at + 4 > len(frame):
            fail(f"a packed frame whose lengths do not add up: {frame!r}")
        (length,) = struct.unpack_from(">I", frame, at)
        end = at + 4 + length
        if end > len(frame):
            fail(f"a packed frame whose lengths do not add up: {frame!r}")
        parts.append(frame[at + 4 : end])
        at = end
    return parts


def main():
    endpoint, calls = sys.argv[1], json.loads(sys.argv[2])
    deadline = Deadline()
    ctx = context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(endpoint)

    method, body = calls[0]
    sock.send_multipart([b"ask", b"", method.encode(), body.encode(), json.dumps({"batch": True}).encode()])
    reply = deadline.recv(sock, "the reply to the request that asks")
    if len(reply) != 5 or reply[0] != b"ask" or reply[1] != b"":
        fail(f"the reply to the asking request is not [corr, '', status, body, headers]: {reply!r}")
    announced = json.loads(reply[4]).get("batch") is True

    ids = [f"c{i}".encode() for i in range(len(calls))]
    records = [pack([ids[i], m.encode(), b.encode()]) for i, (m, b) in enumerate(calls)]
    sock.send_multipart([b"B1", b"", b"$batch", pack(records)])

    answers = {}
    batches = 0
    while len(answers) < len(calls):
        frames = deadline.recv(sock, f"reply batches ({len(answers)} of {len(calls)} replies so far)")
        if len(frames) != 4 or frames[0] != b"B1" or frames[1] != b"" or frames[2] != b"$batch":
            fail(f"not a reply batch [B1, '', '$batch', replies]: {frames!r}")
        batches += 1
        for record in unpack(frames[3]):
            parts = unpack(record)
            if len(parts) not in (3, 4) or parts[0] not in ids:
                fail(f"a reply record that is not packed [id, status, body, headers?] for a call sent: {parts!r}")
            answers[parts[0]] = [parts[1].decode(), json.loads(parts[2])]
    emit(announced=announced)
    emit(replyBatches=batches)
    emit(replies=[answers[i] for i in ids])
    ctx.destroy()


if __name__ == "__main__":
    main()
