/**
 * Fault-test role: CURVE servers closed and opened again in one process, many times, while their clients are still
 * connected. Each round binds a typed `RpcServer` with `curve.allow` (so the shared ZAP handler starts), connects
 * `clients` CURVE clients (one ZAP pipe each), makes `calls` calls from each, closes the server (its release stops
 * the ZAP handler while the sessions' ZAP pipes are terminating), then closes the clients.
 *
 * This is the regression for the libzmq abort `pipe.cpp:355` (the handler socket was unbound on a libuv thread while
 * its poller ran on the main thread; about 1 process in 3 aborted at 60 rounds of 10 clients) and for handshakes
 * that hung because a new server bound before the new handler (NoServerError after the client's timeout).
 * Prints `progress` after each round (`made` = rounds done, `settled` = calls answered) and `done` at the end.
 * Settings: `{ rounds, clients, calls, timeoutMs }`.
 */
import * as zmq from "zeromq";
import { RpcClient, RpcServer } from "../../../src/index.js";
import { Fault } from "../harness/contract.js";
import { emit, fail, settings } from "../harness/emit.js";

interface CurveRestartSettings {
  readonly rounds: number;
  readonly clients: number;
  readonly calls: number;
  readonly timeoutMs: number;
}

const config = settings() as CurveRestartSettings;
try {
  let settled = 0;
  for (let round = 0; round < config.rounds; round++) {
    const server = zmq.curveKeyPair();
    const client = zmq.curveKeyPair();
    const rpc = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Fault,
      {
        work: (job) => ({ id: job.id, server: "s" }),
        workOnce: (job) => ({ id: job.id, server: "s" }),
      },
      { curve: { secretKey: server.secretKey, publicKey: server.publicKey, allow: [client.publicKey] }, lingerMs: 0 },
    );
    const clients = await Promise.all(
      Array.from({ length: config.clients }, () =>
        RpcClient.connect(rpc.endpoint, Fault, {
          curve: { secretKey: client.secretKey, publicKey: client.publicKey, serverKey: server.publicKey },
          timeoutMs: config.timeoutMs,
        }),
      ),
    );
    const replies = await Promise.all(
      clients.flatMap((c, k) =>
        Array.from({ length: config.calls }, (_, i) => c.call("work", { id: `${round}.${k}.${i}`, ms: 0 })),
      ),
    );
    settled += replies.length;
    await rpc.close();
    await Promise.all(clients.map((c) => c.close()));
    emit({ type: "progress", made: round + 1, settled });
  }
  emit({ type: "done", made: config.rounds, hung: [] });
  process.exit(0);
} catch (err) {
  fail(err);
}
