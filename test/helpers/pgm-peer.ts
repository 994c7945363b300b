/**
 * One side of the PGM delivery test, run as its own process inside a private network namespace:
 *
 *   pgm-peer.ts sub <endpoint> <count>   prints "joined" at the first probe, then "received <count> in order"
 *   pgm-peer.ts pub <endpoint> <count>   sends probes until it reads "go" on stdin, then <count> numbered messages,
 *                                        prints "sent <count>", and stays up (for repairs) until it reads "stop"
 */
import { createInterface } from "node:readline";
import * as z from "zod";
import { Publisher, Subscriber, defineTopics } from "../../src/index.js";
import { pause } from "../../examples/shared/cli.js";

const Sequence = defineTopics("pgm-test.v1", {
  seq: z.object({ n: z.number().int(), probe: z.boolean() }),
});
// A long recovery window, so that the sender still holds a lost packet when the NAKs for it arrive. (The failures
// once blamed on a 5 s window came from the NAKs never reaching the publisher when both peers shared one network
// namespace: see test/pgm.test.ts.)
const multicast = { rateKbps: 10_000, recoveryIntervalMs: 30_000 };

const [role, endpoint = "", countText = "1000"] = process.argv.slice(2);
const count = Number(countText);

async function subscriber(): Promise<number> {
  await using sub = await Subscriber.connect(endpoint, Sequence, { topics: ["seq"], multicast, receiveHighWaterMark: 100_000 });
  console.log("ready");
  let joined = false;
  let expected = 0;
  while (expected < count) {
    const msg = await sub.receive({ timeoutMs: 30_000 });
    if (msg.data.probe) {
      if (!joined) console.log("joined");
      joined = true;
      continue;
    }
    if (msg.data.n !== expected) {
      console.log(`out of order: expected ${expected}, got ${msg.data.n}`);
      return 1;
    }
    expected++;
  }
  console.log(`received ${count} in order`);
  return 0;
}

async function publisher(): Promise<number> {
  const lines = createInterface({ input: process.stdin });
  // Set by the stdin listener; an object, so that the loops below read it afresh each time.
  const said = { go: false, stop: false };
  lines.on("line", (line) => {
    if (line.trim() === "go") said.go = true;
    if (line.trim() === "stop") said.stop = true;
  });
  await using pub = await Publisher.connect(endpoint, Sequence, { multicast, sendHighWaterMark: 100_000 });
  console.log("publishing");
  while (!said.go && !said.stop) {
    await pub.publish("seq", { n: -1, probe: true });
    await pause(50); // probe rate while the subscriber joins the group (the test waits for "joined", not for time)
  }
  for (let n = 0; n < count && !said.stop; n++) await pub.publish("seq", { n, probe: false });
  console.log(`sent ${count}`);
  while (!said.stop) await new Promise((resolve) => lines.once("line", resolve));
  return 0;
}

process.exitCode = role === "sub" ? await subscriber() : role === "pub" ? await publisher() : 2;
process.exit();
