"""A reliable-pipeline sink of a typed-zmq PipelineBroker, written from docs/protocol.md ("Reliable pipeline (1.3)",
"Sources and sinks") alone.

usage: reliable_sink.py ENDPOINT QUEUE COUNT [--window W] [--take-every K] [--heartbeat-ms MS] [--liveness N]
                        [--lifetime-s S]

One DEALER connected to the broker's frontend. It sends FETCH ["", "TZPC01", 0x04, queue, window] and reads RESULTS
["", "TZPC01", 0x05, queue, ids, outcomes]. Each outcome is "taken" by this program (recorded once by task id; a
repeat is counted, not recorded) and then acknowledged with TAKEN ["", "TZPC01", 0x06, queue, ids], in groups of
--take-every ids, or all it holds once nothing arrived for 50 ms. It checks that it never holds more than the window.
HEARTBEAT when nothing else was sent for --heartbeat-ms; a DISCONNECT from the broker, or a broker silent for
heartbeat x liveness, means FETCH again. It ends with DISCONNECT once COUNT distinct tasks are taken.

Events: fetch {count, window} per FETCH sent, disconnected {count}, progress {unique} every 10 distinct tasks,
done {unique, repeats, maxHeld, outcomes: {taskId: [status, body]}, heartbeats}, or error.
"""
import argparse
import json

import zmq

from common import context, emit, fail, text
from mdp_common import Lifetime, now_ms
from reliable_common import DISCONNECT, FETCH, HEARTBEAT, RESULTS, TAKEN, TZPC01, pack, tzpc, unpack


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("queue")
    parser.add_argument("count", type=int)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--take-every", type=int, default=1)
    parser.add_argument("--heartbeat-ms", type=int, default=250)
    parser.add_argument("--liveness", type=int, default=3)
    parser.add_argument("--lifetime-s", type=float, default=30)
    args = parser.parse_args()
    life = Lifetime(args.lifetime_s)
    ctx = context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(args.endpoint)
    queue = args.queue.encode("utf-8")
    state = {"sent": 0.0, "heard": now_ms(), "arrived": now_ms()}
    outcomes = {}  # taskId -> [status, decoded body]
    held = []  # ids taken by "user code" and not yet acknowledged
    repeats = max_held = heartbeats = fetches = disconnects = 0

    def send(frames):
        sock.send_multipart(frames)
        state["sent"] = now_ms()

    def fetch():
        nonlocal fetches
        held.clear()  # a new FETCH starts a new window; outcomes not acknowledged come again
        send(tzpc(FETCH, queue, str(args.window).encode()))
        fetches += 1
        emit(fetch={"count": fetches, "window": args.window})

    def acknowledge():
        if held:
            send(tzpc(TAKEN, queue, pack(held)))
            held.clear()

    fetch()
    while not life.over() and len(outcomes) < args.count:
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(life.fileno(), zmq.POLLIN)
        events = dict(poller.poll(min(max(10, args.heartbeat_ms // 4), 50, life.remaining_ms())))
        if life.fileno() in events:
            life.lines()
        if sock in events:
            frames = sock.recv_multipart()
            state["heard"] = now_ms()
            if len(frames) < 3 or frames[0] != b"" or frames[1] != TZPC01:
                fail(f"the broker sent something that is not TZPC01: {text(frames)}")
            code = frames[2]
            if code == RESULTS:
                if len(frames) != 6 or frames[3] != queue:
                    fail(f'RESULTS that is not ["", TZPC01, 0x05, {args.queue}, ids, outcomes]: {text(frames)}')
                ids, records = unpack(frames[4]), unpack(frames[5])
                if len(ids) != len(records) or not ids:
                    fail(f"RESULTS with {len(ids)} ids and {len(records)} outcomes")
                for raw_id, record in zip(ids, records):
                    task_id = raw_id.decode("utf-8")
                    if record[0] not in (0, 1, 3):
                        fail(f"an outcome with status {record[0]} reached a sink (task {task_id})")
                    if task_id in outcomes:
                        repeats += 1
                    else:
                        outcomes[task_id] = [record[0], json.loads(record[1:])]
                        if len(outcomes) % 10 == 0:
                            emit(progress={"unique": len(outcomes)})
                    held.append(raw_id)
                max_held = max(max_held, len(held))
                if len(held) > args.window:
                    fail(f"the broker sent {len(held)} outcomes not yet taken, past the window of {args.window}")
                state["arrived"] = now_ms()
                if len(held) >= args.take_every:
                    acknowledge()
            elif code == HEARTBEAT:
                heartbeats += 1
            elif code == DISCONNECT:
                disconnects += 1
                emit(disconnected={"count": disconnects})
                fetch()
            else:
                fail(f"a sink got a command other than RESULTS, HEARTBEAT or DISCONNECT: {text(frames)}")
        at = now_ms()
        if held and at - state["arrived"] >= 50:
            acknowledge()
        if at - state["heard"] > args.heartbeat_ms * args.liveness:
            state["heard"] = at
            fetch()
        elif at - state["sent"] >= args.heartbeat_ms:
            send(tzpc(HEARTBEAT))
    acknowledge()
    send(tzpc(DISCONNECT))
    emit(done={"unique": len(outcomes), "repeats": repeats, "maxHeld": max_held, "outcomes": outcomes,
               "heartbeats": heartbeats, "fetches": fetches})
    ctx.destroy(linger=500)


main()
