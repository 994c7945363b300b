import * as z from "zod";
import { defineRpc } from "../../../src/index.js";

/** The contract of the cross-process tracing test. */
export const Greeter = defineRpc("greeter.v1", {
  hello: { request: z.object({ name: z.string() }), response: z.object({ greeting: z.string() }) },
});
