import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The transports every behavioural suite runs over. */
export const TRANSPORTS = ["inproc", "ipc", "tcp"] as const;
export type TestTransport = (typeof TRANSPORTS)[number];

/**
 * A fresh endpoint to bind to: an ephemeral tcp port on loopback (read the real one back after bind),
 * a unique ipc path under the OS temp dir, or a unique inproc name.
 */
export function endpointFor(transport: TestTransport): string {
  const id = randomUUID().slice(0, 12);
  switch (transport) {
    case "tcp":
      return "tcp://127.0.0.1:0";
    case "ipc":
      return `ipc://${join(tmpdir(), `tzmq-${process.pid}-${id}.sock`)}`;
    case "inproc":
      return `inproc://tzmq-${id}`;
  }
}
