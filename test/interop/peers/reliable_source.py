"""A reliable-pipeline source of a typed-zmq PipelineBroker, written from docs/protocol.md ("Reliable pipeline (1.3)",
"Sources and sinks") alone.

usage: reliable_source.py ENDPOINT QUEUE COUNT [--per-push K] [--prefix P] [--resend-ms MS] [--twice]
                          [--timeout-s S]

One DEALER connected to the broker's frontend. Tasks {"n": i} for i in 0..COUNT-1, with ids P + i, go out in PUSHes
of K tasks: ["", "TZPC01", 0x01, queue, ids, bodies]. Each id is settled by the ACCEPTED or REJECTED that names it;
ids not settled within --resend-ms are sent again (the broker keeps one copy of an id it holds). --twice sends every
PUSH a second time at once, as a source that resends would. It exits once every id is settled.

Events: done {accepted, rejected, resent, answers, codes} (answers: ids named in all ACCEPTED/REJECTED), or error.
"""
import argparse
import json
import time

import zmq

from common import Deadline, context, emit, fail, text
from reliable_common import ACCEPTED, PUSH, REJECTED, TZPC01, pack, tzpc, unpack


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("queue")
    parser.add_argument("count", type=int)
    parser.add_argument("--per-push", type=int, default=1)
    parser.add_argument("--prefix", default="py-")
    parser.add_argument("--resend-ms", type=int, default=1000)
    parser.add_argument("--twice", action="store_true")
    parser.add_argument("--timeout-s", type=float, default=15)
    args = parser.parse_args()
    deadline = Deadline(args.timeout_s)
    ctx = context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(args.endpoint)
    queue = args.queue.encode("utf-8")
    bodies = {f"{args.prefix}{i}".encode(): json.dumps({"n": i}).encode() for i in range(args.count)}
    pending = {}  # id -> when it was last sent
    accepted, rejected, codes = set(), set(), {}
    resent = answers = 0

    def push(ids):
        message = tzpc(PUSH, queue, pack(ids), pack([bodies[i] for i in ids]))
        sock.send_multipart(message)
        if args.twice:
            sock.send_multipart(message)
        for i in ids:
            pending[i] = time.monotonic()

    order = list(bodies)
    for start in range(0, len(order), args.per_push):
        push(order[start:start + args.per_push])
    while pending:
        if sock.poll(min(100, deadline.remaining_ms()), zmq.POLLIN):
            frames = sock.recv_multipart()
            if len(frames) < 4 or frames[0] != b"" or frames[1] != TZPC01:
                fail(f"the broker sent something that is not TZPC01: {text(frames)}")
            code = frames[2]
            if code not in (ACCEPTED, REJECTED):
                fail(f"a source got a command other than ACCEPTED or REJECTED: {text(frames)}")
            ids = unpack(frames[3])
            answers += len(ids)
            for i in ids:
                if i not in bodies:
                    fail(f"the broker answered an id this source never pushed: {i!r}")
                pending.pop(i, None)
                if code == ACCEPTED:
                    accepted.add(i)
                else:
                    error = json.loads(frames[4])
                    rejected.add(i)
                    codes[error["code"]] = codes.get(error["code"], 0) + 1
        elif deadline.remaining_ms() == 0:
            fail(f"timed out with {len(pending)} tasks unanswered")
        now = time.monotonic()
        late = [i for i, at in pending.items() if (now - at) * 1000 >= args.resend_ms]
        if late:
            resent += len(late)
            push(late)
    emit(done={"accepted": len(accepted), "rejected": len(rejected), "resent": resent, "answers": answers,
               "codes": codes})
    sock.close(linger=0)
    ctx.destroy(linger=0)


main()
