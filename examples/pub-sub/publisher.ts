/**
 * Pub-sub demo publisher: football events for several teams (Arsenal among them), about RATE a second, until
 * SIGINT/SIGTERM.
 *
 * Environment: PUB_BIND (default tcp://*:5556), or PUB_CONNECT_FORWARDER to publish into a forwarder broker;
 * RATE events per second (default 10); TEAMS, comma-separated (default Arsenal,Chelsea,Liverpool,Tottenham).
 * CURVE (see ../shared/curve.ts): bound, CURVE_SERVER_CERT and CURVE_ALLOW_DIR; into a forwarder,
 * CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT (the forwarder's). Unset: plaintext.
 */
import { Publisher } from "typed-zmq";
import { Football } from "../../schemas/football.js";
import { intSetting, isMain, output, pause, runAsCommand, setting, type DemoOptions } from "../shared/cli.js";
import { clientCurve, describeCurve, serverCurve } from "../shared/curve.js";

const EVENTS = ["goal", "yellow card", "substitution", "red card"] as const;

export async function main(options: DemoOptions = {}): Promise<number> {
  const log = output(options);
  const forwarder = setting(options, "PUB_CONNECT_FORWARDER", "");
  const teams = setting(options, "TEAMS", "Arsenal,Chelsea,Liverpool,Tottenham")
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  const rate = Math.max(1, intSetting(options, "RATE", 10));
  const security = forwarder === "" ? serverCurve(options) : clientCurve(options);
  await using pub =
    forwarder === ""
      ? await Publisher.bind(setting(options, "PUB_BIND", "tcp://*:5556"), Football, security)
      : await Publisher.connect(forwarder, Football, security);
  log(`publisher: ${describeCurve(security)}`);
  log(
    `publisher: ${forwarder === "" ? `publishing on ${pub.endpoint}` : `publishing into forwarder ${forwarder}`} for ${teams.join(", ")}, ${rate}/s`,
  );
  let sent = 0;
  while (options.signal?.aborted !== true) {
    const team = teams[sent % teams.length] ?? "Arsenal";
    const event = EVENTS[Math.floor(sent / teams.length) % EVENTS.length] ?? "goal";
    const minute = Math.floor(sent / teams.length) % 91;
    await pub.publish(`football.${team}`, { team, event, minute });
    sent++;
    log(`publisher: football.${team} ${event} ${minute}'`);
    await pause(1_000 / rate, options.signal);
  }
  log(`publisher: stopping after ${sent} events`);
  return sent;
}

if (isMain(import.meta.url)) await runAsCommand(main);
