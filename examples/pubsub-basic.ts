import { fileURLToPath } from "node:url";
import * as z from "zod";
import { Publisher, Subscriber, defineTopics } from "typed-zmq";

// Topics are dot-separated: `football` covers `football` and `football.<team>`.
export const Sports = defineTopics("sports.v1", {
  football: z.object({
    team: z.string(),
    event: z.enum(["goal", "red card", "yellow card", "substitution"]),
    minute: z.number().int().min(0).max(130),
  }),
  tennis: z.object({ player: z.string(), set: z.number().int().default(1) }),
});

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<string[]> {
  await using pub = await Publisher.bind("tcp://127.0.0.1:0", Sports);
  // Filtering happens in libzmq: this subscriber never sees Chelsea or tennis.
  await using sub = await Subscriber.connect(pub.endpoint, Sports, { topics: ["football.Arsenal"] });
  await pub.waitForSubscribers(1, { signal, timeoutMs: 2_000 }); // no sleeping over the slow joiner

  await pub.publish("football.Chelsea", { team: "Chelsea", event: "goal", minute: 12 });
  await pub.publish("football.Arsenal", { team: "Arsenal", event: "red card", minute: 33 });
  await pub.publish("tennis", { player: "Ada" });
  await pub.publish("football.Arsenal", { team: "Arsenal", event: "goal", minute: 90 });

  const lines: string[] = [];
  for await (const msg of sub) {
    if (msg.declared === "football") lines.push(`${msg.data.team}: ${msg.data.event} (${msg.data.minute}')`);
    if (lines.length === 2) break; // leaving the loop does not close the subscriber; `await using` does
  }
  for (const line of lines) console.log(line); // Arsenal: red card (33') / Arsenal: goal (90')
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
