import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { RpcClient, RpcServer, defineRpc, type InferRequest, type InferResponse } from "typed-zmq";

export const Shop = defineRpc("shop.v1", {
  placeOrder: {
    // Callers may leave out `quantity`; handlers always see a number.
    request: z.object({ sku: z.string().min(1), quantity: z.number().int().positive().default(1) }),
    // Handlers return an ISO string; callers receive a Date.
    response: z.object({ id: z.uuid(), placedAt: z.iso.datetime().transform((s) => new Date(s)) }),
  },
});

// Types are inferred from the contract, never written twice.
export type PlaceOrder = InferRequest<typeof Shop, "placeOrder">; // { sku: string; quantity?: number }
export type Placed = InferResponse<typeof Shop, "placeOrder">; // { id: string; placedAt: Date }

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<Placed> {
  await using server = await RpcServer.bind("inproc://shop", Shop, {
    placeOrder: ({ sku, quantity }) => {
      console.log(`order for ${quantity} x ${sku}`); // order for 1 x tea
      return { id: randomUUID(), placedAt: new Date().toISOString() };
    },
  });
  await using client = await RpcClient.connect(server.endpoint, Shop);
  const placed = await client.call("placeOrder", { sku: "tea" }, { signal });
  console.log(placed.placedAt instanceof Date); // true
  return placed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
