/**
 * Compile-time type tests for the RPC API (contracts, client, server, errors).
 *
 * Checked by `tsc --noEmit -p tsconfig.json`; nothing here runs. Code that would open sockets lives in functions
 * that are never called. Every `// @ts-expect-error` line proves that the library rejects the case: tsc fails if
 * the expected error does not occur.
 */
import { expectTypeOf } from "vitest";
import * as z from "zod";
import {
  RpcClient,
  RpcServer,
  defineRpc,
  type HandlerContext,
  type InferHandlerRequest,
  type InferHandlerResponse,
  type InferRequest,
  type InferResponse,
  type MethodName,
  type RemoteError,
  type RpcContract,
  type RpcHandler,
  type RpcHandlers,
  type TimeoutError,
  type CallAttempt,
  type ConnectionLostError,
  type NoServerError,
  type RpcClientEvent,
  type RpcClientOptions,
} from "../src/index.js";

// ---------------------------------------------------------------------------------------------------------------------
// The contract under test
// ---------------------------------------------------------------------------------------------------------------------

const Orders = defineRpc("orders.v1", {
  // Same input and output types on both sides.
  getOrder: {
    request: z.object({ id: z.string() }),
    response: z.object({ id: z.string(), total: z.number() }),
  },
  // Request differs: `quantity` has a default (optional for the caller, present for the handler) and `placedAt`
  // is transformed from an ISO string into a Date.
  placeOrder: {
    request: z.object({
      sku: z.string(),
      quantity: z.number().int().default(1),
      placedAt: z.string().transform((s) => new Date(s)),
    }),
    response: z.object({ id: z.string() }),
  },
  // Response differs: the handler returns `{ total }`, the caller receives `{ total, totalCents }`.
  getReceipt: {
    request: z.object({ id: z.string() }),
    response: z.object({ total: z.number() }).transform((r) => ({ ...r, totalCents: Math.round(r.total * 100) })),
  },
});
type Orders = typeof Orders;

type Order = { id: string; total: number };

declare const client: RpcClient<Orders>;
declare const signal: AbortSignal;

// ---------------------------------------------------------------------------------------------------------------------
// defineRpc
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf(Orders).toExtend<RpcContract>();
expectTypeOf(Orders.kind).toEqualTypeOf<"rpc">();
expectTypeOf(Orders.name).toEqualTypeOf<string>();
expectTypeOf<keyof Orders["methods"]>().toEqualTypeOf<"getOrder" | "placeOrder" | "getReceipt">();

function defineRpcRejectsNonSchemas(): void {
  defineRpc("bad.v1", {
    // @ts-expect-error a request must be a zod schema, not a plain value
    m: { request: { id: "string" }, response: z.string() },
  });
  defineRpc("bad.v1", {
    // @ts-expect-error a method needs a response schema
    m: { request: z.string() },
  });
}
void defineRpcRejectsNonSchemas;

// ---------------------------------------------------------------------------------------------------------------------
// Infer* helpers and MethodName
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf<MethodName<Orders>>().toEqualTypeOf<"getOrder" | "placeOrder" | "getReceipt">();

// getOrder: input and output agree.
expectTypeOf<InferRequest<Orders, "getOrder">>().toEqualTypeOf<{ id: string }>();
expectTypeOf<InferHandlerRequest<Orders, "getOrder">>().toEqualTypeOf<{ id: string }>();
expectTypeOf<InferResponse<Orders, "getOrder">>().toEqualTypeOf<Order>();
expectTypeOf<InferHandlerResponse<Orders, "getOrder">>().toEqualTypeOf<Order>();

// placeOrder: the caller sends the request schema's INPUT, the handler receives its OUTPUT.
expectTypeOf<InferRequest<Orders, "placeOrder">>().toEqualTypeOf<{
  sku: string;
  quantity?: number | undefined;
  placedAt: string;
}>();
expectTypeOf<InferHandlerRequest<Orders, "placeOrder">>().toEqualTypeOf<{
  sku: string;
  quantity: number;
  placedAt: Date;
}>();
expectTypeOf<InferRequest<Orders, "placeOrder">>().not.toEqualTypeOf<InferHandlerRequest<Orders, "placeOrder">>();

// getReceipt: the handler returns the response schema's INPUT, the caller receives its OUTPUT.
expectTypeOf<InferHandlerResponse<Orders, "getReceipt">>().toEqualTypeOf<{ total: number }>();
expectTypeOf<InferResponse<Orders, "getReceipt">>().toEqualTypeOf<{ total: number; totalCents: number }>();

// The helpers only accept method names of the contract.
// @ts-expect-error "nope" is not a method of orders.v1
type _UnknownRequest = InferRequest<Orders, "nope">;
// @ts-expect-error "nope" is not a method of orders.v1
type _UnknownResponse = InferResponse<Orders, "nope">;

// ---------------------------------------------------------------------------------------------------------------------
// RpcClient
// ---------------------------------------------------------------------------------------------------------------------

async function clientTypes(): Promise<void> {
  // connect keeps the contract type.
  const connected = RpcClient.connect("inproc://orders", Orders);
  expectTypeOf(connected).toEqualTypeOf<Promise<RpcClient<Orders>>>();
  expectTypeOf(RpcClient.connect(["inproc://a", "inproc://b"], Orders, { timeoutMs: 1_000 })).toEqualTypeOf<
    Promise<RpcClient<Orders>>
  >();
  expectTypeOf((await connected).contract).toEqualTypeOf<Orders>();

  // The result is exactly the response schema's output.
  expectTypeOf(await client.call("getOrder", { id: "o-1" })).toEqualTypeOf<Order>();
  expectTypeOf(client.call("getOrder", { id: "o-1" })).toEqualTypeOf<Promise<Order>>();
  expectTypeOf(await client.call("getReceipt", { id: "o-1" })).toEqualTypeOf<{ total: number; totalCents: number }>();
  expectTypeOf(await client.call("placeOrder", { sku: "x", placedAt: "2024-01-01" })).toEqualTypeOf<{ id: string }>();

  // The request parameter is the request schema's input: a defaulted field is optional, a transformed one takes
  // the pre-transform type.
  expectTypeOf(client.call<"placeOrder">)
    .parameter(1)
    .toEqualTypeOf<InferRequest<Orders, "placeOrder">>();
  await client.call("placeOrder", { sku: "x", placedAt: "2024-01-01" });
  await client.call("placeOrder", { sku: "x", quantity: 3, placedAt: "2024-01-01" });
  await client.call("getOrder", { id: "o-1" }, { timeoutMs: 1_000, signal });

  // @ts-expect-error unknown method name
  await client.call("deleteOrder", { id: "o-1" });
  // @ts-expect-error wrong payload field type (id is a string)
  await client.call("getOrder", { id: 1 });
  // @ts-expect-error missing required field `id`
  await client.call("getOrder", {});
  // @ts-expect-error the payload is required
  await client.call("getOrder");
  // @ts-expect-error excess field in an object-literal payload
  await client.call("getOrder", { id: "o-1", extra: true });
  // @ts-expect-error the caller sends the pre-transform type (string), not the handler's Date
  await client.call("placeOrder", { sku: "x", placedAt: new Date() });
  // @ts-expect-error the payload of another method does not fit
  await client.call("placeOrder", { id: "o-1" });
  // @ts-expect-error timeoutMs is a number
  await client.call("getOrder", { id: "o-1" }, { timeoutMs: "1000" });

  const order = await client.call("getOrder", { id: "o-1" });
  // @ts-expect-error the reply has no `totalCents` (that belongs to getReceipt)
  void order.totalCents;
}
void clientTypes;

// ---------------------------------------------------------------------------------------------------------------------
// RpcServer and handlers
// ---------------------------------------------------------------------------------------------------------------------

const handlers = {
  getOrder: async ({ id }) => ({ id, total: 42 }),
  placeOrder: (request) => ({ id: `${request.sku}-${request.quantity}` }),
  getReceipt: async () => ({ total: 1.5 }),
} satisfies RpcHandlers<Orders>;

async function serverTypes(): Promise<void> {
  // bind and connect keep the contract type.
  const bound = RpcServer.bind("tcp://127.0.0.1:0", Orders, handlers);
  expectTypeOf(bound).toEqualTypeOf<Promise<RpcServer<Orders>>>();
  expectTypeOf(RpcServer.connect("inproc://orders", Orders, handlers)).toEqualTypeOf<Promise<RpcServer<Orders>>>();
  expectTypeOf((await bound).contract).toEqualTypeOf<Orders>();

  // The handler receives the request schema's OUTPUT and a context typed by method.
  await RpcServer.bind("inproc://orders", Orders, {
    getOrder: (request, context) => {
      expectTypeOf(request).toEqualTypeOf<{ id: string }>();
      expectTypeOf(context).toEqualTypeOf<HandlerContext<Orders, "getOrder">>();
      expectTypeOf(context.method).toEqualTypeOf<"getOrder">();
      expectTypeOf(context.signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(context.contract).toEqualTypeOf<Orders>();
      return { id: request.id, total: 1 };
    },
    placeOrder: async (request, context) => {
      expectTypeOf(request).toEqualTypeOf<{ sku: string; quantity: number; placedAt: Date }>();
      expectTypeOf(request.quantity).toEqualTypeOf<number>();
      expectTypeOf(request.placedAt).toEqualTypeOf<Date>();
      expectTypeOf(context.method).toEqualTypeOf<"placeOrder">();
      return { id: "p-1" };
    },
    // The handler returns the response schema's INPUT (the pre-transform shape).
    getReceipt: (_request, context) => {
      expectTypeOf(context.method).toEqualTypeOf<"getReceipt">();
      return { total: 2 };
    },
  });

  expectTypeOf<RpcHandler<Orders, "getReceipt">>().returns.toEqualTypeOf<{ total: number } | PromiseLike<{ total: number }>>();
  expectTypeOf<RpcHandler<Orders, "placeOrder">>().parameter(0).toEqualTypeOf<InferHandlerRequest<Orders, "placeOrder">>();

  // A handler for every method is required.
  // @ts-expect-error handlers object is missing `getReceipt`
  await RpcServer.bind("inproc://orders", Orders, {
    getOrder: async ({ id }) => ({ id, total: 42 }),
    placeOrder: () => ({ id: "p-1" }),
  });
  // @ts-expect-error handlers object is missing `getReceipt` (connect checks it too)
  await RpcServer.connect("inproc://orders", Orders, { getOrder: handlers.getOrder, placeOrder: handlers.placeOrder });
  const { getReceipt: _omitted, ...partial } = handlers;
  // @ts-expect-error a non-literal handlers object missing a method is rejected as well
  await RpcServer.bind("inproc://orders", Orders, partial);

  await RpcServer.bind("inproc://orders", Orders, {
    ...handlers,
    // @ts-expect-error excess handler for a method the contract does not declare
    cancelOrder: async () => ({}),
  });

  await RpcServer.bind("inproc://orders", Orders, {
    ...handlers,
    // @ts-expect-error handler returns the wrong shape (`total` missing)
    getOrder: async ({ id }) => ({ id }),
  });
  await RpcServer.bind("inproc://orders", Orders, {
    ...handlers,
    // @ts-expect-error handler returns a wrong field type (`total` is a number)
    getOrder: ({ id }) => ({ id, total: "42" }),
  });
  await RpcServer.bind("inproc://orders", Orders, {
    ...handlers,
    // @ts-expect-error handler returns the caller's post-transform shape instead of the response input
    getReceipt: () => ({ totalCents: 150 }),
  });
  await RpcServer.bind("inproc://orders", Orders, {
    ...handlers,
    // @ts-expect-error handler declares a request type the schema output does not give (placedAt is a Date)
    placeOrder: (request: { sku: string; quantity: number; placedAt: string }) => ({ id: request.sku }),
  });
  await RpcServer.bind("inproc://orders", Orders, {
    ...handlers,
    // @ts-expect-error a handler must be a function
    getOrder: { id: "o-1", total: 1 },
  });

  const badHandlers = {
    getOrder: async ({ id }: { id: string }) => ({ id, total: 42 }),
    placeOrder: () => ({ id: "p-1" }),
    getReceipt: () => ({ total: "1.50" }),
  };
  // @ts-expect-error getReceipt returns `total` as a string
  await RpcServer.bind("inproc://orders", Orders, badHandlers);
}
void serverTypes;

// ---------------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf<RemoteError["code"]>().toEqualTypeOf<string>();
expectTypeOf<TimeoutError["code"]>().toEqualTypeOf<"TIMEOUT">();
expectTypeOf<TimeoutError>().toExtend<Error>();
expectTypeOf<RemoteError>().toExtend<Error>();

// A union of method names would let a payload for one method go to another: call() refuses it with a message.
export async function unionMethodIsRefused(client: RpcClient<typeof Orders>, m: "getOrder" | "getReceipt"): Promise<void> {
  // @ts-expect-error the method must be one literal name, not a union
  await client.call(m, { id: "x" });
  if (m === "getOrder") {
    expectTypeOf(await client.call(m, { id: "x" })).toEqualTypeOf<{ id: string; total: number }>();
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Reliable client: options, events, errors
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf<NoServerError["code"]>().toEqualTypeOf<"NO_SERVER">();
expectTypeOf<ConnectionLostError["code"]>().toEqualTypeOf<"CONNECTION_LOST">();
expectTypeOf<TimeoutError["attempts"]>().toEqualTypeOf<readonly CallAttempt[] | undefined>();
expectTypeOf<RpcClientEvent["type"]>().toEqualTypeOf<
  "connected" | "disconnected" | "reconnecting" | "handshake-failed" | "retried" | "validation-failed" | "dropped" | "timed-out"
>();

export async function reliableClientTypes(): Promise<void> {
  const options: RpcClientOptions = {
    service: "orders",
    retry: { attempts: 5, backoffMs: 20, maxBackoffMs: 500, attemptTimeoutMs: 200 },
    heartbeatIntervalMs: 500,
    reconnectIntervalMs: 50,
    onEvent: (event) => {
      if (event.type === "retried") expectTypeOf(event.attempt).toEqualTypeOf<number>();
      if (event.type === "disconnected") expectTypeOf(event.inFlight).toEqualTypeOf<number>();
    },
  };
  const client = await RpcClient.connect(["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"], Orders, options);
  expectTypeOf(client.connected).toEqualTypeOf<readonly string[]>();
  expectTypeOf(client.stats.retries).toEqualTypeOf<number>();
  expectTypeOf(client.waitForConnected(2)).toEqualTypeOf<Promise<void>>();
  // @ts-expect-error retry takes an options object or a boolean
  await RpcClient.connect("tcp://127.0.0.1:5555", Orders, { retry: 3 });
  await client.close();
}
void reliableClientTypes;
