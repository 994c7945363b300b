/**
 * @packageDocumentation
 * `Publisher`: publishes typed messages under dot-separated topics on an XPUB socket (wire: `[topic, body]`,
 * docs/protocol.md), and sees the subscriptions that arrive so callers can wait for subscribers instead of sleeping.
 */
import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import { jsonCodec, type Codec } from "./codec.js";
import type { EndpointUse } from "./internal/attach.js";
import { encodeBody } from "./internal/codec-io.js";
import { topicResolver, validationError } from "./internal/contract-check.js";
import {
  InOrder,
  detached,
  outgoingValidators,
  readValidateOutgoing,
  type Validation,
  type Validator,
} from "./internal/validator.js";
import type { InferPublish, TopicContract, TypeLevelError, ValidationOptions, WireTopic } from "./contract.js";
import { readLimits, type LimitOptions } from "./internal/limits.js";
import type { IsUnion } from "./internal/types.js";
import {
  ClosedError,
  InvalidArgumentError,
  OutOfRangeError,
  SubscriberStalledError,
  TimeoutError,
  UnknownTopicError,
  isTypedZmqError,
} from "./errors/index.js";
import { checkSignal, checkTimeout, type DeadlinePlace } from "./internal/deadline.js";
import { RoomWait } from "./internal/room-wait.js";
import { fromZmqError, toError } from "./internal/zmq-errors.js";
import { callHook } from "./internal/hooks.js";
import { emitValidationFailed } from "./internal/events.js";
import { watchConnections } from "./internal/socket-events.js";
import type { ConnectionEvent, SendTimedOutEvent, ValidationFailedEvent } from "./events.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions, type OptionReader } from "./internal/options.js";
import { readLoop } from "./internal/read-loop.js";
import { Outbox, readSendOptions } from "./internal/outbox.js";
import { batchBody } from "./internal/batcher.js";
import { Waiters } from "./internal/waiters.js";
import type { BatchOptions } from "./batch.js";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { multicastSocketOptions } from "./internal/multicast.js";
import type { MulticastOptions } from "./multicast.js";
import { endSpan, readInstrumentation, safeContext, spanError, startSpan } from "./internal/trace.js";
import { encodeHeaders } from "./protocol/headers.js";
import type { Instrumentation, InstrumentationOptions, TraceContext, TraceSpan } from "./tracing.js";
import { encodePubSubBatch, encodePubSubMessage } from "./protocol/pubsub.js";
import type { WaitOptions } from "./signal.js";

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
export interface PublisherOptions extends LimitOptions, InstrumentationOptions, ValidationOptions {
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
  /** Called for every {@link PublisherEvent}: connections and failed validations. Errors it throws are ignored. */
  readonly onEvent?: (event: PublisherEvent) => void;
  /** Multicast settings, used on `pgm://` and `epgm://` endpoints. */
  readonly multicast?: MulticastOptions;
  /**
   * Lossless mode (`ZMQ_XPUB_NODROP`): when a subscriber's queue is full, `publish()` waits until it has room
   * instead of libzmq dropping the message. A slow subscriber then slows the publisher down (backpressure).
   * @defaultValue false (PUB semantics: drop at the high-water mark)
   */
  readonly noDrop?: boolean;
  /**
   * With `noDrop` only: the longest a `publish()` may wait for room (while some subscriber's queue is full because
   * it is not reading) before it fails with a {@link SubscriberStalledError}; the message is then not sent to any
   * subscriber, and the failure is counted in `stats.stalled`. Without it, one stopped subscriber makes every
   * `publish()` wait for as long as it stays stopped (and every other subscriber waits with it). A per-call
   * `timeoutMs` shorter than this wins. Not available with `batch`.
   * @defaultValue none: wait as long as it takes (or the call's own `timeoutMs`/`signal`)
   */
  readonly stallLimitMs?: number;
  /**
   * Coalesce messages published under the same topic into one ZeroMQ message (`[topic, "", packed]`), sent when
   * `maxMessages` or `maxBytes` is reached or `maxDelayMs` has passed; `flush()` sends at once and `close()`
   * flushes. Typed subscribers unpack batches transparently, in order, validating each message; the prefix filtering
   * in libzmq still works because each batch carries its topic. `true` uses the defaults.
   * @defaultValue off: one ZeroMQ message per `publish()`
   */
  readonly batch?: BatchOptions | boolean;
  /**
   * Protocol 1.1: add a headers frame (`[topic, body, H]`, `[topic, "", packed, H]`) carrying `publisherId`, `epoch`
   * (when this publisher started, ms since the epoch), `seq` (1, 2, 3, ... per publisher, over all topics, in
   * wire order) and `topicSeq` (1.3: 1, 2, 3, ... per publisher and exact wire topic); a batch carries the numbers
   * of its first message. With them a typed subscriber counts the messages it missed on each topic it receives
   * (`stats.gaps`, `onGap`). A number is taken when `publish()` is called: a publish that then fails (timeout,
   * abort, stall limit) leaves its number unused, and subscribers count it as missed, which it was. The publisher
   * keeps one counter per wire topic it has published on. Typed subscribers accept the frame, but a **v1
   * subscriber drops every message that has it**: turn it on only when every subscriber speaks 1.1. `true` uses a
   * random `publisherId`; pass `{ publisherId }` to keep one across restarts (the `epoch` then tells them apart).
   * @defaultValue false: v1 frames
   */
  readonly headers?: boolean | PublisherHeadersOptions;
  /**
   * CURVE encryption: a bound publisher is usually the server (`{ certificate, allow }`), a publisher connecting to
   * a forwarder its client (`{ certificate, serverKey }`). Refused on `pgm://`/`epgm://`, where libzmq does not apply it.
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
}

/** Options of the headers frame of a {@link Publisher} (`headers: { publisherId }`). */
export interface PublisherHeadersOptions {
  /**
   * The publisher's id in every headers frame.
   * @defaultValue a random UUID per publisher
   */
  readonly publisherId?: string;
}

/**
 * What {@link PublisherOptions.onEvent} is told: connections of subscribers (or of the forwarder it connects to),
 * and messages refused before they were sent because they broke their topic's schema (`direction: "outgoing"`;
 * `method` is the wire topic).
 */
export type PublisherEvent = ConnectionEvent | ValidationFailedEvent | SendTimedOutEvent;

/** Counters of a {@link Publisher}. */
export interface PublisherStats {
  /** Messages handed to libzmq. */
  readonly published: number;
  /** Live subscriptions (subscriptions minus unsubscriptions), over all subscribers. */
  readonly subscriptions: number;
  /** `noDrop` publishes that failed with a {@link SubscriberStalledError} (the stall limit passed): not sent. */
  readonly stalled: number;
}

/** Options of one {@link Publisher.publish} call. */
export interface PublishOptions extends WaitOptions {
  /**
   * With `noDrop`: the longest this call waits for room before it fails with a {@link TimeoutError} (the message is
   * then not sent). A lossy publisher never waits, so there it only matters if the send queue is busy.
   */
  readonly timeoutMs?: number | undefined;
  /** Cancels the wait for room: the call fails with an {@link AbortedError} and the message is not sent. */
  readonly signal?: AbortSignal | undefined;
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
 * ```ts
 * await using pub = await Publisher.bind("tcp://127.0.0.1:0", Sports);
 * await pub.waitForSubscribers(1, { timeoutMs: 2_000 });
 * await pub.publish("football.Arsenal", { team: "Arsenal", event: "goal", minute: 12 });
 * ```
 */
export class Publisher<TContract extends TopicContract> extends PatternBase<TContract> {
  readonly #socket: zmq.XPublisher;
  readonly #outbox: Outbox<string>;
  readonly #resolve: (topic: string) => string | null;
  /** The validator of each declared topic, resolved once. */
  readonly #validators: ReadonlyMap<string, Validator>;
  /** Keeps messages in publish order while an asynchronous check is pending. */
  readonly #outgoing = new InOrder();
  readonly #onSendFailed = (err: unknown): never => {
    throw fromZmqError(err, `Publisher("${this.contract.name}").publish()`, this.endpoint);
  };
  readonly #config: PublisherConfig;
  /** The built-in JSON codec: batched bodies are written into the batch as text. */
  readonly #json: boolean;
  /** Headers frame for the next `count` messages (advancing `seq`), or undefined without `headers`. */
  readonly #stamp: ((topic: string, count: number, trace?: TraceContext) => Buffer) | undefined;
  readonly #instrumentation: Instrumentation | undefined;
  readonly #room: RoomWait;
  #stalled = 0;
  readonly #subscriptions = new Map<string, number>();
  readonly #waiters = new Waiters();
  readonly #curve: CurveGuard | undefined;
  #readLoop: Promise<void> = Promise.resolve();

  private constructor(contract: TContract, config: PublisherConfig, owner: string) {
    super(checkContract(contract, "topics", owner));
    this.#config = config;
    this.#json = config.codec === jsonCodec;
    this.#instrumentation = config.instrumentation;
    this.#resolve = topicResolver(contract);
    this.#validators = outgoingValidators(contract.topics, config.validateOutgoing);
    this.#stamp = stamper(config.headers);
    const stamp = this.#stamp;
    this.#socket = new zmq.XPublisher({
      linger: config.lingerMs,
      sendHighWaterMark: config.sendHighWaterMark,
      // Pass every subscription and unsubscription up, so they can be counted per subscriber.
      verbosity: "allSubsUnsubs",
      noDrop: config.noDrop,
      ...config.limits.socket,
      ...config.multicast,
      ...curveSocketOptions(config.curve),
    });
    this.#curve = CurveGuard.open(config.curve);
    this.#curve?.watch(this.#socket);
    watchConnections(this.#socket, config.onEvent);
    this.#outbox = new Outbox<string>(this.#socket, { waitWhenFull: config.noDrop }, config.batch, (topic, packed, count) =>
      encodePubSubBatch(topic, packed, stamp?.(topic, count)),
    );
    this.#room = new RoomWait(this.#outbox, config.stallLimitMs);
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
    return Publisher.#open(endpoint, contract, options, "bind");
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
    return Publisher.#open(endpoint, contract, options, "connect");
  }

  static #open<TContract extends TopicContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: PublisherOptions,
    mode: OpenMode,
  ): Promise<Publisher<TContract>> {
    const steps = {
      create: (owner: string) => new Publisher(contract, resolvePublisherOptions(owner, options), owner),
      attach: (pub: Publisher<TContract>, use: EndpointUse) => pub.attach(pub.#socket, endpoint, mode, use),
      start: (pub: Publisher<TContract>) => void (pub.#readLoop = pub.#readSubscriptions()),
    };
    return openPattern(steps, "Publisher", mode, { multicast: true });
  }

  /** A snapshot of the counters. */
  get stats(): PublisherStats {
    return {
      published: this.#outbox.sent,
      subscriptions: this.#countSubscriptions(undefined),
      stalled: this.#stalled,
    };
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
   * @param options - With `noDrop`: `timeoutMs` and `signal` bound the wait for room (not with `batch`).
   * @returns A promise that resolves once libzmq has queued the message. A lossy publisher never waits: at a
   *   subscriber's high-water mark the message is dropped for that subscriber. With `noDrop` it waits until every
   *   subscriber's queue has room, bounded by `timeoutMs`, `signal` and the publisher's `stallLimitMs`.
   * @throws {@link ContractValidationError} (`direction: "outgoing"`) when `data` breaks the schema; nothing is sent.
   * @throws {@link TimeoutError} / {@link AbortedError} when `timeoutMs` passed / `signal` fired while waiting for
   *   room; {@link SubscriberStalledError} when the stall limit passed. In each case the message was not sent.
   * @throws {@link UnknownTopicError} for a topic no declared topic covers; {@link ClosedError} after `close()`.
   */
  publish<TTopic extends WireTopic<TContract>>(
    topic: TTopic,
    data: IsUnion<TTopic> extends true
      ? TypeLevelError<"typed-zmq: publish() needs one topic, not a union of them; narrow the topic first (for example with a switch)">
      : InferPublish<TContract, TTopic>,
    options?: PublishOptions,
  ): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new ClosedError(`Publisher("${this.contract.name}").publish("${topic}") rejected: the publisher is closed.`),
      );
    }
    let declared: string | null;
    let checked: Validation | Promise<Validation>;
    try {
      declared = typeof topic === "string" ? this.#resolve(topic) : null;
      if (declared === null) {
        throw new UnknownTopicError(this.contract.name, topic, Object.keys(this.contract.topics));
      }
      checked = this.#validators.get(declared)!(data);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    // An asynchronous check (or one still pending before this message) keeps the messages in publish order.
    if (checked instanceof Promise || this.#outgoing.busy) {
      const name = declared;
      return this.#outgoing.after(detached(checked), (done) => this.#publishChecked(topic, name, data, done, options, true));
    }
    return this.#publishChecked(topic, declared, data, checked, options, false);
  }

  /** Encodes and sends a checked message (`late`: its check was asynchronous, so the publisher may have closed). */
  #publishChecked(
    topic: string,
    declared: string,
    data: unknown,
    checked: Validation,
    options: PublishOptions | undefined,
    late: boolean,
  ): Promise<void> {
    let body: Uint8Array;
    try {
      if (!checked.ok) {
        throw validationError(checked, {
          direction: "outgoing",
          contract: this.contract.name,
          method: topic,
          what: "Message for",
          schema: `"${declared}" topic`,
          hint: "Nothing was published; fix the payload.",
        });
      }
      if (late && this.closed) {
        throw new ClosedError(
          `Publisher("${this.contract.name}").publish("${topic}") rejected: the publisher was closed while the message was being checked.`,
        );
      }
      if (options !== undefined) this.#checkPublishOptions(topic, options);
      if (this.#outbox.batching) return this.#publishBatched(topic, data);
      body = encodeBody(this.#config.codec, data, `Message for "${this.contract.name}/${topic}"`);
    } catch (err) {
      emitValidationFailed(this.#config.onEvent, err);
      return Promise.reject(toError(err));
    }
    if (this.#instrumentation !== undefined) return this.#tracedSend(topic, body, options);
    return this.#send(topic, encodePubSubMessage(topic, body, this.#stamp?.(topic, 1)), options);
  }

  /**
   * The batched publish: the body goes straight into its topic's batch buffer (JSON text written there, with the
   * built-in codec), and nothing is allocated for the call itself: it returns the shared resolved `DONE`, except for
   * the message that fills a batch, which gets the batch's send (its backpressure). Throws a codec failure.
   */
  #publishBatched(topic: string, data: unknown): Promise<void> {
    const body = batchBody(this.#config.codec, this.#json, data, () => `Message for "${this.contract.name}/${topic}"`);
    const sending = this.#outbox.add(topic, body);
    if (sending === undefined) return DONE;
    return sending.then(
      () => undefined,
      (err: unknown) => {
        throw fromZmqError(err, `Publisher("${this.contract.name}").publish("${topic}")`, this.endpoint);
      },
    );
  }

  /**
   * A publish inside a producer span (a child of the span active where `publish()` is called), whose context the
   * headers frame carries when the publisher sends headers. Batched publishes are not traced.
   */
  #tracedSend(topic: string, body: Uint8Array, options: PublishOptions | undefined): Promise<void> {
    const span: TraceSpan = startSpan(this.#instrumentation!, {
      name: `publish ${topic}`,
      kind: "producer",
      attributes: {
        "messaging.system": "typed-zmq",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": topic,
        "server.address": this.endpointText,
      },
    });
    const stamp = this.#stamp;
    const frames = encodePubSubMessage(topic, body, stamp === undefined ? undefined : stamp(topic, 1, safeContext(span)));
    return this.#send(topic, frames, options).then(
      () => endSpan(span),
      (err: unknown) => {
        endSpan(span, spanError(err));
        throw err;
      },
    );
  }

  #send(topic: string, frames: ReturnType<typeof encodePubSubMessage>, options: PublishOptions | undefined): Promise<void> {
    const bounded = options !== undefined && (options.timeoutMs !== undefined || options.signal !== undefined);
    if (!bounded && !this.#room.limited) return this.#outbox.send(frames).then(this.#outbox.counted, this.#onSendFailed);
    const place = (): DeadlinePlace => this.#publishPlace(topic);
    return this.#room
      .send(frames, options ?? {}, place, () => this.#stalledError(topic))
      .then(this.#outbox.counted, (err: unknown) => {
        if (err instanceof SubscriberStalledError) this.#stalled++;
        if (err instanceof TimeoutError && options?.timeoutMs !== undefined) {
          callHook(this.#config.onEvent, { type: "timed-out", what: "publish", target: topic, afterMs: options.timeoutMs });
        }
        if (isTypedZmqError(err)) throw err; // ours: a timeout, an abort, the stall limit
        return this.#onSendFailed(err);
      });
  }

  /** Refuses bad per-call options before anything is queued. */
  #checkPublishOptions(topic: string, options: PublishOptions): void {
    const what = `Publisher("${this.contract.name}").publish("${topic}")`;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(`${what}: \`options\` must be an object ({ timeoutMs?, signal? }).`);
    }
    if (options.timeoutMs === undefined && options.signal === undefined) return;
    checkTimeout(options.timeoutMs, 0, "timeoutMs", what);
    checkSignal(options.signal, what);
    if (this.#outbox.batching) {
      throw new InvalidArgumentError(
        `${what}: \`timeoutMs\` and \`signal\` are not available with the \`batch\` option (a batch is shared by ` +
          `many publishes). Bound the wait with flush() and close(), or publish without batching.`,
      );
    }
  }

  #publishPlace(topic: string): DeadlinePlace {
    return {
      what: `Publisher("${this.contract.name}").publish("${topic}")`,
      endpoint: this.endpoint,
      waitingFor: `room in every subscriber's queue on ${this.endpointText} (noDrop); the message was not sent`,
      hint: "A subscriber is not reading fast enough: fix or stop it, raise { sendHighWaterMark }, or raise { timeoutMs }.",
    };
  }

  #stalledError(topic: string): SubscriberStalledError {
    return new SubscriberStalledError(
      `Publisher("${this.contract.name}").publish("${topic}")`,
      topic,
      this.#config.stallLimitMs ?? 0,
      this.endpointText,
    );
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
      return Promise.reject(
        new OutOfRangeError(`Publisher.waitForSubscribers: \`count\` must be an integer >= 0, got ${String(count)}.`),
      );
    }
    if (this.closed)
      return Promise.reject(
        new ClosedError(`Publisher("${this.contract.name}").waitForSubscribers() rejected: the publisher is closed.`),
      );
    const place = {
      what: `Publisher("${this.contract.name}").waitForSubscribers(${count}${options.topic === undefined ? "" : `, "${options.topic}"`})`,
      endpoint: this.endpoint,
      waitingFor: `subscriptions on ${this.endpointText}`,
      hint: "Check that the subscribers connect to this endpoint and subscribe to the topic, or raise { timeoutMs }.",
    };
    const live = (): number => this.#countSubscriptions(options.topic);
    return this.#waiters.until(
      () => live() >= count,
      options,
      place,
      10_000,
      () => ` (${live()} live)`,
    );
  }

  #countSubscriptions(topic: string | undefined): number {
    let total = 0;
    for (const [prefix, n] of this.#subscriptions) {
      if (topic === undefined || topic.startsWith(prefix)) total += n;
    }
    return total;
  }

  #readSubscriptions(): Promise<void> {
    return readLoop(this.#socket, (frames) => this.#subscription(frames));
  }

  #subscription(frames: Buffer[]): void {
    const frame = frames[0];
    if (frame === undefined || frame.length === 0 || (frame[0] !== 0 && frame[0] !== 1)) return;
    const subscribed = frame[0] === 1;
    const prefix = frame.subarray(1).toString("utf8");
    const n = (this.#subscriptions.get(prefix) ?? 0) + (subscribed ? 1 : -1);
    if (n > 0) this.#subscriptions.set(prefix, n);
    else this.#subscriptions.delete(prefix);
    callHook(this.#config.onSubscription, { subscribed, prefix });
    this.#waiters.check();
  }

  /**
   * Sends every message waiting in a batch now, and resolves once libzmq has taken everything published so far.
   * Without batching it only waits for the send queue.
   */
  flush(): Promise<void> {
    return this.#outbox.flush();
  }

  /** Waits (up to `lingerMs`) for queued messages to reach libzmq, rejects waiters with {@link ClosedError}, closes the socket. */
  protected override async shutdown(): Promise<void> {
    await this.#outbox.close(this.#config.lingerMs);
    this.#room.close();
    await this.#readLoop;
    this.#curve?.release();
    this.#waiters.rejectAll(
      new ClosedError(
        `Publisher("${this.contract.name}").waitForSubscribers() rejected: the publisher was closed while waiting.`,
      ),
    );
  }
}

type PublisherConfig = ReturnType<typeof resolvePublisherOptions>;

/** Every option checked and frozen before the socket exists. */
function resolvePublisherOptions(owner: string, options: PublisherOptions) {
  return resolveOptions(owner, options, (read) => ({
    ...readSendOptions(read),
    validateOutgoing: readValidateOutgoing(read),
    onSubscription: read.hook<(event: SubscriptionEvent) => void>("onSubscription"),
    onEvent: read.hook<(event: PublisherEvent) => void>("onEvent"),
    multicast: multicastSocketOptions(options.multicast, owner),
    noDrop: read.flag("noDrop", false),
    stallLimitMs: readStallLimit(read, owner),
    // Only the socket options: a publisher reads subscriptions (frame 0) and ignores anything else.
    limits: readLimits(read),
    curve: readCurveOptions(read),
    headers: read.nested("headers", (headers) => ({
      publisherId: headers.optionalString("publisherId") ?? randomUUID(),
      epoch: Date.now(),
    })),
    instrumentation: readInstrumentation(read),
  }));
}

/** `stallLimitMs`: only with `noDrop`, and not with `batch` (a batch's send is shared by many publishes). */
function readStallLimit(read: OptionReader, owner: string): number | undefined {
  const value = read.raw("stallLimitMs");
  if (value === undefined) return undefined;
  const limit = checkTimeout(value as number, 0, "stallLimitMs", owner); // checkTimeout refuses non-numbers
  if (read.raw("noDrop") !== true) {
    throw new InvalidArgumentError(
      `${owner}: \`stallLimitMs\` applies only with \`noDrop: true\` (a lossy publisher never waits for room). ` +
        `Set noDrop: true, or leave stallLimitMs out.`,
    );
  }
  const batch = read.raw("batch");
  if (batch !== undefined && batch !== false) {
    throw new InvalidArgumentError(
      `${owner}: \`stallLimitMs\` is not available with \`batch\` (a batch is shared by many publishes). ` +
        `Leave one of them out.`,
    );
  }
  return limit;
}

/**
 * The headers frame maker of one publisher: `seq` counts every message, in the order they go out; `topicSeq`
 * counts them per exact wire topic.
 */
function stamper(
  headers: { readonly publisherId: string; readonly epoch: number } | undefined,
): ((topic: string, count: number, trace?: TraceContext) => Buffer) | undefined {
  if (headers === undefined) return undefined;
  let seq = 1;
  const topicSeqs = new Map<string, number>();
  return (topic, count, trace) => {
    const topicSeq = topicSeqs.get(topic) ?? 1;
    const numbers = { publisherId: headers.publisherId, epoch: headers.epoch, seq, topicSeq };
    const frame = encodeHeaders(trace === undefined ? numbers : { ...numbers, ...trace });
    seq += count;
    topicSeqs.set(topic, topicSeq + count);
    return frame;
  };
}
