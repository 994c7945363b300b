/**
 * @packageDocumentation
 * `Publisher`: publishes typed messages under dot-separated topics on an XPUB socket (wire: `[topic, body]`,
 * docs/protocol.md), and sees the subscriptions that arrive so callers can wait for subscribers instead of sleeping.
 *
 * Depends on zeromq, `contract.ts`, `codec.ts`, `endpoint.ts`, `errors.ts`, `lifecycle.ts`, `signal.ts` and `internal/`.
 */
import * as zmq from "zeromq";
import { checkCodec, encodeBody, jsonCodec, type Codec } from "./codec.js";
import {
  topicResolver,
  validationError,
  type InferPublish,
  type TopicContract,
  type TypeLevelError,
  type WireTopic,
} from "./contract.js";
import type { IsUnion } from "./internal/types.js";
import { ClosedError, UnknownTopicError, fromZmqError } from "./errors.js";
import { OutOfRangeError } from "./errors/index.js";
import { callHook } from "./internal/hooks.js";
import { checkNonNegative, checkPositiveInt } from "./internal/options.js";
import { settleWithin } from "./internal/timing.js";
import { SendQueue } from "./internal/send-queue.js";
import { Waiters } from "./internal/waiters.js";
import { Batcher, batchLimits, type BatchOptions } from "./batch.js";
import { PatternBase, checkContract } from "./lifecycle.js";
import { multicastSocketOptions, type MulticastOptions } from "./multicast.js";
import type { WaitOptions } from "./signal.js";

const EMPTY = Buffer.alloc(0);
const DONE = Promise.resolve();

/** A subscription or unsubscription seen by a {@link Publisher}. */
export interface SubscriptionEvent {
  /** True for a subscription, false for an unsubscription. */
  readonly subscribed: boolean;
  /** The topic prefix (`""` subscribes to everything). */
  readonly prefix: string;
}

/** Options of {@link Publisher.waitForSubscribers}. */
export interface WaitForSubscribersOptions extends WaitOptions {
  /** Count only subscriptions that would receive this wire topic (whose prefix is a prefix of it). */
  readonly topic?: string;
}

/** Options of {@link Publisher.bind} and {@link Publisher.connect}. */
export interface PublisherOptions {
  /**
   * Body codec. Both ends must use the same one.
   * @defaultValue {@link jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * `ZMQ_SNDHWM`: messages queued per subscriber. When a subscriber's queue is full, libzmq **drops** further
   * messages for that subscriber (PUB semantics); a fast publisher and a slow subscriber lose messages.
   * @defaultValue 1000
   */
  readonly sendHighWaterMark?: number;
  /**
   * `ZMQ_LINGER`: how long queued messages may still be delivered after `close()`.
   * @defaultValue 1000
   */
  readonly lingerMs?: number;
  /** Called for every subscription and unsubscription that arrives. Errors it throws are ignored. */
  readonly onSubscription?: (event: SubscriptionEvent) => void;
  /** Multicast settings, used on `pgm://` and `epgm://` endpoints. */
  readonly multicast?: MulticastOptions;
  /**
   * Lossless mode (`ZMQ_XPUB_NODROP`): when a subscriber's queue is full, `publish()` waits until it has room
   * instead of libzmq dropping the message. A slow subscriber then slows the publisher down (backpressure).
   * @defaultValue false (PUB semantics: drop at the high-water mark)
   */
  readonly noDrop?: boolean;
  /**
   * Coalesce messages published under the same topic into one ZeroMQ message (`[topic, "", packed]`), sent when
   * `maxMessages` or `maxBytes` is reached or `maxDelayMs` has passed; `flush()` sends at once and `close()`
   * flushes. Typed subscribers unpack batches transparently, in order, validating each message; the prefix filtering
   * in libzmq still works because each batch carries its topic. `true` uses the defaults.
   * @defaultValue off: one ZeroMQ message per `publish()`
   */
  readonly batch?: BatchOptions | boolean;
}

/** Counters of a {@link Publisher}. */
export interface PublisherStats {
  /** Messages handed to libzmq. */
  readonly published: number;
  /** Live subscriptions (subscriptions minus unsubscriptions), over all subscribers. */
  readonly subscriptions: number;
}

/**
 * Publishes messages of a topic contract.
 *
 * Each message is validated against the schema of the longest declared topic that prefixes its wire topic, then
 * sent as two frames, `[topic, body]`; subscribers filter by topic prefix inside libzmq. A plain ZeroMQ SUB socket
 * in any language can subscribe to the same messages.
 *
 * ZeroMQ's slow-joiner rule applies: messages published before a subscriber's subscription arrives are not
 * delivered to it. Call {@link Publisher.waitForSubscribers} first.
 *
 * @example
 * await using pub = await Publisher.bind("tcp://127.0.0.1:0", Sports);
 * await pub.waitForSubscribers(1, { timeoutMs: 2_000 });
 * await pub.publish("football.Arsenal", { team: "Arsenal", event: "goal", minute: 12 });
 */
export class Publisher<TContract extends TopicContract> extends PatternBase<TContract> {
  readonly #socket: zmq.XPublisher;
  readonly #queue: SendQueue;
  readonly #batcher: Batcher<string> | undefined;
  readonly #resolve: (topic: string) => string | null;
  readonly #onSent = (): void => {
    this.#published++;
  };
  readonly #onSendFailed = (err: unknown): never => {
    throw fromZmqError(err, `Publisher("${this.contract.name}").publish()`, this.endpoint);
  };
  readonly #codec: Codec;
  readonly #lingerMs: number;
  readonly #onSubscription: ((event: SubscriptionEvent) => void) | undefined;
  readonly #subscriptions = new Map<string, number>();
  readonly #waiters = new Waiters();
  #readLoop: Promise<void> = Promise.resolve();
  #published = 0;

  private constructor(contract: TContract, options: PublisherOptions, owner: string) {
    super(checkContract(contract, "topics", owner));
    this.#codec = options.codec === undefined ? jsonCodec : checkCodec(options.codec, "codec");
    this.#lingerMs = checkNonNegative(options.lingerMs, 1_000, "lingerMs", owner);
    this.#onSubscription = options.onSubscription;
    this.#socket = new zmq.XPublisher({
      linger: this.#lingerMs,
      sendHighWaterMark: checkPositiveInt(options.sendHighWaterMark, 1000, "sendHighWaterMark", owner),
      // Pass every subscription and unsubscription up, so they can be counted per subscriber.
      verbosity: "allSubsUnsubs",
      noDrop: options.noDrop === true,
      ...multicastSocketOptions(options.multicast, owner),
    });
    this.#queue = new SendQueue(this.#socket, { waitWhenFull: options.noDrop === true });
    this.#resolve = topicResolver(contract);
    const limits = batchLimits(options.batch, owner);
    this.#batcher =
      limits === undefined
        ? undefined
        : new Batcher<string>(limits, (topic, packed, count) =>
            this.#queue.send([topic, EMPTY, packed]).then(() => {
              this.#published += count;
            }),
          );
  }

  /**
   * Binds a publisher (the usual case: subscribers connect to it). Resolves once bound.
   * @throws {@link InvalidEndpointError}, {@link EndpointInUseError}, {@link TransportUnavailableError}; `TypeError`/`RangeError` for bad options.
   */
  static override async bind<TContract extends TopicContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PublisherOptions = {},
  ): Promise<Publisher<TContract>> {
    return Publisher.#open(new Publisher(contract, options, "Publisher.bind"), endpoint, "bind");
  }

  /**
   * Connects a publisher (for example to a forwarder's XSUB frontend, or to a subscriber that binds).
   * @throws {@link InvalidEndpointError}, {@link TransportUnavailableError}; `TypeError`/`RangeError` for bad options.
   */
  static async connect<TContract extends TopicContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PublisherOptions = {},
  ): Promise<Publisher<TContract>> {
    return Publisher.#open(new Publisher(contract, options, "Publisher.connect"), endpoint, "connect");
  }

  static async #open<TContract extends TopicContract>(
    pub: Publisher<TContract>,
    endpoint: string | readonly string[],
    mode: "bind" | "connect",
  ): Promise<Publisher<TContract>> {
    const owner = mode === "bind" ? "Publisher.bind" : "Publisher.connect";
    await pub.attach(pub.#socket, endpoint, mode, { owner, multicast: true });
    pub.#readLoop = pub.#readSubscriptions();
    return pub;
  }

  /** A snapshot of the counters. */
  get stats(): PublisherStats {
    return { published: this.#published, subscriptions: this.#countSubscriptions(undefined) };
  }

  /** Live subscriptions by prefix, with how many subscribers hold each. */
  get subscriptions(): ReadonlyMap<string, number> {
    return new Map(this.#subscriptions);
  }

  /**
   * Validates and publishes one message.
   *
   * @param topic - The wire topic: a declared topic or `<declared>.<anything>` (`football.Arsenal`).
   * @param data - The payload; its type is the input type of the declared topic's schema.
   * @returns A promise that resolves once libzmq has queued the message. A PUB socket never waits: at a
   *   subscriber's high-water mark the message is dropped for that subscriber.
   * @throws {@link ContractValidationError} (`direction: "outgoing"`) when `data` breaks the schema; nothing is sent.
   * @throws {@link UnknownTopicError} for a topic no declared topic covers; {@link ClosedError} after `close()`.
   */
  publish<TTopic extends WireTopic<TContract>>(
    topic: TTopic,
    data: IsUnion<TTopic> extends true
      ? TypeLevelError<"typed-zmq: publish() needs one topic, not a union of them; narrow the topic first (for example with a switch)">
      : InferPublish<TContract, TTopic>,
  ): Promise<void> {
    if (this.closed) {
      return Promise.reject(new ClosedError(`Publisher("${this.contract.name}").publish("${topic}") rejected: the publisher is closed.`));
    }
    let body: Uint8Array;
    try {
      const declared = typeof topic === "string" ? this.#resolve(topic) : null;
      if (declared === null) {
        throw new UnknownTopicError(this.contract.name, String(topic), Object.keys(this.contract.topics));
      }
      const checked = this.contract.topics[declared]!.safeParse(data);
      if (!checked.success) {
        throw validationError(checked.error, {
          direction: "outgoing",
          contract: this.contract.name,
          method: topic,
          what: "Message for",
          schema: `"${declared}" topic`,
          hint: "Nothing was published; fix the payload.",
        });
      }
      body = encodeBody(this.#codec, data, `Message for "${this.contract.name}/${topic}"`);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#batcher !== undefined) {
      const sending = this.#batcher.add(topic, body);
      if (sending === undefined) return DONE;
      return sending.then(
        () => undefined,
        (err: unknown) => {
          throw fromZmqError(err, `Publisher("${this.contract.name}").publish("${topic}")`, this.endpoint);
        },
      );
    }
    return this.#queue.send([topic, body]).then(this.#onSent, this.#onSendFailed);
  }

  /**
   * Waits until at least `count` subscriptions are live: the cure for ZeroMQ's slow-joiner problem (messages
   * published before a subscription arrives are not delivered to that subscriber).
   *
   * Every subscriber's subscriptions count separately (two subscribers to `football` are two). With `topic`, only
   * subscriptions that would receive that wire topic count.
   *
   * @throws {@link TimeoutError} after `timeoutMs` (default 10 000 ms); {@link AbortedError} when `signal` fires;
   *   {@link ClosedError} when the publisher is closed first.
   */
  waitForSubscribers(count: number, options: WaitForSubscribersOptions = {}): Promise<void> {
    if (!Number.isInteger(count) || count < 0) {
      return Promise.reject(new OutOfRangeError(`Publisher.waitForSubscribers: \`count\` must be an integer >= 0, got ${String(count)}.`));
    }
    if (this.closed) return Promise.reject(new ClosedError(`Publisher("${this.contract.name}").waitForSubscribers() rejected: the publisher is closed.`));
    const place = {
      what: `Publisher("${this.contract.name}").waitForSubscribers(${count}${options.topic === undefined ? "" : `, "${options.topic}"`})`,
      endpoint: this.endpoint,
      waitingFor: `subscriptions on ${this.endpointText}`,
      hint: "Check that the subscribers connect to this endpoint and subscribe to the topic, or raise { timeoutMs }.",
    };
    const live = (): number => this.#countSubscriptions(options.topic);
    return this.#waiters.until(() => live() >= count, options, place, 10_000, () => ` (${live()} live)`);
  }


  #countSubscriptions(topic: string | undefined): number {
    let total = 0;
    for (const [prefix, n] of this.#subscriptions) {
      if (topic === undefined || topic.startsWith(prefix)) total += n;
    }
    return total;
  }

  async #readSubscriptions(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch {
        return; // closed
      }
      const frame = frames[0];
      if (frame === undefined || frame.length === 0 || (frame[0] !== 0 && frame[0] !== 1)) continue;
      const subscribed = frame[0] === 1;
      const prefix = frame.subarray(1).toString("utf8");
      const n = (this.#subscriptions.get(prefix) ?? 0) + (subscribed ? 1 : -1);
      if (n > 0) this.#subscriptions.set(prefix, n);
      else this.#subscriptions.delete(prefix);
      callHook(this.#onSubscription, { subscribed, prefix });
      this.#waiters.check();
    }
  }

  /** Waits (up to `lingerMs`) for queued messages to reach libzmq, rejects waiters with {@link ClosedError}, closes the socket. */
  /**
   * Sends every message waiting in a batch now, and resolves once libzmq has taken everything published so far.
   * Without batching it only waits for the send queue.
   */
  async flush(): Promise<void> {
    await this.#batcher?.flush();
    await this.#queue.idle();
  }

  protected override async shutdown(): Promise<void> {
    await settleWithin(this.flush(), this.#lingerMs);
    this.#socket.close();
    await this.#readLoop;
    this.#waiters.rejectAll(new ClosedError(`Publisher("${this.contract.name}").waitForSubscribers() rejected: the publisher was closed while waiting.`));
  }
}
