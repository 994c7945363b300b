/**
 * Request-reply demo client. Says hello COUNT times, prints each answer, exits 0.
 *
 * Environment: RPC_CONNECT (default tcp://127.0.0.1:5555; a broker's frontend works too); CLIENT_NAME (default
 * client-<host>-<pid>); COUNT (default 10); TIMEOUT_MS per call (default 5000); RPC_SERVICE (unset: call the server
 * directly, or a broker's default service; set: speak MDP to a broker's frontend and call that service).
 * CURVE (see ../shared/curve.ts): CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT. Unset: plaintext.
 */
import { hostname } from "node:os";
import { RpcClient } from "typed-zmq";
import { Greeter } from "../../schemas/greeter.js";
import { intSetting, isMain, output, runAsCommand, setting, type DemoOptions } from "../shared/cli.js";
import { clientCurve, describeCurve } from "../shared/curve.js";

export async function main(options: DemoOptions = {}): Promise<string[]> {
  const log = output(options);
  const name = setting(options, "CLIENT_NAME", `client-${hostname()}-${process.pid}`);
  const endpoint = setting(options, "RPC_CONNECT", "tcp://127.0.0.1:5555");
  const count = intSetting(options, "COUNT", 10);
  const service = setting(options, "RPC_SERVICE", "");
  const security = clientCurve(options);
  await using client = await RpcClient.connect(endpoint, Greeter, {
    timeoutMs: Math.max(1, intSetting(options, "TIMEOUT_MS", 5_000)),
    ...(service !== "" && { service }),
    ...security,
  });
  log(`client ${name}: connected to ${endpoint}${service === "" ? "" : ` (service ${service})`}`);
  log(`client ${name}: ${describeCurve(security)}`);
  const greetings: string[] = [];
  for (let i = 1; i <= count; i++) {
    const { greeting } = await client.call("hello", { name }, { signal: options.signal });
    greetings.push(greeting);
    log(`client ${name}: ${i}/${count} ${greeting}`);
  }
  log(`client ${name}: done`);
  return greetings;
}

if (isMain(import.meta.url)) await runAsCommand(main);
