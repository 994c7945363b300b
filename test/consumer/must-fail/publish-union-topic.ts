import type { Publisher } from "typed-zmq";
import type { Prices } from "../src/contracts.js";

declare const publisher: Publisher<typeof Prices>;
declare const topic: "price" | "trade";

// expect-error TS2345 publish() needs one topic, not a union of them
void publisher.publish(topic, { symbol: "GOOG", cents: 1 });
// expect-error TS2322 Type 'string' is not assignable to type 'number'
void publisher.publish("price", { symbol: "GOOG", cents: "1" });
