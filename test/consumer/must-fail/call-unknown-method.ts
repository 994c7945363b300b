import type { RpcClient } from "typed-zmq";
import type { Calc } from "../src/contracts.js";

declare const client: RpcClient<typeof Calc>;

// expect-error TS2345 Argument of type '"subtract"' is not assignable to parameter of type 'MethodName<
void client.call("subtract", { a: 1, b: 2 });
