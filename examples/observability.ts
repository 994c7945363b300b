import { fileURLToPath } from "node:url";
import { RpcClient, RpcServer, type RpcClientEvent } from "typed-zmq";
import { Greeter } from "./quick-start.js";

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<{ events: string[]; calls: number }> {
  const events: string[] = [];
  // One typed hook per object: connections, failed validations, drops, timeouts and retries.
  const onEvent = (event: RpcClientEvent): void => {
    events.push(event.type);
    if (event.type === "validation-failed") console.log(event.direction, event.method, event.issues[0]?.message);
  };
  await using server = await RpcServer.bind("tcp://127.0.0.1:0", Greeter, {
    hello: ({ name }) => ({ greeting: `Hello, ${name}!` }),
  });
  await using client = await RpcClient.connect(server.endpoint, Greeter, { onEvent, timeoutMs: 2_000 });
  for (const name of ["Ada", "Grace", "Edsger"]) await client.call("hello", { name }, { signal });
  await client.call("hello", { name: "" }, { signal }).catch(() => undefined); // outgoing Too small: ...

  // `stats` is a plain snapshot; `latency` is in milliseconds (percentiles within 1.6 %).
  const { latency } = client.stats;
  console.log(latency.count, latency.p50Ms <= latency.p99Ms, latency.p99Ms <= latency.maxMs); // 3 true true
  console.log(server.stats.latency.count); // 3: handler time of each call that ran
  console.log(events); // [ 'connected', 'validation-failed' ]
  return { events, calls: latency.count };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
