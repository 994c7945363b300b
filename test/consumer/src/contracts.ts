import * as z from "zod";
import { defineRpc, defineTopics } from "typed-zmq";

export const Calc = defineRpc("calc.v1", {
  add: { request: z.object({ a: z.number(), b: z.number() }), response: z.object({ sum: z.number() }) },
  echo: { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
});

export const Prices = defineTopics("prices.v1", {
  price: z.object({ symbol: z.string(), cents: z.number().int() }),
  trade: z.object({ symbol: z.string(), qty: z.number().int() }),
});
