/**
 * Demo contract: football events published under `football.<Team>` (the classic ZeroMQ weather/sports feed),
 * shared by the demo publisher and subscriber. Not part of the published package.
 */
import * as z from "zod";
import { defineTopics } from "typed-zmq";

/** One football event. */
export const FootballEvent = z.object({
  team: z.string().min(1),
  event: z.enum(["goal", "red card", "yellow card", "substitution"]),
  minute: z.number().int().min(0).max(130),
});

/** Topic `football` covers the wire topics `football.<Team>`. */
export const Football = defineTopics("football.v1", { football: FootballEvent });
