/** Records the events a class reports to `onEvent`, and waits (with a bound, no sleeps) for one that matches. */
import { within } from "./deferred.js";

export class EventLog<E extends { readonly type: string }> {
  readonly events: E[] = [];
  readonly #waiters: { readonly match: (event: E) => boolean; readonly resolve: (event: E) => void }[] = [];

  /** The hook to pass as `onEvent`. */
  readonly onEvent = (event: E): void => {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.match(event)) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  };

  /** The recorded events of one type. */
  of<T extends E["type"]>(type: T): Extract<E, { readonly type: T }>[] {
    return this.events.filter((e): e is Extract<E, { readonly type: T }> => e.type === type);
  }

  /**
   * Resolves with the first event of `type` (recorded already, or to come) that `match` accepts; rejects after `ms`
   * with what was seen.
   */
  async next<T extends E["type"]>(
    type: T,
    match: (event: Extract<E, { readonly type: T }>) => boolean = () => true,
    ms = 5_000,
  ): Promise<Extract<E, { readonly type: T }>> {
    const test = (event: E): event is Extract<E, { readonly type: T }> =>
      event.type === type && match(event as Extract<E, { readonly type: T }>);
    const seen = this.events.find(test);
    if (seen !== undefined) return seen;
    const promise = new Promise<Extract<E, { readonly type: T }>>((resolve) => {
      this.#waiters.push({ match: test, resolve: (event) => resolve(event as Extract<E, { readonly type: T }>) });
    });
    try {
      return await within(promise, ms, `a "${type}" event`);
    } catch (err) {
      throw new Error(`${(err as Error).message}; seen: ${JSON.stringify(this.events.map((e) => e.type))}`, { cause: err });
    }
  }
}
