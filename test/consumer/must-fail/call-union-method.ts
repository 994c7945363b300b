import type { RpcClient } from "typed-zmq";
import type { Calc } from "../src/contracts.js";

declare const client: RpcClient<typeof Calc>;
declare const method: "add" | "echo";

// The payload could belong to either method: refused, with a message that says what to do.
// expect-error TS2345 call() needs one method name, not a union of them
void client.call(method, { a: 1, b: 2 });
// expect-error TS2345 call() needs one method name, not a union of them
void client.call(method, { text: "hi" });
