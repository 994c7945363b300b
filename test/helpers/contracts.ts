import * as z from "zod";
import { defineRpc } from "../../src/index.js";

/** The contract most RPC tests use. */
export const Orders = defineRpc("orders.v1", {
  echo: {
    request: z.object({ text: z.string() }),
    response: z.object({ text: z.string() }),
  },
  getOrder: {
    request: z.object({ id: z.number().int().nonnegative() }),
    response: z.object({ id: z.number().int(), total: z.number().nonnegative() }),
  },
  wait: {
    request: z.object({ key: z.string() }),
    response: z.object({ key: z.string() }),
  },
  whoami: {
    request: z.object({}),
    response: z.object({ server: z.string() }),
  },
});

/** The same contract name with a response shape that a v1 client rejects. */
export const OrdersV2 = defineRpc("orders.v1", {
  ...Orders.methods,
  getOrder: {
    request: z.object({ id: z.number().int().nonnegative() }),
    response: z.object({ id: z.number().int(), total: z.string() }),
  },
});
