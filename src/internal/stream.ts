/**
 * @packageDocumentation
 * The stream receivers' mechanics, written once for `Subscriber` and `PipelineSink`: a pull-based reader for one
 * socket ({@link Inbox}: the single read loop that zeromq.js allows, one pending `receive()`, driven by whoever is
 * waiting, with per-wait deadlines that never lose a message), and {@link MessageStream}, which adds `receive()`
 * with a deadline, the async iterator, and the received/dropped counters with the `onDrop` hook.
 * @internal
 */
import { ClosedError } from "../errors/index.js";
import type { WaitOptions } from "../signal.js";
import { checkSignal, checkTimeout, watchDeadline, type DeadlinePlace } from "./deadline.js";
import { toError } from "./zmq-errors.js";
import { callHook } from "./hooks.js";

/** Returned by a parser to skip a message (it has been counted and reported). */
export const SKIP: unique symbol = Symbol("skip");

/** Returned by a parser for a batch: several items from one ZeroMQ message, in order. */
export class Many<T> {
  /** The items, in order; the inbox that receives them may keep the array as its stash (no one else holds it). */
  readonly items: T[];
  constructor(items: T[]) {
    this.items = items;
  }
}

/**
 * Where an {@link Inbox} reads from: a socket (`receive()` gives its multipart messages), or any other source of
 * messages with the same contract (one pending `receive()` at a time; it rejects once the source has ended).
 * @internal
 */
export interface Receiver<TRaw> {
  receive(): Promise<TRaw>;
}

/** What a parser returns for one ZeroMQ message: an item, a batch, or {@link SKIP}. */
export type Parsed<T> = T | Many<T> | typeof SKIP;

/**
 * A parser: a promise only when a schema checks asynchronously; the inbox then waits for it before it reads the
 * next message, so items keep their order.
 */
export type Parser<T, TRaw> = (frames: TRaw) => Parsed<T> | Promise<Parsed<T>>;

/**
 * Parses the `count` messages of a batch, in order, into one {@link Many} (skipped ones left out). A promise only
 * when some message's check is asynchronous: from the first such one on, the rest are checked at once and their
 * results awaited in order.
 */
export function parseAll<T>(
  count: number,
  parse: (index: number) => T | typeof SKIP | Promise<T | typeof SKIP>,
): Many<T> | Promise<Many<T>> {
  const items: T[] = [];
  for (let i = 0; i < count; i++) {
    const item = parse(i);
    if (item instanceof Promise) return parseRest(items, item, i + 1, count, parse);
    if (item !== SKIP) items.push(item);
  }
  return new Many(items);
}

async function parseRest<T>(
  items: T[],
  first: Promise<T | typeof SKIP>,
  from: number,
  count: number,
  parse: (index: number) => T | typeof SKIP | Promise<T | typeof SKIP>,
): Promise<Many<T>> {
  const pending: (T | typeof SKIP | Promise<T | typeof SKIP>)[] = [first];
  for (let i = from; i < count; i++) pending.push(parse(i));
  for (const one of pending) {
    const item = await one;
    if (item !== SKIP) items.push(item);
  }
  return new Many(items);
}

interface Waiter<T> {
  readonly resolve: (result: IteratorResult<T, undefined>) => void;
}

/** How long one `take()` may wait; no deadline when both are absent. */
export interface TakeDeadline {
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly place: DeadlinePlace;
}

const DONE: IteratorResult<never, undefined> = { value: undefined, done: true };

/**
 * Reads multipart messages from a socket only while someone waits for one, parses each, and hands every parsed
 * item to exactly one waiter. A waiter that gives up (timeout, abort) leaves the message for the next one.
 * Ends (every waiter gets `done`) when the socket is closed.
 * @internal
 */
export class Inbox<T, TRaw = Buffer[]> {
  readonly #socket: Receiver<TRaw>;
  readonly #parse: Parser<T, TRaw>;
  /** Items parsed but not handed out yet: `#stash[#head]` is the next one (an index, not `shift()`, per item). */
  #stash: T[] = [];
  #head = 0;
  #waiters: Waiter<T>[] = [];
  #pumping = false;
  #ended = false;

  constructor(socket: Receiver<TRaw>, parse: Parser<T, TRaw>) {
    this.#socket = socket;
    this.#parse = parse;
  }

  /**
   * Waits for the next item; `done` once the socket is closed. Rejects only on the deadline. `handed` is called with
   * the item, synchronously, at the moment this take's promise is resolved with it (so never for an item that a
   * timed-out or aborted take leaves for the next one).
   */
  take(deadline?: TakeDeadline, handed?: (item: T) => void): Promise<IteratorResult<T, undefined>> {
    if (this.#ended) return Promise.resolve(DONE);
    if (this.#head < this.#stash.length) {
      const item = this.#next();
      handed?.(item);
      return Promise.resolve({ value: item, done: false });
    }
    const bounded = deadline !== undefined && (deadline.timeoutMs !== undefined || deadline.signal !== undefined);
    if (!bounded && !this.#pumping && this.#waiters.length === 0) return this.#direct(handed);
    try {
      checkSignal(deadline?.signal, deadline?.place.what ?? "receive()");
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return new Promise((resolve, reject) => {
      let disarm: (() => void) | undefined;
      const waiter: Waiter<T> = {
        resolve: (result) => {
          disarm?.();
          if (handed !== undefined && result.done !== true) handed(result.value);
          resolve(result);
        },
      };
      this.#waiters.push(waiter);
      if (deadline !== undefined && (deadline.timeoutMs !== undefined || deadline.signal !== undefined)) {
        disarm = watchDeadline(deadline.timeoutMs ?? 2_147_483_647, deadline.signal, deadline.place, (error) => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(error);
        });
        if (!this.#waiters.includes(waiter)) return; // the signal had already fired
      }
      void this.#pump();
    });
  }

  /** Puts items back at the front, in order, for the next readers (used when a multi-item wait gives up). */
  putBack(items: readonly T[]): void {
    this.#stash = [...items, ...this.#stash.slice(this.#head)];
    this.#head = 0;
    // Readers already waiting get them first, in order.
    while (this.#head < this.#stash.length && this.#waiters.length > 0) {
      this.#waiters.shift()?.resolve({ value: this.#next(), done: false });
    }
  }

  /** Takes the next stashed item (there is one). */
  #next(): T {
    const item = this.#stash[this.#head] as T;
    if (++this.#head === this.#stash.length) {
      this.#stash = [];
      this.#head = 0;
    }
    return item;
  }

  /** Ends the inbox (its owner was closed): waiters get `done`, and so does every later `take()`. */
  end(): void {
    this.#ended = true;
    this.#stash = [];
    this.#head = 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(DONE);
  }

  #deliver(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve({ value: item, done: false });
    else this.#stash.push(item);
  }

  /** The common case, one reader without a deadline: read and parse in the reader's own call, with no hand-off. */
  async #direct(handed: ((item: T) => void) | undefined): Promise<IteratorResult<T, undefined>> {
    this.#pumping = true;
    try {
      for (;;) {
        let frames: TRaw;
        try {
          frames = await this.#socket.receive();
        } catch {
          this.end();
          return DONE;
        }
        let item = this.#parse(frames);
        if (item instanceof Promise) item = await item; // an asynchronous check: the next read waits for it
        if (item === SKIP) continue;
        const first = item instanceof Many ? this.#stashAllButFirst(item.items) : item;
        if (first === SKIP) continue;
        handed?.(first);
        return { value: first, done: false };
      }
    } finally {
      this.#pumping = false;
      if (this.#waiters.length > 0) void this.#pump();
    }
  }

  /**
   * Stashes a batch's items after the first and returns the first. The stash is empty here (this reader was the
   * only one and found none), so the batch's array becomes the stash as it is: no copy per item.
   */
  #stashAllButFirst(items: T[]): T | typeof SKIP {
    if (items.length === 0) return SKIP;
    if (this.#head === this.#stash.length && items.length > 1) {
      this.#stash = items;
      this.#head = 1;
    } else {
      for (let i = 1; i < items.length; i++) this.#stash.push(items[i] as T);
    }
    return items[0] as T;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waiters.length > 0 && !this.#ended) {
        let frames: TRaw;
        try {
          frames = await this.#socket.receive();
        } catch {
          // The socket was closed (zeromq.js rejects the pending receive), or failed for good: either way, end.
          this.end();
          break;
        }
        let item = this.#parse(frames);
        if (item instanceof Promise) item = await item; // an asynchronous check: the next read waits for it
        if (item === SKIP) continue;
        if (item instanceof Many) {
          for (const one of item.items) this.#deliver(one);
        } else {
          this.#deliver(item);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }
}

/**
 * An async iterator over an inbox. Leaving a `for await` loop early does not close the owner.
 * @internal
 */
export function iterate<T, TRaw>(inbox: Inbox<T, TRaw>, handed?: (item: T) => void): AsyncIterableIterator<T> {
  return {
    next: () => inbox.take(undefined, handed),
    return: () => Promise.resolve(DONE),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** What every drop report carries: the reason it is counted under. @internal */
export interface DropReport<TReason extends string> {
  readonly reason: TReason;
}

/**
 * A typed stream over one socket: an {@link Inbox} fed by the owner's parser, `receive()` with a deadline, the
 * async iterator, and the counters. The parser calls {@link MessageStream.count} for every message it reads and
 * returns {@link MessageStream.drop} for every message it refuses.
 * @internal
 */
export class MessageStream<T, TReason extends string, TInfo extends DropReport<TReason>, TRaw = Buffer[]> {
  readonly #inbox: Inbox<T, TRaw>;
  readonly #dropped: Record<TReason, number>;
  readonly #onDrop: ((info: TInfo) => void) | undefined;
  readonly #handed: ((item: T) => void) | undefined;
  #received = 0;

  /**
   * @param reasons - Every drop reason, so each counter starts at 0.
   * @param onDrop - The user's hook; what it throws is ignored.
   * @param handed - Called synchronously with each item `receive()` or the iterator hands out, as its promise is
   *   resolved (not for {@link MessageStream.take}, whose caller decides when its items are handed).
   */
  constructor(
    socket: Receiver<TRaw>,
    parse: Parser<T, TRaw>,
    reasons: readonly TReason[],
    onDrop: ((info: TInfo) => void) | undefined,
    handed?: (item: T) => void,
  ) {
    this.#inbox = new Inbox(socket, parse);
    this.#onDrop = onDrop;
    this.#handed = handed;
    this.#dropped = Object.fromEntries(reasons.map((r) => [r, 0])) as Record<TReason, number>; // every reason, at 0
  }

  /** Messages read (each message of a batch counts). */
  get received(): number {
    return this.#received;
  }

  /** A copy of the drop counters. */
  get dropped(): Readonly<Record<TReason, number>> {
    return { ...this.#dropped };
  }

  /** Counts one message read. */
  count(): void {
    this.#received++;
  }

  /** Counts and reports a refused message; returns {@link SKIP} for the parser to return. */
  drop(info: TInfo): typeof SKIP {
    this.#dropped[info.reason]++;
    callHook(this.#onDrop, info);
    return SKIP;
  }

  /**
   * Waits for the next item. `place` describes the wait for timeout messages; `closed` is the error once the
   * stream has ended.
   */
  async receive(options: WaitOptions | undefined, place: () => DeadlinePlace, closed: () => ClosedError): Promise<T> {
    const bounded = options !== undefined && (options.timeoutMs !== undefined || options.signal !== undefined);
    const timeoutMs = bounded ? checkTimeout(options.timeoutMs, 2_147_483_647, "timeoutMs") : undefined;
    const deadline = bounded ? { timeoutMs, signal: options.signal, place: place() } : undefined;
    const result = await this.#inbox.take(deadline, this.#handed);
    if (result.done === true) throw closed();
    return result.value;
  }

  /** The inbox's `take()`, for waits that need more than one item (`collect`). */
  take(deadline: TakeDeadline): Promise<IteratorResult<T, undefined>> {
    return this.#inbox.take(deadline);
  }

  /** Puts items back for the next readers, in order. */
  putBack(items: readonly T[]): void {
    this.#inbox.putBack(items);
  }

  /** An async iterator; leaving a `for await` loop early does not close the owner. */
  iterator(): AsyncIterableIterator<T> {
    return iterate(this.#inbox, this.#handed);
  }

  /** Ends the stream (the owner closed its socket): waits get `done`, later receives the `closed` error. */
  end(): void {
    this.#inbox.end();
  }
}
