/**
 * @packageDocumentation
 * Multicast settings (`pgm://`, `epgm://`) turned into zeromq.js socket options, for `Publisher` and `Subscriber`.
 */
import type { MulticastOptions } from "../multicast.js";
import { checkPositiveInt } from "./options.js";

/**
 * zeromq.js socket options for the given multicast settings (only those that were set).
 */
export function multicastSocketOptions(
  options: MulticastOptions | undefined,
  owner: string,
): { rate?: number; recoveryInterval?: number; multicastHops?: number } {
  if (options === undefined) return {};
  const result: { rate?: number; recoveryInterval?: number; multicastHops?: number } = {};
  if (options.rateKbps !== undefined) result.rate = checkPositiveInt(options.rateKbps, 0, "multicast.rateKbps", owner);
  if (options.recoveryIntervalMs !== undefined) {
    result.recoveryInterval = checkPositiveInt(options.recoveryIntervalMs, 0, "multicast.recoveryIntervalMs", owner);
  }
  if (options.hops !== undefined) result.multicastHops = checkPositiveInt(options.hops, 0, "multicast.hops", owner);
  return result;
}
