import type { RpcClient } from "typed-zmq";
import type { Calc } from "../src/contracts.js";

declare const client: RpcClient<typeof Calc>;

// expect-error TS2322 Type 'string' is not assignable to type 'number'
void client.call("add", { a: 1, b: "2" });
// expect-error TS2353 'text' does not exist
void client.call("add", { a: 1, b: 2, text: "x" });
