import { fileURLToPath } from "node:url";
import * as z from "zod";
import { ApplicationError, RpcClient, RpcServer, defineRpc, isRemoteCallError, isTimeoutError } from "typed-zmq";

const Accounts = defineRpc("accounts.v1", {
  balance: {
    request: z.object({ account: z.string().regex(/^[A-Z]{2}\d{4}$/) }),
    response: z.object({ cents: z.number().int() }),
  },
  slowReport: { request: z.object({}), response: z.object({ rows: z.number() }) },
});

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<string[]> {
  const seen: string[] = [];
  await using server = await RpcServer.bind(
    "ipc://*",
    Accounts,
    {
      balance: ({ account }) => {
        if (account === "XX0000") throw new ApplicationError("NOT_FOUND", `no account ${account}`, { details: { account } });
        return { cents: 1250 };
      },
      // The handler's signal fires if the server closes before it finishes.
      slowReport: (_request, { signal: stop }) =>
        new Promise((resolve) => stop.addEventListener("abort", () => resolve({ rows: 0 }))),
    },
    { drainTimeoutMs: 100 },
  );
  await using client = await RpcClient.connect(server.endpoint, Accounts, { timeoutMs: 2_000 });

  try {
    await client.call("balance", { account: "XX0000" }, { signal });
  } catch (err) {
    if (isRemoteCallError(err)) seen.push(`${err.code}: ${err.remoteMessage}`); // NOT_FOUND: no account XX0000
  }
  try {
    await client.call("slowReport", {}, { timeoutMs: 50 });
  } catch (err) {
    if (isTimeoutError(err)) seen.push(`${err.code} after ${err.timeoutMs} ms`); // TIMEOUT after 50 ms
  }
  const cancel = new AbortController();
  const pending = client.call("slowReport", {}, { signal: cancel.signal });
  cancel.abort(new Error("user gave up"));
  await pending.catch((err: unknown) => seen.push((err as Error).name)); // AbortedError
  for (const line of seen) console.log(line);
  return seen;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
