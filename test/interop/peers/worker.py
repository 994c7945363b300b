"""A foreign pipeline worker (docs/protocol.md, "Pipeline, version 1") between a typed PipelineSource and
PipelineSink.

usage: worker.py TASKS_ENDPOINT RESULTS_ENDPOINT COUNT

Connects a PULL socket to the source and a PUSH socket to the sink, prints {"ready": true}, then handles COUNT
tasks and prints {"handled": COUNT}. A task is [body] with {"n": integer}; the result is [body] with
{"n", "square", "worker": "python"}. A task with a negative n gets the failure result
["error", {"code": "NEGATIVE", "message", "details"}]; a task that is not one JSON frame gets MALFORMED.
"""
import json
import sys

import zmq

from common import Deadline, context, emit


def handle(frames):
    if len(frames) != 1:
        return {"code": "MALFORMED", "message": f"a task is one frame, got {len(frames)}"}, None
    try:
        n = json.loads(frames[0])["n"]
    except (ValueError, KeyError, TypeError) as err:
        return {"code": "MALFORMED", "message": f"the task is not {{\"n\": integer}}: {err}"}, None
    if n < 0:
        return {"code": "NEGATIVE", "message": f"n must be >= 0, got {n}", "details": {"n": n}}, None
    return None, {"n": n, "square": n * n, "worker": "python"}


def main():
    tasks_endpoint, results_endpoint, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    deadline = Deadline()
    ctx = context()
    tasks, results = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    tasks.connect(tasks_endpoint)
    results.connect(results_endpoint)
    emit(ready=True)
    for i in range(count):
        error, result = handle(deadline.recv(tasks, f"task {i + 1} of {count}"))
        if error is not None:
            results.send_multipart([b"error", json.dumps(error).encode()])
        else:
            results.send(json.dumps(result).encode())
    emit(handled=count)
    results.close(linger=2000)  # let the results go out before the process ends
    tasks.close()
    ctx.term()


main()
