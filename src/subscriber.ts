/**
 * @packageDocumentation
 * `Subscriber`: receives typed messages of a topic contract on a SUB socket, as an async iterable. Subscriptions
 * are ZeroMQ's own prefix filters, applied inside libzmq.
 */
import * as zmq from "zeromq";
import type { CurveOptions } from "./curve.js";
import { CurveGuard, curveSocketOptions, readCurveOptions } from "./internal/curve.js";
import type { Codec } from "./codec.js";
import type { TopicContract, TopicMessage, WireTopic } from "./contract.js";
import { ClosedError, InvalidArgumentError, MalformedMessageError, type ValidationIssue } from "./errors/index.js";
import type { EndpointUse } from "./internal/attach.js";
import { decodeBody } from "./internal/codec-io.js";
import { formatIssues, topicResolver } from "./internal/contract-check.js";
import { validatorsOf, type Validation, type Validator } from "./internal/validator.js";
import type { DeadlinePlace } from "./internal/deadline.js";
import { readLimits, tooManyFrames, type LimitOptions } from "./internal/limits.js";
import { openPattern, type OpenMode } from "./internal/open.js";
import { resolveOptions } from "./internal/options.js";
import { MessageStream, SKIP, parseAll, type Parsed } from "./internal/stream.js";
import { PatternBase, checkContract } from "./internal/lifecycle.js";
import { multicastSocketOptions } from "./internal/multicast.js";
import type { MulticastOptions } from "./multicast.js";
import { matchesAtBoundary, parsePubSub } from "./protocol/pubsub.js";
import { endSpan, readInstrumentation, startSpan } from "./internal/trace.js";
import type { MessageHeaders } from "./protocol/headers.js";
import { readTraceContext } from "./protocol/trace-context.js";
import type { InstrumentationOptions, TraceSpan } from "./tracing.js";
import { GAP_STREAMS, GapTracker } from "./internal/gap-tracker.js";
import { callHook } from "./internal/hooks.js";
import { dropHook } from "./internal/events.js";
import { watchConnections } from "./internal/socket-events.js";
import type { ConnectionEvent, DroppedEvent, ValidationFailedEvent } from "./events.js";
import type { WaitOptions } from "./signal.js";

/** Why a {@link Subscriber} dropped a message. */
export type SubscriberDropReason =
  /** Not one of the pub-sub shapes (docs/protocol.md), a topic frame that is not UTF-8, or a bad headers frame. */
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

/**
 * A run of messages a {@link Subscriber} did not receive on one topic from one publisher, seen from the publisher's
 * `topicSeq` numbers (publishers created with `headers`): reported to `onGap` and counted in `stats.gaps`.
 */
export interface SubscriberGap {
  /** The wire topic. */
  readonly topic: string;
  /** The publisher's id, from its headers. */
  readonly publisherId: string;
  /** The publisher's epoch (when it started), from its headers. */
  readonly epoch: number;
  /** How many messages were missed: `to - from + 1`. */
  readonly missed: number;
  /** The first missed `topicSeq`. */
  readonly from: number;
  /** The last missed `topicSeq`. */
  readonly to: number;
}

/**
 * What {@link SubscriberOptions.onEvent} is told: connections to publishers (or forwarders), messages that broke
 * their topic's schema (`direction: "incoming"`; `method` is the wire topic; the message was dropped), and every
 * dropped message (the same information as `onDrop`).
 */
export type SubscriberEvent =
  | ConnectionEvent
  | ValidationFailedEvent
  | DroppedEvent<SubscriberDropInfo>
  /** Messages missing in a publisher's `topicSeq` numbers: the same information as `onGap`, with `type: "gap"`. */
  | ({ readonly type: "gap" } & SubscriberGap);

/** Counters of a {@link Subscriber}. */
export interface SubscriberStats {
  /** Messages read from the socket. */
  readonly received: number;
  /** Messages yielded to the application. */
  readonly delivered: number;
  /** Messages dropped, by reason. */
  readonly dropped: Readonly<Record<SubscriberDropReason, number>>;
  /**
   * ZeroMQ messages that libzmq's byte-prefix filter let through but no subscription matches at a dot boundary
   * (`price.GOOGL` for a subscription to `price.GOOG`): discarded quietly, not counted in `received` or `dropped`
   * and not reported to `onDrop`, since they are not errors. A batch counts once.
   */
  readonly filtered: number;
  /**
   * Messages missed, over all topics: the jumps in the `topicSeq` numbers of publishers created with `headers`
   * (dropped at a high-water mark or lost in transit). Only losses between two messages received on a topic can be
   * seen: not those before the first message received on it, nor those after the last.
   */
  readonly gaps: number;
  /** {@link SubscriberStats.gaps} by wire topic (at most 10,000 topics; gaps on further topics count only in `gaps`). */
  readonly gapsByTopic: Readonly<Record<string, number>>;
  /**
   * Messages whose `topicSeq` was at or below the last one seen on their topic: duplicates, or messages that arrived
   * out of order (through two forwarders, say). Delivered as usual, never counted as gaps. A batch counts once.
   */
  readonly outOfOrder: number;
}

/**
 * How a subscription matches wire topics.
 * - `"boundary"`: the topic equals the subscription or continues it after a dot (`price.GOOG` receives `price.GOOG`
 *   and `price.GOOG.x`, not `price.GOOGL`). A subscription ending in `.`, and `""`, match every topic they prefix.
 * - `"prefix"`: libzmq's raw byte prefix (`price.GOOG` also receives `price.GOOGL`), the behaviour before 0.2.
 */
export type TopicMatch = "boundary" | "prefix";

/** Options of {@link Subscriber.subscribe} and {@link Subscriber.unsubscribe}. */
export interface SubscribeOptions {
  /**
   * How this subscription matches wire topics.
   * @defaultValue the subscriber's `match` option (`"boundary"` unless set)
   */
  readonly match?: TopicMatch;
}

/** A prefix a {@link Subscriber} can subscribe to: `""` (everything) or a wire topic or prefix of the contract. */
export type SubscriptionPrefix<TContract extends TopicContract> = "" | WireTopic<TContract>;

/** Options of {@link Subscriber.connect} and {@link Subscriber.bind}. */
export interface SubscriberOptions<TContract extends TopicContract> extends LimitOptions, InstrumentationOptions {
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
  /**
   * Called for every gap seen in a publisher's `topicSeq` numbers (also counted in `stats.gaps`), when the
   * message after it arrives. Needs a publisher created with `headers`. Errors it throws are ignored.
   */
  readonly onGap?: (gap: SubscriberGap) => void;
  /**
   * Called for every {@link SubscriberEvent}: connections, failed validations and drops (after `onDrop`). Errors it
   * throws are ignored.
   */
  readonly onEvent?: (event: SubscriberEvent) => void;
  /** Multicast settings, used on `pgm://` and `epgm://` endpoints. */
  readonly multicast?: MulticastOptions;
  /**
   * How subscriptions match wire topics, unless {@link Subscriber.subscribe} says otherwise: at dot boundaries
   * (`"boundary"`), or by libzmq's raw byte prefix (`"prefix"`, the behaviour before 0.2). See {@link TopicMatch}.
   * @defaultValue "boundary"
   */
  readonly match?: TopicMatch;
  /**
   * CURVE encryption: a subscriber connecting to a publisher is its client (`{ certificate, serverKey }`); a bound
   * subscriber is the server (`{ certificate, allow }`). Refused on `pgm://`/`epgm://`, where libzmq does not apply it.
   * @defaultValue none: plaintext
   */
  readonly curve?: CurveOptions;
}

/** Live subscriptions of one prefix, by how they match. */
interface Held {
  boundary: number;
  prefix: number;
}

const DROP_REASONS: readonly SubscriberDropReason[] = ["malformed", "unknown-topic", "undecodable", "invalid"];

/**
 * Receives messages of a topic contract.
 *
 * Subscriptions match at dot boundaries by default: `subscribe("price.GOOG")` receives `price.GOOG` and
 * `price.GOOG.x`, not `price.GOOGL` (pass `{ match: "prefix" }` for libzmq's raw byte prefix). libzmq filters by
 * prefix first; the boundary check then runs on the few messages that pass it.
 *
 * Iterate it with `for await`; each value is `{ topic, declared, data }`, where `declared` (the declared topic
 * whose schema checked `data`) narrows the type of `data`. A message that is malformed, has an undeclared topic,
 * cannot be decoded or breaks its schema is never yielded and never throws out of the loop: it is counted in
 * {@link Subscriber.stats} and reported to `onDrop`.
 *
 * Leaving a `for await` loop early does not close the subscriber; `close()` ends every loop.
 *
 * @example
 * ```ts
 * await using sub = await Subscriber.connect(pub.endpoint, Sports, { topics: ["football.Arsenal"] });
 * for await (const msg of sub) {
 *   if (msg.declared === "football") console.log(`${msg.data.team}: ${msg.data.event}`);
 * }
 * ```
 */
export class Subscriber<TContract extends TopicContract>
  extends PatternBase<TContract>
  implements AsyncIterable<TopicMessage<TContract>>
{
  readonly #socket: zmq.Subscriber;
  readonly #stream: MessageStream<TopicMessage<TContract>, SubscriberDropReason, SubscriberDropInfo>;
  readonly #resolve: (topic: string) => string | null;
  /** The validator of each declared topic, resolved once. */
  readonly #validators: ReadonlyMap<string, Validator>;
  readonly #config: SubscriberConfig<TContract>;
  readonly #held = new Map<string, Held>();
  readonly #curve: CurveGuard | undefined;
  /** Subscriptions the boundary check must try, or undefined when every message libzmq passes matches. */
  #checks: { readonly prefix: readonly string[]; readonly boundary: readonly string[] } | undefined;
  #delivered = 0;
  #filtered = 0;
  readonly #gapTracker = new GapTracker(GAP_STREAMS);
  #gaps = 0;
  readonly #gapsByTopic = new Map<string, number>();
  #outOfOrder = 0;

  private constructor(contract: TContract, config: SubscriberConfig<TContract>, owner: string) {
    super(checkContract(contract, "topics", owner));
    this.#config = config;
    this.#resolve = topicResolver(contract);
    this.#validators = validatorsOf(contract.topics);
    this.#socket = new zmq.Subscriber({
      linger: 0,
      receiveHighWaterMark: config.receiveHighWaterMark,
      ...config.limits.socket,
      ...config.multicast,
      ...curveSocketOptions(config.curve),
    });
    this.#curve = CurveGuard.open(config.curve);
    this.#curve?.watch(this.#socket);
    watchConnections(this.#socket, config.onEvent);
    const onDrop = dropHook(config.onDrop, config.onEvent, contract.name, (info) => info.topic ?? "");
    this.#stream = new MessageStream(this.#socket, (frames) => this.#parse(frames), DROP_REASONS, onDrop);
    for (const prefix of config.topics) this.subscribe(prefix);
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
    return Subscriber.#open(endpoint, contract, options, "connect");
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
    return Subscriber.#open(endpoint, contract, options, "bind");
  }

  static #open<TContract extends TopicContract>(
    endpoint: string | readonly string[],
    contract: TContract,
    options: SubscriberOptions<TContract>,
    mode: OpenMode,
  ): Promise<Subscriber<TContract>> {
    const steps = {
      create: (owner: string) => new Subscriber(contract, resolveSubscriberOptions(owner, options), owner),
      attach: (sub: Subscriber<TContract>, use: EndpointUse) => sub.attach(sub.#socket, endpoint, mode, use),
    };
    return openPattern(steps, "Subscriber", mode, { multicast: true });
  }

  /** A snapshot of the counters. */
  get stats(): SubscriberStats {
    return {
      received: this.#stream.received,
      delivered: this.#delivered,
      dropped: this.#stream.dropped,
      filtered: this.#filtered,
      gaps: this.#gaps,
      gapsByTopic: Object.fromEntries(this.#gapsByTopic),
      outOfOrder: this.#outOfOrder,
    };
  }

  /**
   * Subscribes to the wire topics that match `prefix`: at a dot boundary by default (`"football"` receives
   * `football` and `football.Arsenal`, not `footballers`), or by raw byte prefix with `{ match: "prefix" }`.
   * `""` receives everything. libzmq does the prefix filtering; each call adds one subscription (call
   * {@link Subscriber.unsubscribe} as many times to remove them).
   * @throws {@link ClosedError} after `close()`; `TypeError` for a prefix that is not a string or a bad `match`.
   */
  subscribe(prefix: SubscriptionPrefix<TContract>, options?: SubscribeOptions): void {
    this.#checkOpen("subscribe");
    const match = this.#matchOf("subscribe", prefix, options);
    this.#socket.subscribe(prefix);
    const held = this.#held.get(prefix) ?? { boundary: 0, prefix: 0 };
    held[match]++;
    this.#held.set(prefix, held);
    this.#updateChecks();
  }

  /**
   * Removes one subscription made with {@link Subscriber.subscribe} for exactly this prefix: one with the given
   * `match` if there is one, otherwise one with the other `match`.
   */
  unsubscribe(prefix: SubscriptionPrefix<TContract>, options?: SubscribeOptions): void {
    this.#checkOpen("unsubscribe");
    const match = this.#matchOf("unsubscribe", prefix, options);
    this.#socket.unsubscribe(prefix);
    const held = this.#held.get(prefix);
    if (held === undefined) return;
    const other = match === "boundary" ? "prefix" : "boundary";
    held[held[match] > 0 ? match : other]--;
    if (held.boundary + held.prefix === 0) this.#held.delete(prefix);
    this.#updateChecks();
  }

  #matchOf(what: string, prefix: unknown, options: SubscribeOptions | undefined): TopicMatch {
    if (typeof prefix !== "string") {
      throw new InvalidArgumentError(
        `Subscriber("${this.contract.name}").${what}(): \`prefix\` must be a string (a wire topic or prefix, or "" for everything).`,
      );
    }
    const match = options?.match ?? this.#config.match;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
    if (match !== "boundary" && match !== "prefix") {
      throw new InvalidArgumentError(
        `Subscriber("${this.contract.name}").${what}(): \`match\` must be "boundary" or "prefix", got ${JSON.stringify(match)}.`,
      );
    }
    return match;
  }

  /** Works out which subscriptions the boundary check must try; none when libzmq's prefix filter is already exact. */
  #updateChecks(): void {
    const prefix: string[] = [];
    const boundary: string[] = [];
    let exact = true;
    for (const [p, held] of this.#held) {
      if (p === "") {
        this.#checks = undefined; // everything matches
        return;
      }
      if (held.prefix > 0) prefix.push(p);
      if (held.boundary > 0 && !p.endsWith(".")) {
        boundary.push(p);
        exact = false;
      } else if (held.boundary > 0) {
        prefix.push(p); // ends with a dot: the prefix is the boundary
      }
    }
    this.#checks = exact ? undefined : { prefix, boundary };
  }

  /** True when a subscription matches `topic` (libzmq has already checked that one prefixes it). */
  #matches(topic: string): boolean {
    const checks = this.#checks;
    if (checks === undefined) return true;
    for (const p of checks.prefix) if (topic.startsWith(p)) return true;
    for (const b of checks.boundary) if (matchesAtBoundary(topic, b)) return true;
    return false;
  }

  /**
   * Waits for the next valid message.
   * @throws {@link TimeoutError} after `timeoutMs`; {@link AbortedError} when `signal` fires (a message that
   *   arrives after the wait gave up is kept for the next reader); {@link ClosedError} when the subscriber is or
   *   gets closed.
   */
  receive(options?: WaitOptions): Promise<TopicMessage<TContract>> {
    return this.#stream.receive(
      options,
      () => this.#place(),
      () => new ClosedError(`Subscriber("${this.contract.name}").receive() rejected: the subscriber is closed.`),
    );
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
    return this.#stream.iterator();
  }

  #checkOpen(what: string): void {
    if (this.closed) {
      throw new ClosedError(`Subscriber("${this.contract.name}").${what}() failed: the subscriber is closed.`);
    }
  }

  #drop(
    reason: SubscriberDropReason,
    topic: string | undefined,
    message: string,
    issues?: readonly ValidationIssue[],
  ): typeof SKIP {
    return this.#stream.drop(issues === undefined ? { reason, topic, message } : { reason, topic, message, issues });
  }

  #parse(frames: Buffer[]): Parsed<TopicMessage<TContract>> | Promise<Parsed<TopicMessage<TContract>>> {
    const over = tooManyFrames(this.#config.limits, frames, `Subscriber("${this.contract.name}")`);
    const frame = over === undefined ? parsePubSub(frames) : ({ kind: "malformed", topic: undefined, reason: over } as const);
    if (frame.kind === "malformed") {
      this.#stream.count();
      return this.#drop("malformed", frame.topic, `${this.contract.name}: ${frame.reason}.`);
    }
    const topic = frame.topic;
    if (this.#checks !== undefined && !this.#matches(topic)) {
      this.#filtered++;
      return SKIP;
    }
    if (frame.headers !== undefined) this.#track(topic, frame.headers, frame.kind === "message" ? 1 : frame.bodies.length);
    const declared = this.#resolve(topic);
    if (this.#config.instrumentation !== undefined) {
      const span = this.#receiveSpan(topic, frame.headers);
      const message =
        frame.kind === "message" ? this.#parseOne(topic, declared, frame.body) : this.#parseMany(topic, declared, frame.bodies);
      if (message instanceof Promise) return message.then((done) => this.#endReceive(span, done));
      return this.#endReceive(span, message);
    }
    if (frame.kind === "message") return this.#parseOne(topic, declared, frame.body);
    return this.#parseMany(topic, declared, frame.bodies);
  }

  /** Ends a consumer span once its message (or batch) is validated: with an error when it was dropped. */
  #endReceive<T>(span: TraceSpan, message: T): T {
    endSpan(span, message === SKIP ? { code: "DROPPED", message: "the message was dropped (see onDrop)" } : undefined);
    return message;
  }

  /**
   * The consumer span of a message (or a batch) as it is received, ended once it is validated; its parent is the
   * publisher's span when the headers frame carries its trace context.
   */
  #receiveSpan(topic: string, headers: MessageHeaders | undefined): TraceSpan {
    const parent = headers === undefined ? undefined : readTraceContext(headers.traceparent, headers.tracestate);
    const options = {
      name: `receive ${topic}`,
      kind: "consumer" as const,
      attributes: {
        "messaging.system": "typed-zmq",
        "messaging.operation.type": "receive",
        "messaging.operation.name": "receive",
        "messaging.destination.name": topic,
        "server.address": this.endpointText,
      },
    };
    return startSpan(this.#config.instrumentation!, parent === undefined ? options : { ...options, parent });
  }

  #parseMany(
    topic: string,
    declared: string | null,
    bodies: readonly Buffer[],
  ): Parsed<TopicMessage<TContract>> | Promise<Parsed<TopicMessage<TContract>>> {
    if (declared === null) return parseAll(bodies.length, (i) => this.#parseOne(topic, declared, bodies[i]!)); // each dropped
    // The batch's topic is resolved once: its validator and codec are looked up once, not per message, and a
    // message's error text is built only when it is refused. Each message is still decoded and checked on its own.
    const validate = this.#validators.get(declared)!;
    const codec = this.#config.codec;
    return parseAll(bodies.length, (i) => {
      const body = bodies[i]!;
      this.#stream.count();
      let value: unknown;
      try {
        value = codec.decode(body);
      } catch {
        return this.#undecodable(topic, body);
      }
      const checked = validate(value);
      return checked instanceof Promise
        ? checked.then((done) => this.#checked(topic, declared, done))
        : this.#checked(topic, declared, checked);
    });
  }

  /** Drops a body of a batch that the codec refused, with the error text an unbatched message gets (`decodeBody`'s). */
  #undecodable(topic: string, body: Buffer): typeof SKIP {
    try {
      decodeBody(this.#config.codec, body, `Message on "${this.contract.name}/${topic}"`);
    } catch (err) {
      return this.#drop("undecodable", topic, err instanceof MalformedMessageError ? err.message : String(err));
    }
    return this.#drop("undecodable", topic, `${this.contract.name}: the body could not be decoded.`);
  }

  /** Gap counting from the headers of a message (or a batch of `count`) that arrived; see internal/gap-tracker.ts. */
  #track(topic: string, headers: MessageHeaders, count: number): void {
    const { publisherId, epoch, topicSeq } = headers;
    if (typeof publisherId !== "string" || typeof epoch !== "number" || typeof topicSeq !== "number") return;
    if (!Number.isSafeInteger(topicSeq) || topicSeq < 1 || count < 1) return; // not a number a publisher sends
    const seen = this.#gapTracker.observe(publisherId, epoch, topic, topicSeq, count);
    if (seen.kind === "next") return;
    if (seen.kind === "repeat") {
      this.#outOfOrder++;
      return;
    }
    this.#gaps += seen.missed;
    const byTopic = this.#gapsByTopic.get(topic);
    if (byTopic !== undefined || this.#gapsByTopic.size < GAP_STREAMS) this.#gapsByTopic.set(topic, (byTopic ?? 0) + seen.missed);
    const gap = { topic, publisherId, epoch, missed: seen.missed, from: seen.from, to: seen.to };
    callHook(this.#config.onGap, gap);
    if (this.#config.onEvent !== undefined) callHook(this.#config.onEvent, { type: "gap", ...gap });
  }

  #parseOne(
    topic: string,
    declared: string | null,
    body: Buffer,
  ): TopicMessage<TContract> | typeof SKIP | Promise<TopicMessage<TContract> | typeof SKIP> {
    this.#stream.count();
    const name = this.contract.name;
    if (declared === null) {
      return this.#drop("unknown-topic", topic, `${name}: topic "${topic}" is not covered by any declared topic.`);
    }
    let value: unknown;
    try {
      value = decodeBody(this.#config.codec, body, `Message on "${name}/${topic}"`);
    } catch (err) {
      return this.#drop("undecodable", topic, err instanceof MalformedMessageError ? err.message : String(err));
    }
    const checked = this.#validators.get(declared)!(value);
    return checked instanceof Promise
      ? checked.then((done) => this.#checked(topic, declared, done))
      : this.#checked(topic, declared, checked);
  }

  #checked(topic: string, declared: string, checked: Validation): TopicMessage<TContract> | typeof SKIP {
    if (!checked.ok) {
      return this.#drop(
        "invalid",
        topic,
        `${this.contract.name}: message on "${topic}" does not match the "${declared}" schema: ${formatIssues(checked.issues)}.`,
        checked.issues,
      );
    }
    this.#delivered++;
    // `data` was just checked by the schema of `declared`, which is what TopicMessage says.
    return { topic, declared, data: checked.value };
  }

  /** Closes the socket; every `for await` loop ends, `receive()` rejects, and messages not yet taken are discarded. Idempotent. */
  protected override async shutdown(): Promise<void> {
    this.#socket.close();
    this.#stream.end();
    this.#curve?.release();
  }
}

type SubscriberConfig<TContract extends TopicContract> = ReturnType<typeof resolveSubscriberOptions<TContract>>;

/** Every option checked and frozen before the socket exists. */
function resolveSubscriberOptions<TContract extends TopicContract>(owner: string, options: SubscriberOptions<TContract>) {
  return resolveOptions(owner, options, (read) => {
    const topics = read.raw("topics") ?? [];
    if (!Array.isArray(topics) || !topics.every((t) => typeof t === "string")) {
      throw read.fail("topics", 'an array of wire topics or prefixes ("" for everything)', topics);
    }
    return {
      codec: read.codec(),
      topics: Object.freeze([...(topics as SubscriptionPrefix<TContract>[])]), // strings, checked just above
      receiveHighWaterMark: read.positiveInt("receiveHighWaterMark", 1000),
      onDrop: read.hook<(info: SubscriberDropInfo) => void>("onDrop"),
      onGap: read.hook<(gap: SubscriberGap) => void>("onGap"),
      onEvent: read.hook<(event: SubscriberEvent) => void>("onEvent"),
      multicast: multicastSocketOptions(options.multicast, owner),
      match: read.oneOf<TopicMatch>("match", ["boundary", "prefix"], "boundary"),
      limits: readLimits(read),
      curve: readCurveOptions(read),
      instrumentation: readInstrumentation(read),
    };
  });
}
