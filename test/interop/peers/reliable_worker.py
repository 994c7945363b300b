"""A reliable-pipeline worker of a typed-zmq PipelineBroker, written from docs/protocol.md ("Reliable pipeline (1.3)",
"Workers") and RFC 7 (MDP/Worker) alone.

usage: reliable_worker.py ENDPOINT QUEUE [--capacity N [--batch [--split]]] [--name NAME] [--work-ms MS]
                          [--retry-n N] [--fail-n N] [--heartbeat-ms MS] [--liveness N] [--lifetime-s S]

Without --capacity it is a strict RFC 7 worker: READY ["", "MDPW01", 0x01, queue] (no extension frame), one task
per REQUEST ["", "MDPW01", 0x02, client, "", body, H], answered REPLY ["", "MDPW01", 0x03, client, "", result].
With --capacity it announces the capacity frame, and with --batch also "batch": then a REQUEST may be
["", ids, bodies, deliveries], answered ["", ids, outcomes] (with --split, in two REPLYs of half the ids each).

A task is {"n": int}; its result {"n": n, "square": n * n, "worker": NAME}. The task with n == --retry-n is answered
["error", failure, {"retry": true}] (deliver again); the one with n == --fail-n ["error", failure] (final).
--work-ms sleeps that long per task before answering. HEARTBEAT when nothing else was sent for --heartbeat-ms; a
broker silent for heartbeat x liveness, or its DISCONNECT, means a new socket and a new READY.

Events, one JSON line each: ready {socket, capacity, batch}, task {taskId, delivery, n, batch} per task answered,
heartbeat {count} (the first), disconnected {socket}, lost {socket, silentMs}, done {answered}.
"""
import argparse
import json
import time

import zmq

from common import context, emit, fail, text
from mdp_common import DISCONNECT, HEARTBEAT, REPLY, REQUEST, Lifetime, WorkerLink, command
from reliable_common import FAILURE, RESULT, RETRY, outcome, pack, unpack


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("queue")
    parser.add_argument("--capacity", type=int)
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--split", action="store_true")
    parser.add_argument("--name", default="python")
    parser.add_argument("--work-ms", type=float, default=0)
    parser.add_argument("--retry-n", type=int)
    parser.add_argument("--fail-n", type=int)
    parser.add_argument("--heartbeat-ms", type=int, default=250)
    parser.add_argument("--liveness", type=int, default=3)
    parser.add_argument("--lifetime-s", type=float, default=30)
    args = parser.parse_args()
    if args.batch and args.capacity is None:
        fail('"batch" comes only after a capacity frame: give --capacity')
    life = Lifetime(args.lifetime_s)
    ctx = context()
    answered = 0
    heartbeats = 0
    extension = [] if args.capacity is None else [str(args.capacity).encode()] + ([b"batch"] if args.batch else [])
    link = WorkerLink(ctx, args.endpoint, [args.queue.encode("utf-8"), *extension], args.heartbeat_ms, args.liveness,
                      on_ready=lambda n: emit(ready={"socket": n, "capacity": args.capacity, "batch": args.batch}),
                      on_lost=lambda n, ms: emit(lost={"socket": n, "silentMs": ms}),
                      on_disconnected=lambda n: emit(disconnected={"socket": n}))

    def run(body, task_id, delivery, batch):
        """One task: (status, encoded body) as an outcome."""
        nonlocal answered
        task = json.loads(body)
        n = task["n"]
        if args.work_ms > 0:
            time.sleep(args.work_ms / 1000)
        answered += 1
        emit(task={"taskId": task_id, "delivery": delivery, "n": n, "batch": batch})
        if n == args.retry_n:
            return RETRY, json.dumps({"code": "FLAKY", "message": f"task {n} fails every time"}).encode()
        if n == args.fail_n:
            return FAILURE, json.dumps({"code": "REFUSED", "message": f"task {n} is refused", "details": {"n": n}}).encode()
        return RESULT, json.dumps({"n": n, "square": n * n, "worker": args.name}).encode()

    def one_task(client, body):
        # An RFC 7 worker needs only body[0]; H (JSON {"taskId", "delivery"}) is read here for the events only.
        headers = json.loads(body[1]) if len(body) > 1 else {}
        status, encoded = run(body[0], headers.get("taskId"), headers.get("delivery"), False)
        if status == RESULT:
            reply = [encoded]
        elif status == FAILURE:
            reply = [b"error", encoded]
        else:
            reply = [b"error", encoded, json.dumps({"retry": True}).encode()]
        link.send(*command(REPLY, client, b"", *reply))

    def batch_of_tasks(client, body):
        if len(body) != 4:
            fail(f'a batch REQUEST body that is not ["", ids, bodies, deliveries]: {text(body)}')
        ids, bodies, deliveries = unpack(body[1]), unpack(body[2]), body[3]
        if not (len(ids) == len(bodies) == len(deliveries)):
            fail(f"a batch of {len(ids)} ids, {len(bodies)} bodies and {len(deliveries)} deliveries")
        outcomes = [outcome(*run(b, i.decode("utf-8"), d, True)) for i, b, d in zip(ids, bodies, deliveries)]
        parts = [(ids, outcomes)]
        if args.split and len(ids) > 1:
            half = len(ids) // 2
            parts = [(ids[:half], outcomes[:half]), (ids[half:], outcomes[half:])]
        for part_ids, part_outcomes in parts:
            link.send(*command(REPLY, client, b"", b"", pack(part_ids), pack(part_outcomes)))

    while not life.over():
        frames = link.poll(life, fail)
        if frames is None:
            continue
        code = frames[2]
        if code == REQUEST:
            client, body = frames[3], frames[5:]
            if body[0] == b"":
                if not args.batch:
                    fail(f"a batch REQUEST to a worker whose READY had no \"batch\": {text(frames)}")
                batch_of_tasks(client, body)
            else:
                one_task(client, body)
        elif code == HEARTBEAT:
            heartbeats += 1
            if heartbeats == 1:
                emit(heartbeat={"count": heartbeats})
        else:
            fail(f"the broker sent an unexpected command: {text(frames)}")
    link.send(*command(DISCONNECT))
    emit(done={"answered": answered})
    ctx.destroy(linger=200)


main()
