/**
 * Pub-sub demo subscriber: prints one team's events (filtered by libzmq), stops after COUNT, exits 0.
 *
 * Environment: PUB_CONNECT (default tcp://127.0.0.1:5556; a forwarder's backend works too); TEAM (default
 * Arsenal); COUNT (default 10). CURVE (see ../shared/curve.ts): CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT.
 * Unset: plaintext.
 */
import { Subscriber } from "typed-zmq";
import { Football } from "../../schemas/football.js";
import { intSetting, isMain, output, runAsCommand, setting, type DemoOptions } from "../shared/cli.js";
import { clientCurve, describeCurve } from "../shared/curve.js";

export async function main(options: DemoOptions = {}): Promise<string[]> {
  const log = output(options);
  const endpoint = setting(options, "PUB_CONNECT", "tcp://127.0.0.1:5556");
  const team = setting(options, "TEAM", "Arsenal");
  const count = intSetting(options, "COUNT", 10);
  const security = clientCurve(options);
  await using sub = await Subscriber.connect(endpoint, Football, {
    topics: [`football.${team}`],
    onDrop: (drop) => log(`subscriber: dropped a message (${drop.reason}): ${drop.message}`),
    ...security,
  });
  log(`subscriber: ${describeCurve(security)}`);
  log(`subscriber: listening to ${team} on ${endpoint}`);
  const lines: string[] = [];
  while (lines.length < count) {
    const { data } = await sub.receive({ signal: options.signal });
    if (data.team !== team) continue; // a longer team name sharing the prefix, such as "ArsenalWomen"
    const line = `${data.team}: ${data.event} (${data.minute}')`;
    lines.push(line);
    log(`subscriber: ${line}`);
  }
  log(`subscriber: done after ${count} events`);
  return lines;
}

if (isMain(import.meta.url)) await runAsCommand(main);
