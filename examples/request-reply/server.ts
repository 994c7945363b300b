/**
 * Request-reply demo server. Answers `hello` until SIGINT/SIGTERM.
 *
 * Environment: RPC_BIND (default tcp://*:5555), or RPC_CONNECT_BACKEND to join a Majordomo (MDP 0.1) broker's
 * backend as a worker instead, for the service RPC_SERVICE (default greeter.v1), heartbeating every HEARTBEAT_MS
 * (default 2500; use the broker's value); SERVER_NAME (default server-<host>-<pid>, also the worker's name at the
 * broker); CONCURRENCY (default 4). CURVE (see ../shared/curve.ts): bound, CURVE_SERVER_CERT and CURVE_ALLOW_DIR;
 * joining a broker, CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT (the broker's). Unset: plaintext.
 */
import { hostname } from "node:os";
import { RpcServer } from "typed-zmq";
import { Greeter } from "../../schemas/greeter.js";
import { intSetting, isMain, output, runAsCommand, setting, stopped, type DemoOptions } from "../shared/cli.js";
import { clientCurve, describeCurve, serverCurve } from "../shared/curve.js";

export async function main(options: DemoOptions = {}): Promise<number> {
  const log = output(options);
  const name = setting(options, "SERVER_NAME", `server-${hostname()}-${process.pid}`);
  const backend = setting(options, "RPC_CONNECT_BACKEND", "");
  let served = 0;
  const handlers = {
    hello: ({ name: caller }: { name: string }) => {
      served++;
      log(`server ${name}: hello from ${caller}`);
      return { greeting: `Hello world back at ya, ${caller}! (from ${name})` };
    },
  };
  const concurrency = Math.max(1, intSetting(options, "CONCURRENCY", 4));
  const service = setting(options, "RPC_SERVICE", "greeter.v1");
  const heartbeatMs = Math.max(10, intSetting(options, "HEARTBEAT_MS", 2_500));
  const security = backend === "" ? serverCurve(options) : clientCurve(options);
  await using server =
    backend === ""
      ? await RpcServer.bind(setting(options, "RPC_BIND", "tcp://*:5555"), Greeter, handlers, { concurrency, ...security })
      : await RpcServer.connect(backend, Greeter, handlers, { concurrency, service, name, heartbeatMs, ...security });
  log(`server ${name}: ${describeCurve(security)}`);
  log(backend === "" ? `server ${name}: listening on ${server.endpoint}` : `server ${name}: serving through broker ${backend}`);
  if (backend !== "") log(`server ${name}: MDP worker for service ${service}, heartbeat ${heartbeatMs} ms`);
  await stopped(options.signal);
  log(`server ${name}: stopping after ${served} requests`);
  return served;
}

if (isMain(import.meta.url)) await runAsCommand(main);
