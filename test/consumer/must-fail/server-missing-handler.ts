import { RpcServer } from "typed-zmq";
import { Calc } from "../src/contracts.js";

// Every method of the contract needs a handler.
// expect-error TS2345 Property 'echo' is missing
void RpcServer.bind("tcp://127.0.0.1:0", Calc, { add: ({ a, b }) => ({ sum: a + b }) });
