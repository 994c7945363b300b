import { describe, expect, test } from "vitest";
import { Dealer, Router, capability, version } from "zeromq";
import * as zmq from "zeromq";

describe("zeromq under ESM", () => {
  test("named and namespace imports of the CommonJS binding work", async () => {
    expect(typeof Router).toBe("function");
    expect(zmq.Dealer).toBe(Dealer);
    expect(version).toMatch(/^4\.\d+\.\d+$/);
    expect(typeof capability.ipc).toBe("boolean");
    const router = new Router();
    await router.bind("tcp://127.0.0.1:*");
    expect(router.lastEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    router.close();
    expect(router.closed).toBe(true);
  });
});
