import { fileURLToPath } from "node:url";
import { type } from "arktype";
import * as v from "valibot";
import {
  RpcClient,
  RpcServer,
  defineRpc,
  isContractValidationError,
  isUnrepresentableSchemaError,
  toJsonSchema,
} from "typed-zmq";

// Any Standard Schema v1 validator works in a contract, mixed with zod or each other: valibot here, arktype there.
export const Till = defineRpc("till.v1", {
  sell: {
    // Callers send the quantity as text (a form field); the handler gets an integer.
    request: v.object({
      sku: v.pipe(v.string(), v.regex(/^SKU-\d{4}$/)),
      qty: v.pipe(v.string(), v.transform(Number), v.integer()),
    }),
    response: type({ receipt: "string", total: "number >= 0" }),
  },
});

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<string[]> {
  await using server = await RpcServer.bind("tcp://127.0.0.1:0", Till, {
    sell: ({ sku, qty }) => ({ receipt: `${qty} x ${sku}`, total: qty * 2.5 }), // qty: number
  });
  await using client = await RpcClient.connect(server.endpoint, Till, { timeoutMs: 2_000 });
  const lines: string[] = [];
  const { receipt, total } = await client.call("sell", { sku: "SKU-0042", qty: "3" }, { signal }); // qty: string
  lines.push(`${receipt}: ${total}`); // 3 x SKU-0042: 7.5

  try {
    await client.call("sell", { sku: "tea", qty: "1" }, { signal }); // refused before it leaves
  } catch (err) {
    if (isContractValidationError(err)) lines.push(`${err.issues[0]?.path.join(".")}: ${err.issues[0]?.message}`); // sku: Invalid format: ...
  }

  // The export asks each validator for its Standard JSON Schema: arktype has one, a plain valibot schema does not
  // (wrap it with toStandardJsonSchema from @valibot/to-json-schema), and the error says so.
  try {
    toJsonSchema(Till);
  } catch (err) {
    if (isUnrepresentableSchemaError(err)) lines.push(err.sites.map((s) => `${s.message}.${s.part}: ${s.type}`).join()); // sell.request: valibot schema
  }
  for (const line of lines) console.log(line);
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
