"""A minimal MDP 0.1 broker (rfc.zeromq.org 7/MDP, with 8/MMI), written from the RFCs, against which a typed-zmq
server in worker mode is tested.

usage: mdp_broker.py [--heartbeat-ms MS] [--liveness N] [--service-wait-ms MS] [--lifetime-s S]

Binds two ROUTERs on ephemeral tcp ports of 127.0.0.1 (the RFC allows one socket or two) and prints
{"endpoints": {"frontend": ..., "backend": ...}}. A strict MDP broker: it knows nothing of typed-zmq's extensions,
ignores frames a command does not define, and gives each worker one request at a time.

- Clients (frontend): [client, "", "MDPC01", service, ...body]. Requests wait in a per-service queue for a free
  worker; a request for a service no worker serves is dropped after --service-wait-ms (the RFC says "expire", with
  no reply defined). mmi.service answers "200" or "404"; any other mmi.* answers "501".
- Workers (backend): READY registers; REQUEST goes to the least recently used free worker of the service; REPLY goes
  back to the client as [client, "", "MDPC01", service, ...body]. Every --heartbeat-ms the broker sends HEARTBEAT to
  each worker it sent nothing else to in that interval. A worker silent for liveness x heartbeat is evicted (its
  request in flight goes back to the front of the queue: MDP workers are idempotent) and sent nothing more.
- Protocol errors (a second READY, READY for mmi.*, any command but READY or DISCONNECT from an unknown worker, a
  REQUEST from a worker, a REPLY with nothing in flight or the wrong client address) get DISCONNECT, and the worker
  is forgotten. Messages that are not MDP/Worker at all are dropped.

Events, one JSON line each: ready {worker, service, extra}, heartbeat {worker, count, extra}, evicted {worker,
service, silentMs}, disconnect {worker, reason} (sent by the broker), gone {worker} (the worker's DISCONNECT),
forwarded {service, worker}, replied {service, worker}, expired {service}, dropped {reason}.

Commands on stdin, one JSON object a line, to test a worker's recovery:
- {"mute": worker}: from now on, drop everything that routing id sends (as if its outbound link were cut); the
  broker keeps heartbeating it until it evicts it, then sends it nothing.
- {"disconnect": worker}: send that worker DISCONNECT and forget it.
"""
import argparse
import collections
import json

import zmq

from common import context, emit, text
from mdp_common import (
    COMMAND_NAMES,
    DISCONNECT,
    HEARTBEAT,
    MDPC01,
    MDPW01,
    READY,
    REPLY,
    REQUEST,
    Lifetime,
    command,
    now_ms,
    readable,
)


class Worker:
    def __init__(self, identity, service, at):
        self.identity = identity
        self.name = readable(identity)
        self.service = service
        self.heard = at  # last time anything came from it
        self.sent = at  # last time anything went to it
        self.job = None  # (client, body) in flight
        self.heartbeats = 0


class Broker:
    def __init__(self, args):
        self.heartbeat_ms = args.heartbeat_ms
        self.expiry_ms = args.heartbeat_ms * args.liveness
        self.service_wait_ms = args.service_wait_ms
        ctx = context()
        self.ctx = ctx
        self.frontend = ctx.socket(zmq.ROUTER)
        self.backend = ctx.socket(zmq.ROUTER)
        self.frontend.bind("tcp://127.0.0.1:*")
        self.backend.bind("tcp://127.0.0.1:*")
        self.workers = {}  # identity -> Worker
        self.free = collections.defaultdict(collections.deque)  # service -> deque of free Workers (LRU first)
        self.queues = collections.defaultdict(collections.deque)  # service -> deque of (client, body, queued_at)
        self.muted = set()
        self.names = {}  # readable name -> identity (for the stdin commands)

    # -- sending ------------------------------------------------------------------------------------------------
    def send_worker(self, worker, code, *frames):
        self.backend.send_multipart([worker.identity, *command(code, *frames)])
        worker.sent = now_ms()

    def reply_client(self, client, service, body):
        self.frontend.send_multipart([client, b"", MDPC01, service.encode("utf-8"), *body])

    # -- workers ------------------------------------------------------------------------------------------------
    def forget(self, worker):
        """Removes a worker; its request in flight goes back to the front of its service's queue."""
        self.workers.pop(worker.identity, None)
        queue = self.free.get(worker.service)
        if queue is not None and worker in queue:
            queue.remove(worker)
        if worker.job is not None:
            client, body = worker.job
            self.queues[worker.service].appendleft((client, body, now_ms()))
            worker.job = None

    def disconnect(self, identity, reason):
        self.backend.send_multipart([identity, *command(DISCONNECT)])
        emit(disconnect={"worker": readable(identity), "reason": reason})
        worker = self.workers.get(identity)
        if worker is not None:
            self.forget(worker)

    def on_backend(self, frames):
        identity, rest = frames[0], frames[1:]
        if identity in self.muted:
            return
        if len(rest) < 3 or rest[0] != b"" or rest[1] != MDPW01 or rest[2] not in COMMAND_NAMES:
            emit(dropped={"reason": "not an MDP/Worker command", "frames": text(rest)})
            return
        code, args = rest[2], rest[3:]
        worker = self.workers.get(identity)
        self.names[readable(identity)] = identity
        if worker is not None:
            worker.heard = now_ms()  # any command acts as a heartbeat
        if code == READY:
            service = args[0].decode("utf-8", "replace") if args else ""
            if worker is not None:
                self.disconnect(identity, "a second READY")
            elif service == "":
                self.disconnect(identity, "READY without a service name")
            elif service.startswith("mmi."):
                self.disconnect(identity, f"READY for {service}: the mmi. namespace belongs to the broker")
            else:
                worker = Worker(identity, service, now_ms())
                self.workers[identity] = worker
                self.free[service].append(worker)
                emit(ready={"worker": worker.name, "service": service, "extra": text(args[1:])})
                self.dispatch(service)
        elif code == DISCONNECT:
            if worker is not None:
                emit(gone={"worker": worker.name})
                self.forget(worker)
        elif worker is None:
            self.disconnect(identity, f"{COMMAND_NAMES[code]} from a worker that sent no READY")
        elif code == HEARTBEAT:
            worker.heartbeats += 1
            emit(heartbeat={"worker": worker.name, "count": worker.heartbeats, "extra": text(args)})
        elif code == REPLY:
            if worker.job is None:
                self.disconnect(identity, "a REPLY with no request in flight")
            elif len(args) < 2 or args[0] != worker.job[0] or args[1] != b"":
                self.disconnect(identity, f"a REPLY that is not [client, \"\", ...body]: {text(args)}")
            else:
                self.reply_client(args[0], worker.service, args[2:])
                emit(replied={"service": worker.service, "worker": worker.name})
                worker.job = None
                self.free[worker.service].append(worker)
                self.dispatch(worker.service)
        else:  # REQUEST: only a broker sends it
            self.disconnect(identity, "a REQUEST from a worker")

    # -- clients ------------------------------------------------------------------------------------------------
    def on_frontend(self, frames):
        if len(frames) < 5 or frames[1] != b"" or frames[2] != MDPC01:
            emit(dropped={"reason": "not an MDP/Client request", "frames": text(frames[1:])})
            return
        client, service, body = frames[0], frames[3].decode("utf-8", "replace"), frames[4:]
        if service.startswith("mmi."):
            self.reply_client(client, service, [self.mmi(service, body)])
            return
        self.queues[service].append((client, body, now_ms()))
        self.dispatch(service)

    def mmi(self, service, body):
        if service == "mmi.service":
            wanted = body[0].decode("utf-8", "replace")
            return b"200" if any(w.service == wanted for w in self.workers.values()) else b"404"
        return b"501"

    def dispatch(self, service):
        queue, free = self.queues[service], self.free[service]
        while queue and free:
            client, body, _ = queue.popleft()
            worker = free.popleft()
            worker.job = (client, body)
            self.send_worker(worker, REQUEST, client, b"", *body)
            emit(forwarded={"service": service, "worker": worker.name})

    # -- time ---------------------------------------------------------------------------------------------------
    def tick(self):
        at = now_ms()
        for worker in list(self.workers.values()):
            if at - worker.heard > self.expiry_ms:
                emit(evicted={"worker": worker.name, "service": worker.service, "silentMs": int(at - worker.heard)})
                self.forget(worker)
                self.dispatch(worker.service)
            elif at - worker.sent >= self.heartbeat_ms:
                self.send_worker(worker, HEARTBEAT)
        for service, queue in self.queues.items():
            if any(w.service == service for w in self.workers.values()):
                continue
            while queue and at - queue[0][2] > self.service_wait_ms:
                queue.popleft()
                emit(expired={"service": service})

    def on_command(self, line):
        try:
            order = json.loads(line)
        except ValueError:
            emit(dropped={"reason": f"stdin: not JSON: {line!r}"})
            return
        if "mute" in order:
            identity = self.names.get(order["mute"], order["mute"].encode())
            self.muted.add(identity)
            emit(muted={"worker": order["mute"]})
        elif "disconnect" in order:
            identity = self.names.get(order["disconnect"], order["disconnect"].encode())
            self.disconnect(identity, "asked on stdin")
        else:
            emit(dropped={"reason": f"stdin: unknown command {line!r}"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--heartbeat-ms", type=int, default=250)
    parser.add_argument("--liveness", type=int, default=3)
    parser.add_argument("--service-wait-ms", type=int, default=2000)
    parser.add_argument("--lifetime-s", type=float, default=30)
    args = parser.parse_args()
    life = Lifetime(args.lifetime_s)
    broker = Broker(args)
    emit(endpoints={
        "frontend": broker.frontend.getsockopt_string(zmq.LAST_ENDPOINT),
        "backend": broker.backend.getsockopt_string(zmq.LAST_ENDPOINT),
    })
    poller = zmq.Poller()
    poller.register(broker.frontend, zmq.POLLIN)
    poller.register(broker.backend, zmq.POLLIN)
    poller.register(life.fileno(), zmq.POLLIN)
    tick_ms = max(10, args.heartbeat_ms // 4)
    while not life.over():
        events = dict(poller.poll(min(tick_ms, life.remaining_ms())))
        if broker.backend in events:
            while broker.backend.poll(0, zmq.POLLIN):
                broker.on_backend(broker.backend.recv_multipart())
        if broker.frontend in events:
            while broker.frontend.poll(0, zmq.POLLIN):
                broker.on_frontend(broker.frontend.recv_multipart())
        if life.fileno() in events:
            for line in life.lines():
                broker.on_command(line)
        broker.tick()
    for worker in list(broker.workers.values()):
        broker.send_worker(worker, DISCONNECT)
    emit(done={"workers": len(broker.workers)})
    broker.ctx.destroy(linger=200)


main()
