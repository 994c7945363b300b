/**
 * @packageDocumentation
 * The durable store of a `PipelineBroker` (design B of issue 12): tasks and outcomes in an SQLite file. PLACEHOLDER
 * on the broker branch: only the interface, a memory store and a stub `openQueueStore`; the store branch replaces
 * this file with the SQLite implementation.
 * @internal
 */

/** The status of a stored outcome (protocol/queue.ts `OutcomeStatus`: OK, FAILED, BROKER_FAILED). */
export type OutcomeStatus = 0 | 1 | 3;

/** A task held by the store until its outcome is committed. */
export interface StoredTask {
  readonly queue: string;
  readonly id: string;
  readonly seq: number;
  readonly body: Buffer;
  readonly deliveries: number;
}

/** An outcome held by the store until a sink has taken it. */
export interface StoredResult {
  readonly queue: string;
  readonly id: string;
  readonly seq: number;
  readonly status: OutcomeStatus;
  readonly body: Buffer;
}

/** The writes of one turn, applied in this order in ONE transaction. */
export interface StoreBatch {
  /** New tasks (deliveries 0). */
  readonly added: readonly StoredTask[];
  /** Delivery counts of dispatched tasks. */
  readonly delivered: readonly { readonly queue: string; readonly id: string; readonly deliveries: number }[];
  /** Delete the task, insert its result. */
  readonly completed: readonly StoredResult[];
  /** Delete results. */
  readonly taken: readonly { readonly queue: string; readonly id: string }[];
}

/** What a broker needs of its store. */
export interface QueueStore {
  /** The file; undefined: memory (no persistence). */
  readonly path: string | undefined;
  /** Everything stored, by seq; called once after open. */
  load(): { readonly tasks: StoredTask[]; readonly results: StoredResult[] };
  /** All or nothing; throws a Store*Error. */
  commit(batch: StoreBatch): void;
  close(): void;
}

/** Options of {@link openQueueStore}. */
export interface QueueStoreOptions {
  readonly synchronous?: "full" | "normal";
  readonly maxBytes?: number;
}

/** Opens (or creates) the store at `path`. Not available on this branch. */
export function openQueueStore(path: string, options?: QueueStoreOptions): QueueStore {
  const given = options === undefined ? "" : ", options";
  throw new Error(`openQueueStore("${path}"${given}): not yet available (the SQLite store comes from the store branch).`);
}

/** A store that keeps nothing: commits succeed at once, load returns nothing. */
export function memoryQueueStore(): QueueStore {
  return {
    path: undefined,
    load: () => ({ tasks: [], results: [] }),
    commit: () => undefined,
    close: () => undefined,
  };
}
