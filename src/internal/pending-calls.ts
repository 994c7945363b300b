/**
 * @packageDocumentation
 * The table of calls waiting for a reply, keyed by a 32-bit correlation id that wraps around and never reuses an id
 * still pending. Each entry carries the disarm function of its deadline, so settling an entry always clears it.
 * @internal
 */

/** One call waiting for its reply. */
export interface PendingCall {
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Clears the call's timer and signal listener. */
  disarm: () => void;
}

const MAX_ID = 0xffff_ffff;

/** Pending calls by correlation id. */
export class PendingCalls<TCall extends PendingCall = PendingCall> {
  readonly #calls = new Map<number, TCall>();
  #nextId = 0;

  /** Calls waiting now. */
  get size(): number {
    return this.#calls.size;
  }

  /** Stores `call` under a fresh id and returns the id. */
  add(call: TCall): number {
    let id = this.#nextId;
    while (this.#calls.has(id)) id = id === MAX_ID ? 0 : id + 1;
    this.#nextId = id === MAX_ID ? 0 : id + 1;
    this.#calls.set(id, call);
    return id;
  }

  /** True while `call` is still the one pending under `id`. */
  holds(id: number, call: TCall): boolean {
    return this.#calls.get(id) === call;
  }

  /** The call under `id`, left in place; undefined when none is pending (late or unknown). */
  get(id: number): TCall | undefined {
    return this.#calls.get(id);
  }

  /** A snapshot of the calls pending now, in the order they were added (safe to settle or re-add while iterating). */
  snapshot(): TCall[] {
    return [...this.#calls.values()];
  }

  /** Removes the call under `id` and disarms its deadline; undefined when none is pending (late or unknown). */
  take(id: number): TCall | undefined {
    const call = this.#calls.get(id);
    if (call === undefined) return undefined;
    this.#calls.delete(id);
    call.disarm();
    return call;
  }

  /** Removes the call under `id` without settling it (its deadline fired: the caller rejects it). */
  forget(id: number): void {
    this.#calls.delete(id);
  }

  /** Removes every call and rejects each with the error `reason(call)` makes. */
  rejectAll(reason: (call: TCall) => Error): void {
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) {
      call.disarm();
      call.reject(reason(call));
    }
  }
}
