/**
 * A minimal ZAP handler (RFC 27) for the CURVE wiring tests, bound where libzmq looks for one
 * (`inproc://zeromq.zap.01`, default context): it allows a CURVE client whose public key is listed for the
 * request's domain and denies everything else, recording each decision. Real sockets; it stands in for the
 * package's Authenticator only where a test names a `zapDomain` itself.
 */
import * as zmq from "zeromq";
import { z85Decode } from "../../src/security/z85.js";

/** One decision the responder made. */
export interface ZapDecision {
  readonly domain: string;
  readonly mechanism: string;
  readonly allowed: boolean;
}

export class ZapResponder implements AsyncDisposable {
  readonly #router = new zmq.Router({ linger: 0 });
  readonly #allowed = new Map<string, Set<string>>();
  readonly decisions: ZapDecision[] = [];
  #loop: Promise<void> = Promise.resolve();

  static async start(): Promise<ZapResponder> {
    const responder = new ZapResponder();
    await responder.#router.bind("inproc://zeromq.zap.01");
    responder.#loop = responder.#read();
    return responder;
  }

  /** Allows the Z85 public keys `keys` on `domain`. */
  allow(domain: string, keys: readonly string[]): void {
    this.#allowed.set(domain, new Set(keys.map((k) => z85Decode(k).toString("hex"))));
  }

  async #read(): Promise<void> {
    try {
      for await (const frames of this.#router) {
        // [routing id, "", version, request id, domain, address, identity, mechanism, credentials...]
        const [id, , version, requestId, domain, , , mechanism, key] = frames;
        const domainText = domain?.toString() ?? "";
        const mechanismText = mechanism?.toString() ?? "";
        const allowed =
          mechanismText === "CURVE" && key !== undefined && this.#allowed.get(domainText)?.has(key.toString("hex")) === true;
        this.decisions.push({ domain: domainText, mechanism: mechanismText, allowed });
        await this.#router.send([
          id!,
          "",
          version ?? "1.0",
          requestId ?? "",
          allowed ? "200" : "400",
          allowed ? "OK" : "unknown key",
          allowed ? "user" : "",
          "",
        ]);
      }
    } catch {
      // closed
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#router.close();
    await this.#loop;
  }
}
