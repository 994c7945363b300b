/**
 * @packageDocumentation
 * `Subscriber`: receives typed messages of a topic contract on a SUB socket, as an async iterable. Subscriptions
 * are ZeroMQ's own prefix filters, applied inside libzmq.
 *
 * Depends on zeromq, `contract.ts`, `codec.ts`, `endpoint.ts`, `errors.ts`, `lifecycle.ts`, `signal.ts` and `internal/`.
 */
import * as zmq from "zeromq";
import { checkCodec, decodeBody, jsonCodec, type Codec } from "./codec.js";
import { formatIssues, toIssues, topicResolver, type TopicContract, type TopicMessage, type WireTopic } from "./contract.js";
import { ClosedError, MalformedMessageError, type ValidationIssue } from "./errors.js";
import { callHook } from "./internal/hooks.js";
import { Inbox, Many, SKIP, iterate } from "./internal/inbox.js";
import { checkPositiveInt } from "./internal/options.js";
import { strictUtf8 } from "./internal/wire.js";
import { unpack } from "./batch.js";
import { PatternBase, checkContract } from "./lifecycle.js";
import { multicastSocketOptions, type MulticastOptions } from "./multicast.js";
import type { DeadlinePlace, WaitOptions } from "./signal.js";

/** Why a {@link Subscriber} dropped a message. */
export type SubscriberDropReason =
  /** Not two frames, or a topic frame that is not UTF-8. */
  | "malformed"
  /** The topic is not covered by any declared topic. */
  | "unknown-topic"
  /** The codec could not decode the body. */
  | "undecodable"
  /** The body broke its topic's schema. */
  | "invalid";

/** A message a {@link Subscriber} dropped, as reported to `onDrop`. */
export interface SubscriberDropInfo {
  /** Why it was dropped. */
  readonly reason: SubscriberDropReason;
  /** The wire topic, when it could be read. */
  readonly topic: string | undefined;
  /** What was wrong, in words. */
  readonly message: string;
  /** For `invalid`: the schema problems. */
  readonly issues?: readonly ValidationIssue[];
}

/** Counters of a {@link Subscriber}. */
export interface SubscriberStats {
  /** Messages read from the socket. */
  readonly received: number;
  /** Messages yielded to the application. */
  readonly delivered: number;
  /** Messages dropped, by reason. */
  readonly dropped: Readonly<Record<SubscriberDropReason, number>>;
}

/** A prefix a {@link Subscriber} can subscribe to: `""` (everything) or a wire topic or prefix of the contract. */
export type SubscriptionPrefix<TContract extends TopicContract> = "" | WireTopic<TContract>;

/** Options of {@link Subscriber.connect} and {@link Subscriber.bind}. */
export interface SubscriberOptions<TContract extends TopicContract> {
  /**
   * Body codec. Both ends must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Prefixes to subscribe to right away (as with {@link Subscriber.subscribe}). Without any subscription a
   * subscriber receives nothing: that is ZeroMQ's rule.
   */
  readonly topics?: readonly SubscriptionPrefix<TContract>[];
  /**
   * `ZMQ_RCVHWM`: messages queued while the application is not reading. Beyond it the publisher's side drops.
   * @defaultValue 1000
   */
  readonly receiveHighWaterMark?: number;
  /** Called for every dropped message (also counted in {@link Subscriber.stats}). Errors it throws are ignored. */
  readonly onDrop?: (info: SubscriberDropInfo) => void;
  /** Multicast settings, used on `pgm://` and `epgm://` endpoints. */
  readonly multicast?: MulticastOptions;
}

/**
 * Receives messages of a topic contract.
 *
 * Iterate it with `for await`; each value is `{ topic, declared, data }`, where `declared` (the declared topic
 * whose schema checked `data`) narrows the type of `data`. A message that is malformed, has an undeclared topic,
 * cannot be decoded or breaks its schema is never yielded and never throws out of the loop: it is counted in
 * {@link Subscriber.stats} and reported to `onDrop`.
 *
 * Leaving a `for await` loop early does not close the subscriber; `close()` ends every loop.
 *
 * @example
 * await using sub = await Subscriber.connect(pub.endpoint, Sports, { topics: ["football.Arsenal"] });
 * for await (const msg of sub) {
 *   if (msg.declared === "football") console.log(`${msg.data.team}: ${msg.data.event}`);
 * }
 */
export class Subscriber<TContract extends TopicContract> extends PatternBase<TContract> implements AsyncIterable<TopicMessage<TContract>> {
  readonly #socket: zmq.Subscriber;
  readonly #inbox: Inbox<TopicMessage<TContract>>;
  readonly #resolve: (topic: string) => string | null;
  readonly #codec: Codec;
  readonly #onDrop: ((info: SubscriberDropInfo) => void) | undefined;
  #received = 0;
  #delivered = 0;
  readonly #dropped: Record<SubscriberDropReason, number> = { malformed: 0, "unknown-topic": 0, undecodable: 0, invalid: 0 };

  private constructor(contract: TContract, options: SubscriberOptions<TContract>, owner: string) {
    super(checkContract(contract, "topics", owner));
    this.#codec = options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec");
    this.#onDrop = options.onDrop;
    this.#socket = new zmq.Subscriber({
      linger: 0,
      receiveHighWaterMark: checkPositiveInt(options.receiveHighWaterMark, 1000, "receiveHighWaterMark", owner),
      ...multicastSocketOptions(options.multicast, owner),
    });
    this.#resolve = topicResolver(contract);
    this.#inbox = new Inbox(this.#socket, (frames) => this.#parse(frames));
    for (const prefix of options.topics ?? []) this.subscribe(prefix);
  }

  /**
   * Connects to one or more publishers (or a forwarder's XPUB backend); messages from all are fair-queued.
   * Resolves at once: libzmq connects in the background.
   * @throws {@link InvalidEndpointError}, {@link TransportUnavailableError}; `TypeError`/`RangeError` for bad options.
   */
  static async connect<TContract extends TopicContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: SubscriberOptions<TContract> = {},
  ): Promise<Subscriber<TContract>> {
    return Subscriber.#open(new Subscriber(contract, options, "Subscriber.connect"), endpoint, "connect");
  }

  /**
   * Binds a subscriber, so that publishers connect to it.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}, {@link TransportUnavailableError}.
   */
  static override async bind<TContract extends TopicContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: SubscriberOptions<TContract> = {},
  ): Promise<Subscriber<TContract>> {
    return Subscriber.#open(new Subscriber(contract, options, "Subscriber.bind"), endpoint, "bind");
  }

  static async #open<TContract extends TopicContract>(
    sub: Subscriber<TContract>,
    endpoint: string | readonly string[],
    mode: "bind" | "connect",
  ): Promise<Subscriber<TContract>> {
    const owner = mode === "bind" ? "Subscriber.bind" : "Subscriber.connect";
    await sub.attach(sub.#socket, endpoint, mode, { owner, multicast: true });
    return sub;
  }

  /** A snapshot of the counters. */
  get stats(): SubscriberStats {
    return { received: this.#received, delivered: this.#delivered, dropped: { ...this.#dropped } };
  }

  /**
   * Subscribes to every message whose wire topic starts with `prefix` (ZeroMQ prefix matching, done in libzmq):
   * `"football"` receives `football`, `football.Arsenal`, ...; `""` receives everything.
   * @throws {@link ClosedError} after `close()`.
   */
  subscribe(prefix: SubscriptionPrefix<TContract>): void {
    this.#checkOpen("subscribe");
    this.#socket.subscribe(prefix);
  }

  /** Removes one subscription made with {@link Subscriber.subscribe} for exactly this prefix. */
  unsubscribe(prefix: SubscriptionPrefix<TContract>): void {
    this.#checkOpen("unsubscribe");
    this.#socket.unsubscribe(prefix);
  }

  /**
   * Waits for the next valid message.
   * @throws {@link TimeoutError} after `timeoutMs`; {@link AbortedError} when `signal` fires (a message that
   *   arrives after the wait gave up is kept for the next reader); {@link ClosedError} when the subscriber is or
   *   gets closed.
   */
  async receive(options?: WaitOptions): Promise<TopicMessage<TContract>> {
    const bounded = options !== undefined && (options.timeoutMs !== undefined || options.signal !== undefined);
    const result = await this.#inbox.take(bounded ? { timeoutMs: options.timeoutMs, signal: options.signal, place: this.#place() } : undefined);
    if (result.done === true) throw new ClosedError(`Subscriber("${this.contract.name}").receive() rejected: the subscriber is closed.`);
    return result.value;
  }

  #place(): DeadlinePlace {
    return {
      what: `Subscriber("${this.contract.name}").receive()`,
      endpoint: this.endpoint,
      waitingFor: `a message on ${this.endpointText}`,
      hint: "Check that a publisher sends on a subscribed topic, or raise { timeoutMs }.",
    };
  }


  /** Iterates valid messages until `close()`. Leaving the loop early does not close the subscriber. */
  [Symbol.asyncIterator](): AsyncIterableIterator<TopicMessage<TContract>> {
    return iterate(this.#inbox);
  }

  #checkOpen(what: string): void {
    if (this.closed) {
      throw new ClosedError(`Subscriber("${this.contract.name}").${what}() failed: the subscriber is closed.`);
    }
  }

  #drop(reason: SubscriberDropReason, topic: string | undefined, message: string, issues?: readonly ValidationIssue[]): typeof SKIP {
    this.#dropped[reason]++;
    callHook(this.#onDrop, issues === undefined ? { reason, topic, message } : { reason, topic, message, issues });
    return SKIP;
  }

  #parse(frames: Buffer[]): TopicMessage<TContract> | Many<TopicMessage<TContract>> | typeof SKIP {
    const name = this.contract.name;
    const batched = frames.length === 3 && frames[1]!.length === 0;
    if (frames.length !== 2 && !batched) {
      this.#received++;
      return this.#drop("malformed", undefined, `${name}: expected 2 frames [topic, body], got ${frames.length} (a batch is [topic, "", packed]).`);
    }
    let topic: string;
    try {
      topic = strictUtf8.decode(frames[0]!);
    } catch {
      this.#received++;
      return this.#drop("malformed", undefined, `${name}: the topic frame is not valid UTF-8.`);
    }
    const declared = this.#resolve(topic);
    if (!batched) return this.#parseOne(topic, declared, frames[1]!);
    const bodies = unpack(frames[2]!);
    if (bodies === undefined) {
      this.#received++;
      return this.#drop("malformed", topic, `${name}: a batch on "${topic}" has lengths that do not add up to its size.`);
    }
    const messages: TopicMessage<TContract>[] = [];
    for (const body of bodies) {
      const message = this.#parseOne(topic, declared, body);
      if (message !== SKIP) messages.push(message);
    }
    return new Many(messages);
  }

  #parseOne(topic: string, declared: string | null, body: Buffer): TopicMessage<TContract> | typeof SKIP {
    this.#received++;
    const name = this.contract.name;
    if (declared === null) {
      return this.#drop("unknown-topic", topic, `${name}: topic "${topic}" is not covered by any declared topic.`);
    }
    let value: unknown;
    try {
      value = decodeBody(this.#codec, body, `Message on "${name}/${topic}"`);
    } catch (err) {
      return this.#drop("undecodable", topic, err instanceof MalformedMessageError ? err.message : String(err));
    }
    const parsed = this.contract.topics[declared]!.safeParse(value);
    if (!parsed.success) {
      const issues = toIssues(parsed.error);
      return this.#drop(
        "invalid",
        topic,
        `${name}: message on "${topic}" does not match the "${declared}" schema: ${formatIssues(issues)}.`,
        issues,
      );
    }
    this.#delivered++;
    // `data` was just parsed by the schema of `declared`, which is what TopicMessage says.
    return { topic, declared, data: parsed.data } as TopicMessage<TContract>;
  }


  /** Closes the socket; every `for await` loop ends, `receive()` rejects, and messages not yet taken are discarded. Idempotent. */
  protected override async shutdown(): Promise<void> {
    this.#socket.close();
    this.#inbox.end();
  }
}
