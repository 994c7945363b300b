"""A plain MDP 0.1 worker (rfc.zeromq.org 7/MDP), written from the RFC, that serves through a typed-zmq RpcBroker.

usage: mdp_worker.py ENDPOINT SERVICE MODE [--heartbeat-ms MS] [--liveness N] [--lifetime-s S]

One DEALER connected to the broker's backend, as the RFC says. It sends READY for SERVICE, then answers each REQUEST
["", "MDPW01", 0x02, client, "", ...body] with REPLY ["", "MDPW01", 0x03, client, "", ...reply], echoing the client
address frame whatever it holds. It sends HEARTBEAT every --heartbeat-ms when it sent nothing else in that interval;
any command from the broker counts as life, and a broker silent for liveness x heartbeat, or a DISCONNECT from it,
makes it close its socket and open a new one with a new READY.

MODE says what a reply is:
- reverse: an opaque body, not typed-zmq RPC: every body frame with its bytes reversed, in the same order.
- rpc: typed-zmq's RPC inside MDP (docs/protocol.md): the body is [method, body(, headers)], the reply
  [status, body(, headers)], with the request's correlationId echoed in the reply headers. The methods are those of
  rpc_server.py (the test's orders.v1 contract: getOrder returns {id, total: id * 1.5}, NOT_FOUND for id 404).
  A "$cancel" notice is never answered.

Events, one JSON line each: ready {socket, service} (each READY sent), trace {traceparent, tracestate} (rpc mode:
a request whose headers carry W3C trace context), served {count, frames} (frames: how many
body frames the request had), heartbeat {count} (HEARTBEATs received), disconnected {socket} (the broker's
DISCONNECT), lost {socket, silentMs} (broker silent), done {served}.
"""
import argparse
import json

import zmq

from common import context, emit, fail, text
from rpc_server import answer as answer_order
from mdp_common import DISCONNECT, HEARTBEAT, REPLY, REQUEST, Lifetime, WorkerLink, command


def rpc_reply(body):
    """typed-zmq RPC inside MDP: [method, body(, headers)] in, [status, body(, headers)] out; None for no reply."""
    if len(body) not in (2, 3):
        return [b"error", json.dumps({"code": "MALFORMED", "message": f"expected [method, body, headers?], got {len(body)} frames"}).encode()]
    method = body[0].decode("utf-8", "replace")
    headers = {}
    if len(body) == 3:
        try:
            headers = json.loads(body[2])
        except ValueError:
            headers = {}
    if isinstance(headers, dict) and "traceparent" in headers:
        # W3C trace context as it reached this worker (docs/protocol.md "Trace context"): the test compares it with
        # the broker's span.
        emit(trace={"traceparent": headers["traceparent"], "tracestate": headers.get("tracestate")})
    if method == "$cancel":
        return None
    try:
        status, answer = answer_order(method, json.loads(body[1]))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        status, answer = "error", {"code": "MALFORMED", "message": str(err)}
    frames = [status.encode(), json.dumps(answer).encode()]
    if isinstance(headers, dict) and "correlationId" in headers:
        frames.append(json.dumps({"correlationId": headers["correlationId"]}).encode())
    return frames


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("service")
    parser.add_argument("mode", choices=["reverse", "rpc"])
    parser.add_argument("--heartbeat-ms", type=int, default=250)
    parser.add_argument("--liveness", type=int, default=3)
    parser.add_argument("--lifetime-s", type=float, default=20)
    args = parser.parse_args()
    life = Lifetime(args.lifetime_s)
    ctx = context()
    served = 0
    heartbeats = 0
    link = WorkerLink(ctx, args.endpoint, [args.service.encode("utf-8")], args.heartbeat_ms, args.liveness,
                      on_ready=lambda n: emit(ready={"socket": n, "service": args.service}),
                      on_lost=lambda n, ms: emit(lost={"socket": n, "silentMs": ms}),
                      on_disconnected=lambda n: emit(disconnected={"socket": n}))
    while not life.over():
        frames = link.poll(life, fail)
        if frames is None:
            continue
        code = frames[2]
        if code in (HEARTBEAT, DISCONNECT) and len(frames) != 3:
            # RFC 7: exactly 3 frames. (typed-zmq's "leaving" answer only follows a worker's own "leaving".)
            fail(f"a HEARTBEAT or DISCONNECT that is not exactly [\"\", MDPW01, command]: {text(frames)}")
        if code == REQUEST:
            client, body = frames[3], frames[5:]
            reply = [frame[::-1] for frame in body] if args.mode == "reverse" else rpc_reply(body)
            if reply is not None:
                link.send(*command(REPLY, client, b"", *reply))
                served += 1
            emit(served={"count": served, "frames": len(body)})
        elif code == HEARTBEAT:
            heartbeats += 1
            emit(heartbeat={"count": heartbeats})
        else:
            fail(f"the broker sent an unexpected command: {text(frames)}")
    link.send(*command(DISCONNECT))
    emit(done={"served": served})
    ctx.destroy(linger=200)


main()
