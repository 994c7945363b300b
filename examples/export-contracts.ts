import { fileURLToPath } from "node:url";
import * as z from "zod";
import {
  defineTopics,
  isUnrepresentableSchemaError,
  toAsyncApi,
  toJsonSchema,
  type AsyncApiDocument,
  type UnrepresentableHandler,
} from "typed-zmq";
import { Shop } from "./contracts.js";

// A width checked by a custom function: zod knows no JSON Schema for it.
const Width = z.custom<`${number}px`>((v) => typeof v === "string" && /^\d+px$/.test(v));
export const Layout = defineTopics("layout.v1", { resized: z.object({ width: Width }) });
// You know what the check accepts, so you can say it in JSON Schema (undefined: leave the site an error).
const widthAsText: UnrepresentableHandler = (site) =>
  site.type === "custom" ? { type: "string", pattern: "^\\d+px$" } : undefined;

export function main(_options: { signal?: AbortSignal } = {}): Promise<AsyncApiDocument> {
  // Each schema's input side, what travels: `quantity` has a default, so only `sku` is required,
  // and `placedAt` is an ISO string on the wire (callers get a Date only after parsing).
  const { placeOrder } = toJsonSchema(Shop).methods;
  console.log(placeOrder.request.required); // [ 'sku' ]
  console.log(placeOrder.response.properties?.["placedAt"]); // { type: 'string', format: 'date-time', pattern: '^(?:…' }

  try {
    toJsonSchema(Layout);
  } catch (err) {
    if (isUnrepresentableSchemaError(err)) console.log(err.sites.map((s) => `${s.message} ${s.path} ${s.type}`)); // [ 'resized /properties/width custom' ]
  }
  const layout = toJsonSchema(Layout, { unrepresentable: widthAsText });
  console.log(layout.topics.resized.properties?.["width"]); // { type: 'string', pattern: '^\\d+px$' }

  // One AsyncAPI 3.0.0 document for both, ready for JSON.stringify and AsyncAPI's tools.
  const document = toAsyncApi(
    [
      { contract: Shop, servers: ["shop"] },
      { contract: Layout, servers: ["ui"] },
    ],
    {
      servers: { shop: "tcp://shop.example.com:5555", ui: "tcp://ui.example.com:5556" },
      info: { title: "Shop", version: "1.0.0" },
      unrepresentable: widthAsText,
    },
  );
  console.log(Object.keys(document.channels)); // [ 'shop.v1.placeOrder', 'shop.v1.placeOrder.reply', 'layout.v1.resized' ]
  return Promise.resolve(document);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await main(), null, 2));
