/**
 * A child process for the queue-store tests: the store's lock and permissions are properties of processes, so they
 * are tested across a real process boundary.
 *
 *   node --import tsx test/helpers/queue-store-child.ts hold <path> <count>
 *     opens the store (synchronous "normal"), commits <count> tasks in commits of 10, prints
 *     `committed <count>`, then holds the store open until killed.
 *   node --import tsx test/helpers/queue-store-child.ts lazy <path>
 *     prints `loaded before open: <bool>` (after importing the package and the store module) and
 *     `loaded after open: <bool>`: whether better-sqlite3 is in the module cache.
 *   node --import tsx test/helpers/queue-store-child.ts open <path>
 *     tries to open the store and prints one line `result {json}`: `{ opened: true, tasks }` or
 *     `{ opened: false, name, code, message }`; then exits.
 */
import { createRequire } from "node:module";
import { openQueueStore, type StoredTask } from "../../src/internal/queue-store.js";

const [mode, path, countText] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: queue-store-child.ts hold|open <path> [count]");

/** The task the child commits as number `n` (the parent checks that it reads back exactly these). */
function childTask(n: number): StoredTask {
  return { queue: "jobs.v1", id: `child-${n}`, seq: n, body: Buffer.from(`task ${n}`), deliveries: 0 };
}

/** Whether better-sqlite3 has been loaded into this process. */
function sqliteLoaded(): boolean {
  return Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes("better-sqlite3"));
}

if (mode === "lazy") {
  await import("../../src/index.js");
  console.log(`loaded before open: ${sqliteLoaded()}`);
  openQueueStore(path).close();
  console.log(`loaded after open: ${sqliteLoaded()}`);
} else if (mode === "hold") {
  const store = openQueueStore(path, { synchronous: "normal" });
  const count = Number(countText ?? "0");
  for (let first = 1; first <= count; first += 10) {
    const added: StoredTask[] = [];
    for (let n = first; n < first + 10 && n <= count; n++) added.push(childTask(n));
    store.commit({ added, delivered: [], completed: [], taken: [] });
  }
  console.log(`committed ${count}`);
  setInterval(() => undefined, 60_000); // hold the store (and its lock) until killed
} else {
  try {
    const store = openQueueStore(path);
    const { tasks } = store.load();
    store.close();
    console.log(`result ${JSON.stringify({ opened: true, tasks: tasks.length })}`);
  } catch (err) {
    const { name, code, message } = err as Error & { code?: unknown };
    console.log(`result ${JSON.stringify({ opened: false, name, code, message })}`);
  }
}
