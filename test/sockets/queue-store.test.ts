/**
 * The durable broker's SQLite store (src/internal/queue-store.ts) on real files: what it keeps, one owner at a time
 * (in this process and across processes, and freed by SIGKILL), all-or-nothing commits, and the typed errors of a
 * full, corrupt, unwritable or missing store. No zeromq here; it sits in the sockets project because it touches the
 * file system and child processes, which the unit project does not.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import {
  ErrorCode,
  InvalidArgumentError,
  OutOfRangeError,
  StoreCorruptError,
  StoreFullError,
  StoreLockedError,
  StoreUnavailableError,
  WireErrorCode,
  isStoreCorruptError,
  isStoreFullError,
  isStoreLockedError,
  isStoreUnavailableError,
} from "../../src/index.js";
import {
  MIN_STORE_BYTES,
  STORE_APPLICATION_ID,
  STORE_SCHEMA_VERSION,
  memoryQueueStore,
  openQueueStore,
  type QueueStore,
  type StoreBatch,
  type StoredResult,
  type StoredTask,
} from "../../src/internal/queue-store.js";
import { loadSqlite } from "../../src/internal/sqlite.js";
import { killAll, startProgram } from "../helpers/programs.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const child = "test/helpers/queue-store-child.ts";
const dir = mkdtempSync(join(tmpdir(), "tzmq-store-"));
let files = 0;
const open: QueueStore[] = [];

afterAll(() => {
  for (const store of open) store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A path for a new store in this test's directory. */
function newPath(): string {
  return join(dir, `queue-${++files}.db`);
}

/** Opens a store and closes it after the file's tests. */
function tracked(path: string, options?: Parameters<typeof openQueueStore>[1]): QueueStore {
  const store = openQueueStore(path, options);
  open.push(store);
  return store;
}

function task(n: number, body: Buffer = Buffer.from(`task ${n}`), queue = "jobs.v1"): StoredTask {
  return { queue, id: `src-${n}`, seq: n, body, deliveries: 0 };
}

function result(n: number, status: 0 | 1 | 3 = 0, queue = "jobs.v1"): StoredResult {
  return { queue, id: `src-${n}`, seq: n, status, body: Buffer.from(`result ${n}`) };
}

function batch(parts: Partial<StoreBatch>): StoreBatch {
  return { added: [], delivered: [], completed: [], taken: [], ...parts };
}

/** What `load()` returns, as plain comparable values. */
function snapshot(store: QueueStore): { tasks: unknown[]; results: unknown[] } {
  const { tasks, results } = store.load();
  return {
    tasks: tasks.map((t) => ({ ...t, body: t.body.toString("hex") })),
    results: results.map((r) => ({ ...r, body: r.body.toString("hex") })),
  };
}

/** Runs the child program in "open" mode (as `uid` when given) and returns what it printed. */
async function openInChild(path: string, uid?: number): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", child, "open", path], {
    cwd: root,
    timeout: 20_000,
    ...(uid !== undefined && { uid, gid: uid }),
  });
  const line = stdout.split("\n").find((l) => l.startsWith("result "));
  if (line === undefined) throw new Error(`the child printed no result:\n${stdout}`);
  return JSON.parse(line.slice("result ".length)) as Record<string, unknown>;
}

describe("what a store keeps", () => {
  test("a new file starts empty, and a reopened file returns what was committed, each list by seq", () => {
    const path = newPath();
    const store = openQueueStore(path);
    expect(store.path).toBe(path);
    expect(store.load()).toEqual({ tasks: [], results: [] });
    store.commit(batch({ added: [task(5), task(2), task(9, Buffer.alloc(0)), task(7, Buffer.from([0, 255, 1]), "other")] }));
    store.commit(batch({ completed: [result(9, 1), result(5)] }));
    store.close();

    const again = tracked(path);
    const { tasks, results } = again.load();
    expect(tasks.map((t) => t.id)).toEqual(["src-2", "src-7"]);
    expect(tasks[1]).toEqual({ queue: "other", id: "src-7", seq: 7, body: Buffer.from([0, 255, 1]), deliveries: 0 });
    expect(Buffer.isBuffer(tasks[0]?.body)).toBe(true);
    expect(results).toEqual([result(5), result(9, 1)]);
  });

  test("one batch applies added, delivered, completed and taken in that order", () => {
    const store = tracked(newPath());
    store.commit(batch({ added: [task(1), task(2), task(3)], completed: [] }));
    store.commit(batch({ completed: [result(1)] }));
    // In one batch: a task added and already delivered and completed, a redelivery count, a result taken.
    store.commit(
      batch({
        added: [task(4)],
        delivered: [
          { queue: "jobs.v1", id: "src-2", deliveries: 3 },
          { queue: "jobs.v1", id: "src-4", deliveries: 1 },
        ],
        completed: [result(4, 3)],
        taken: [{ queue: "jobs.v1", id: "src-1" }],
      }),
    );
    const { tasks, results } = store.load();
    expect(tasks.map((t) => [t.id, t.deliveries])).toEqual([
      ["src-2", 3],
      ["src-3", 0],
    ]);
    expect(results).toEqual([result(4, 3)]);
  });

  test("taken deletes the result and a task of the same id still stored (an outcome released unstored from a full store)", () => {
    const store = tracked(newPath());
    store.commit(batch({ added: [task(1), task(2)] }));
    // src-1's outcome never reached the file: the broker offered it to a sink with its task still stored.
    store.commit(batch({ taken: [{ queue: "jobs.v1", id: "src-1" }] }));
    expect(store.load().tasks.map((t) => t.id)).toEqual(["src-2"]);
  });

  test("an added task or result whose (queue, id) is stored replaces it; unknown ids change nothing", () => {
    const store = tracked(newPath());
    store.commit(batch({ added: [task(1), task(1, Buffer.from("same id, other queue"), "other")] }));
    store.commit(batch({ added: [{ ...task(1), body: Buffer.from("again"), seq: 10 }] }));
    store.commit(
      batch({
        delivered: [{ queue: "jobs.v1", id: "nobody", deliveries: 2 }],
        taken: [{ queue: "jobs.v1", id: "nobody" }],
      }),
    );
    const { tasks } = store.load();
    expect(tasks.map((t) => [t.queue, t.id, t.seq, t.body.toString()])).toEqual([
      ["other", "src-1", 1, "same id, other queue"],
      ["jobs.v1", "src-1", 10, "again"],
    ]);
  });

  test("the file is in WAL mode with the exclusive lock (a -wal file, no -shm), and says what it is", async () => {
    const path = newPath();
    const store = openQueueStore(path);
    store.commit(batch({ added: [task(1)] }));
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(`${path}-shm`)).toBe(false);
    store.close();
    const Database = loadSqlite(path);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("application_id", { simple: true })).toBe(STORE_APPLICATION_ID);
      expect(db.pragma("user_version", { simple: true })).toBe(STORE_SCHEMA_VERSION);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      db.close();
    }
  });

  test("close() is idempotent; a closed store refuses load() and commit() with StoreUnavailableError", () => {
    const path = newPath();
    const store = openQueueStore(path);
    store.close();
    store.close();
    expect(() => store.commit(batch({ added: [task(1)] }))).toThrow(StoreUnavailableError);
    expect(() => store.load()).toThrow(/was closed/);
  });

  test("memoryQueueStore() has no path, loads nothing, accepts every batch until closed", () => {
    const store = memoryQueueStore();
    expect(store.path).toBeUndefined();
    store.commit(batch({ added: [task(1)] }));
    expect(store.load()).toEqual({ tasks: [], results: [] });
    store.close();
    store.close();
    expect(() => store.commit(batch({ added: [task(2)] }))).toThrow(StoreUnavailableError);
  });
});

describe("one owner at a time", () => {
  test("a second open in the same process is refused at once with StoreLockedError; after close it opens", () => {
    const path = newPath();
    const first = openQueueStore(path);
    first.commit(batch({ added: [task(1)] }));
    const started = performance.now();
    let err: unknown;
    try {
      openQueueStore(path).close();
    } catch (e) {
      err = e;
    }
    expect(performance.now() - started).toBeLessThan(1_000); // busy_timeout 0: no waiting
    expect(err).toBeInstanceOf(StoreLockedError);
    expect(isStoreLockedError(err)).toBe(true);
    const locked = err as StoreLockedError;
    expect(locked.code).toBe(ErrorCode.STORE_LOCKED);
    expect(locked.path).toBe(path);
    expect(locked.message).toContain(`'${path}'`);
    expect(locked.message).toMatch(/another broker .* has it open.*Close or stop that broker first/);
    expect((locked.cause as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
    // The refused opener did not disturb the owner.
    first.commit(batch({ added: [task(2)] }));
    first.close();
    const second = tracked(path);
    expect(second.load().tasks.map((t) => t.id)).toEqual(["src-1", "src-2"]);
  });

  test(
    "a store held by another process is refused with StoreLockedError, and SIGKILL of the owner frees it with every commit kept",
    { timeout: 30_000 },
    async () => {
      const path = newPath();
      const owner = startProgram("store-owner", child, {}, ["hold", path, "95"]);
      try {
        await owner.waitForLine(/^committed 95$/);
        expect(() => openQueueStore(path)).toThrow(StoreLockedError);
        // A third process is refused too.
        const other = await openInChild(path);
        expect(other).toMatchObject({ opened: false, name: "StoreLockedError", code: "STORE_LOCKED" });

        owner.child.kill("SIGKILL");
        expect(await owner.exited).toBe("SIGKILL");
        const store = tracked(path);
        const { tasks } = store.load();
        expect(tasks).toHaveLength(95);
        expect(tasks[0]).toEqual({ queue: "jobs.v1", id: "child-1", seq: 1, body: Buffer.from("task 1"), deliveries: 0 });
        expect(tasks[94]?.id).toBe("child-95");
      } finally {
        await killAll([owner]);
      }
    },
  );

  test("a store this process owns is refused to another process", { timeout: 30_000 }, async () => {
    const path = newPath();
    const store = openQueueStore(path);
    try {
      expect(await openInChild(path)).toMatchObject({ opened: false, name: "StoreLockedError" });
    } finally {
      store.close();
    }
    expect(await openInChild(path)).toEqual({ opened: true, tasks: 0 });
  });
});

describe("a full store", () => {
  test("a commit past maxBytes throws StoreFullError and stores none of its batch; the store stays usable", () => {
    const path = newPath();
    const store = tracked(path, { maxBytes: MIN_STORE_BYTES });
    const body = Buffer.alloc(1_000, 0x5a);
    let n = 0;
    let full: unknown;
    let before: ReturnType<typeof snapshot> | undefined;
    for (let commits = 0; commits < 200 && full === undefined; commits++) {
      before = snapshot(store);
      const added = Array.from({ length: 8 }, () => task(++n, body));
      try {
        store.commit(batch({ added }));
      } catch (err) {
        full = err;
      }
    }
    expect(full).toBeInstanceOf(StoreFullError);
    expect(isStoreFullError(full)).toBe(true);
    const err = full as StoreFullError;
    expect(err.code).toBe(WireErrorCode.STORE_FULL);
    expect(err.maxBytes).toBe(MIN_STORE_BYTES);
    expect(err.path).toBe(path);
    expect(err.message).toBe(
      `Queue store '${path}' is full: it reached its size limit of ${MIN_STORE_BYTES} bytes (maxStoreBytes), so nothing ` +
        `of this commit was stored. Let sinks take the results waiting in the store, or raise maxStoreBytes.`,
    );
    expect((err.cause as { code?: string }).code).toBe("SQLITE_FULL");
    // All or nothing: exactly what was there before the failed commit (some of its 8 tasks would have fitted).
    expect(before?.tasks.length).toBeGreaterThan(8);
    expect(snapshot(store)).toEqual(before);

    // Completing tasks with small results frees room: the store takes commits again.
    const stored = store.load().tasks;
    store.commit(batch({ completed: stored.slice(0, 16).map((t) => ({ ...t, status: 0 as const, body: Buffer.from("ok") })) }));
    store.commit(batch({ taken: stored.slice(0, 16).map((t) => ({ queue: t.queue, id: t.id })) }));
    store.commit(batch({ added: [task(++n, body)] }));
    expect(store.load().tasks).toHaveLength(stored.length - 16 + 1);
  });
});

describe("a corrupt store", () => {
  test("a file that is not a SQLite database is refused with StoreCorruptError, and left as it was", () => {
    const path = newPath();
    const garbage = Buffer.alloc(8_192, "not a database ");
    writeFileSync(path, garbage);
    let err: unknown;
    try {
      openQueueStore(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreCorruptError);
    expect(isStoreCorruptError(err)).toBe(true);
    expect((err as StoreCorruptError).code).toBe(ErrorCode.STORE_CORRUPT);
    expect((err as StoreCorruptError).path).toBe(path);
    expect((err as Error).message).toBe(
      `Queue store '${path}' cannot be used: it is not a SQLite database. Move the file aside (keep it to inspect or ` +
        `restore it) and start the broker on a new file, or restore a backup of the store.`,
    );
    expect(statSync(path).size).toBe(garbage.length);
    // The refused open released the file: opening it again gives the same error, not a lock error.
    expect(() => openQueueStore(path)).toThrow(StoreCorruptError);
  });

  test("a store damaged inside (a page overwritten) is refused at open by its integrity check", () => {
    const path = newPath();
    const store = openQueueStore(path);
    for (let n = 0; n < 50; n++)
      store.commit(batch({ added: Array.from({ length: 20 }, (_, i) => task(n * 20 + i, Buffer.alloc(200, n))) }));
    store.close(); // checkpoints the WAL into the file
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(40 * 4096);
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xee), 0, 4096, 20 * 4096); // page 21: inside the tasks table
    closeSync(fd);
    expect(() => openQueueStore(path)).toThrow(StoreCorruptError);
    expect(() => openQueueStore(path)).toThrow(/damaged|integrity check failed/);
  });

  test("a short file of text is not a database either; an empty file (`touch queue.db`) becomes a new store", () => {
    const text = newPath();
    writeFileSync(text, "hello");
    expect(() => openQueueStore(text)).toThrow(/it is not a SQLite database/);
    const empty = newPath();
    writeFileSync(empty, "");
    const store = tracked(empty);
    store.commit(batch({ added: [task(1)] }));
    expect(store.load().tasks).toEqual([task(1)]);
  });

  test("a SQLite database that typed-zmq did not write is refused with StoreCorruptError", () => {
    const path = newPath();
    const Database = loadSqlite(path);
    const db = new Database(path);
    db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
    db.close();
    expect(() => openQueueStore(path)).toThrow(StoreCorruptError);
    expect(() => openQueueStore(path)).toThrow(/typed-zmq did not create/);

    const foreign = newPath();
    const other = new Database(foreign);
    other.pragma("application_id = 42");
    other.close();
    expect(() => openQueueStore(foreign)).toThrow(/another application \(application_id 0x2a\)/);
  });

  test("a store written by a newer typed-zmq is refused with StoreUnavailableError saying so", () => {
    const path = newPath();
    openQueueStore(path).close();
    const Database = loadSqlite(path);
    const db = new Database(path);
    db.pragma(`user_version = ${STORE_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openQueueStore(path)).toThrow(StoreUnavailableError);
    expect(() => openQueueStore(path)).toThrow(
      new RegExp(
        `written by a newer typed-zmq \\(store schema version ${STORE_SCHEMA_VERSION + 1}; this one reads versions up to ${STORE_SCHEMA_VERSION}\\)`,
      ),
    );
  });
});

describe("an unwritable or unreachable store", () => {
  function unavailable(path: string): StoreUnavailableError {
    try {
      openQueueStore(path).close();
    } catch (err) {
      expect(isStoreUnavailableError(err)).toBe(true);
      expect((err as StoreUnavailableError).code).toBe(ErrorCode.STORE_UNAVAILABLE);
      expect((err as StoreUnavailableError).path).toBe(path);
      expect((err as Error).message.startsWith(`Queue store '${path}' cannot be used: `)).toBe(true);
      return err as StoreUnavailableError;
    }
    throw new Error(`openQueueStore('${path}') opened`);
  }

  // These hold for root too (CI runs as root, which ignores file permissions).
  test("a directory that does not exist", () => {
    const path = join(dir, "no-such-dir", "queue.db");
    expect(unavailable(path).message).toMatch(/its directory '.*no-such-dir' does not exist.*Create the directory first/);
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
  });

  test("a path under a regular file, and a path that is a directory", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    expect(unavailable(join(file, "queue.db")).message).toMatch(/'.*a-file' is not a directory/);
    expect(unavailable(dir).message).toMatch(/it is a directory/);
  });

  test.runIf(process.platform === "linux")("a file system where no one may create files (procfs)", () => {
    const err = unavailable(`/proc/typed-zmq-${process.pid}.db`);
    expect(err.message).toMatch(/SQLite cannot open or write it|not writable/);
    expect(err.message).toContain("file system is not read-only");
  });

  // Permissions need a process that does not ignore them: as root, the child runs as nobody (uid 65534).
  test.runIf(process.platform === "linux")("a read-only file and a read-only directory", { timeout: 30_000 }, async () => {
    const roDir = mkdtempSync(join(tmpdir(), "tzmq-store-ro-"));
    try {
      const existing = join(roDir, "queue.db");
      const store = openQueueStore(existing);
      store.commit(batch({ added: [task(1)] }));
      store.close();
      chmodSync(existing, 0o444);
      chmodSync(roDir, 0o555);
      const uid = process.getuid?.() === 0 ? 65534 : undefined;
      const onFile = await openInChild(existing, uid);
      expect(onFile).toMatchObject({ opened: false, name: "StoreUnavailableError", code: "STORE_UNAVAILABLE" });
      expect(onFile["message"]).toMatch(/is not writable by this process/);
      const newFile = await openInChild(join(roDir, "new.db"), uid);
      expect(newFile).toMatchObject({ opened: false, name: "StoreUnavailableError" });
      expect(newFile["message"]).toMatch(/its directory '.*' is not writable by this process/);
      expect(existsSync(join(roDir, "new.db"))).toBe(false);
    } finally {
      chmodSync(roDir, 0o755);
      rmSync(roDir, { recursive: true, force: true });
    }
  });

  test("better-sqlite3 is loaded by the first open, not by importing the package or the store", { timeout: 30_000 }, async () => {
    const program = startProgram("store-lazy", child, {}, ["lazy", newPath()]);
    try {
      await program.waitForLine(/^loaded before open: false$/);
      await program.waitForLine(/^loaded after open: true$/);
      expect(await program.exited).toBe(0);
    } finally {
      await killAll([program]);
    }
  });

  test("better-sqlite3 missing: StoreUnavailableError says what to install", () => {
    const path = newPath();
    let err: unknown;
    try {
      loadSqlite(path, "better-sqlite3-not-installed");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toBe(
      `Queue store '${path}' cannot be used: the optional dependency 'better-sqlite3-not-installed' is not installed, ` +
        `and a durable broker keeps its queue in SQLite through it. Install it next to typed-zmq with ` +
        "`npm install better-sqlite3@12`, or run the broker without `store` (in memory).",
    );
    expect((err as { cause?: { code?: string } }).cause?.code).toBe("MODULE_NOT_FOUND");
  });
});

describe("misuse", () => {
  test("a bad path or option is refused before any file is touched", () => {
    expect(() => openQueueStore("")).toThrow(InvalidArgumentError);
    expect(() => openQueueStore(":memory:")).toThrow(/give no `store`/);
    const path = newPath();
    // @ts-expect-error -- "off" is not a synchronous setting
    expect(() => openQueueStore(path, { synchronous: "off" })).toThrow(
      /`synchronous` must be one of "full", "normal", got "off"/,
    );
    expect(() => openQueueStore(path, { maxBytes: 4096 })).toThrow(OutOfRangeError);
    expect(() => openQueueStore(path, { maxBytes: 4096 })).toThrow(`\`maxBytes\` must be at least ${MIN_STORE_BYTES} bytes`);
    expect(() => openQueueStore(path, { maxBytes: 1.5e6 + 0.5 })).toThrow(/`maxBytes` must be a positive integer/);
    expect(existsSync(path)).toBe(false);
  });
});
