/**
 * Fault-test role: a client, `RpcClient.connect(endpoints, Fault, { retry, timeoutMs, service? })`, making calls
 * at a steady rate (so that rate × handler time are in flight) for a bounded time and count. Prints `ready`, one
 * `call` line per settled call (id, outcome = `ok` or the error's code, when it was made and settled, its deadline,
 * the server that answered), `progress` every 250 ms, connection events, and `done` with the calls that never
 * settled (hung), after waiting well past the last deadline. Then it exits.
 * Settings: {@link ClientSettings}. Stdin: `go` (with `waitForGo`), `stop` (ends the load early).
 */
import { RpcClient } from "../../../src/index.js";
import { Fault, type ClientSettings } from "../harness/contract.js";
import { control, emit, fail, settings } from "../harness/emit.js";
import { heartbeatOptions } from "./handlers.js";

const config = settings() as ClientSettings;
/** How long after the last call's deadline a call still unsettled counts as hung. */
const HANG_MARGIN_MS = 2_000;

function codeOf(err: unknown): string {
  const code = typeof err === "object" && err !== null ? Reflect.get(err, "code") : undefined;
  return typeof code === "string" ? code : `unknown (${String(err)})`;
}

function attemptsOf(err: unknown): number | undefined {
  const attempts = typeof err === "object" && err !== null ? Reflect.get(err, "attempts") : undefined;
  return Array.isArray(attempts) ? attempts.length : undefined;
}

try {
  const client = await RpcClient.connect(config.endpoints, Fault, {
    timeoutMs: config.timeoutMs,
    ...(config.service === undefined ? {} : { service: config.service }),
    ...(config.retry === undefined ? {} : { retry: config.retry }),
    ...heartbeatOptions(config),
    onEvent: (event) => emit({ type: "event", event: { ...event } }),
  });
  const said = { go: !config.waitForGo, stop: false };
  control(
    config.lifeMs,
    (why) => {
      if (why === "stop") said.stop = true;
      else process.exit(3); // stdin closed or life over: the test is gone or the role overran
    },
    { go: () => (said.go = true) },
  );
  emit({ type: "ready", endpoints: config.endpoints, pid: process.pid });
  while (!said.go && !said.stop) await new Promise((resolve) => setTimeout(resolve, 10));

  const pending = new Set<string>();
  let made = 0;
  let settled = 0;
  let lastDeadline = 0;
  let finished = false;
  const start = Date.now();
  const limit = config.maxCalls ?? Infinity;
  const progress = setInterval(() => emit({ type: "progress", made, settled }), 250);
  const one = (): void => {
    const id = `c${made++}`;
    const sent = Date.now();
    const deadline = sent + config.timeoutMs;
    lastDeadline = deadline;
    pending.add(id);
    const record = (outcome: string, extra: { server?: string; attempts?: number; message?: string }): void => {
      if (finished) return; // after `done`, close() rejects what hung: already counted as hung
      pending.delete(id);
      settled++;
      emit({ type: "call", id, sent, settled: Date.now(), deadline, outcome, ...extra });
    };
    const request = { id, ms: config.handlerMs };
    const call = config.method === "work" ? client.call("work", request) : client.call("workOnce", request);
    call.then(
      (reply) => record("ok", { server: reply.server }),
      (err: unknown) => {
        const attempts = attemptsOf(err);
        record(codeOf(err), {
          ...(attempts === undefined ? {} : { attempts }),
          message: err instanceof Error ? err.message.slice(0, 300) : String(err),
        });
      },
    );
  };
  // Steady rate: at every tick, catch up with rate × elapsed.
  while (!said.stop && made < limit) {
    const elapsed = Date.now() - start;
    if (elapsed >= config.durationMs) break;
    const due = Math.min(limit, Math.floor((config.rate * elapsed) / 1000) + 1);
    while (made < due) one();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  emit({ type: "stopped", made });
  const giveUp = lastDeadline + HANG_MARGIN_MS;
  while (pending.size > 0 && Date.now() < giveUp) await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(progress);
  finished = true;
  emit({ type: "done", made, hung: [...pending] });
  const closing = client.close();
  const timer = setTimeout(() => process.exit(4), 3_000);
  await closing;
  clearTimeout(timer);
  process.exit(0);
} catch (err) {
  fail(err);
}
