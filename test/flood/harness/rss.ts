/**
 * Samples a process's resident set size (VmRSS in /proc/<pid>/status) every 250 ms, and kills the process if it
 * passes a safety cap, so that a test that fails by running out of memory fails without taking the machine (and
 * the other tests running on it) down with it.
 */
import { readFileSync } from "node:fs";

/** One MiB, in bytes. */
export const MiB = 1024 * 1024;

/** VmRSS of `pid` in bytes, or undefined once the process is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** A running sampler. */
export interface RssSampler {
  /** Stops sampling and returns the figures. */
  stop(): {
    readonly samples: number;
    readonly baseline: number;
    readonly peak: number;
    readonly last: number;
    readonly killed: boolean;
  };
}

/** Starts sampling `pid` every `intervalMs`; SIGKILLs it above `capBytes`. */
export function sampleRss(pid: number, capBytes: number, intervalMs = 250): RssSampler {
  const first = rssOf(pid) ?? 0;
  let peak = first;
  let last = first;
  let samples = 1;
  let killed = false;
  const timer = setInterval(() => {
    const rss = rssOf(pid);
    if (rss === undefined) return;
    samples++;
    last = rss;
    peak = Math.max(peak, rss);
    if (rss > capBytes && !killed) {
      killed = true;
      process.kill(pid, "SIGKILL");
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return { samples, baseline: first, peak, last, killed };
    },
  };
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
