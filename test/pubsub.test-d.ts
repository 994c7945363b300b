/**
 * Compile-time type tests for publish-subscribe (topic contracts, Publisher, Subscriber).
 *
 * Checked by `tsc --noEmit -p tsconfig.json`; nothing here runs. Code that would open sockets lives in functions
 * that are never called. Every `// @ts-expect-error` line proves that the library rejects the case: tsc fails if
 * the expected error does not occur.
 */
import { expectTypeOf } from "vitest";
import * as z from "zod";
import {
  Publisher,
  Subscriber,
  defineJobs,
  defineRpc,
  defineTopics,
  type InferPublish,
  type InferTopicData,
  type ResolveTopic,
  type SubscriptionPrefix,
  type TopicContract,
  type TopicMessage,
  type TopicName,
  type WireTopic,
} from "../src/index.js";

// ---------------------------------------------------------------------------------------------------------------------
// The contract under test
// ---------------------------------------------------------------------------------------------------------------------

const Sports = defineTopics("sports.v1", {
  football: z.object({ team: z.string(), event: z.enum(["goal", "red card"]), minute: z.number().int() }),
  // A longer declared topic under `football`: `football.scores.*` is checked by this schema, not football's.
  "football.scores": z.object({ home: z.number(), away: z.number() }),
  // `set` has a default: optional for publishers, always present for subscribers.
  tennis: z.object({ player: z.string(), set: z.number().default(1) }),
});
type Sports = typeof Sports;

type Football = { team: string; event: "goal" | "red card"; minute: number };
type Scores = { home: number; away: number };
type TennisIn = { player: string; set?: number | undefined };
type TennisOut = { player: string; set: number };

declare const pub: Publisher<Sports>;
declare const sub: Subscriber<Sports>;
declare const footballPayload: Football;

// Contracts of the other kinds, to prove they are refused where a topic contract is expected.
const Greeter = defineRpc("greeter.v1", {
  hello: { request: z.object({ name: z.string() }), response: z.object({ greeting: z.string() }) },
});
const Tasks = defineJobs("tasks.v1", { task: z.object({ id: z.number() }), result: z.object({ id: z.number() }) });

// ---------------------------------------------------------------------------------------------------------------------
// defineTopics, TopicName, WireTopic
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf(Sports).toExtend<TopicContract>();
expectTypeOf(Sports.kind).toEqualTypeOf<"topics">();
expectTypeOf(Sports.name).toEqualTypeOf<string>();

expectTypeOf<TopicName<Sports>>().toEqualTypeOf<"football" | "football.scores" | "tennis">();
expectTypeOf<WireTopic<Sports>>().toEqualTypeOf<
  "football" | `football.${string}` | "football.scores" | `football.scores.${string}` | "tennis" | `tennis.${string}`
>();
// `football.scores` and its sub-topics are already `football.${string}`, so the union is as wide as:
type WireTopicShort = "football" | `football.${string}` | "tennis" | `tennis.${string}`;
expectTypeOf<WireTopic<Sports>>().toExtend<WireTopicShort>();
expectTypeOf<WireTopicShort>().toExtend<WireTopic<Sports>>();
expectTypeOf<"football.Arsenal">().toExtend<WireTopic<Sports>>();
expectTypeOf<"tennis.Wimbledon.final">().toExtend<WireTopic<Sports>>();
expectTypeOf<"cricket">().not.toExtend<WireTopic<Sports>>();
expectTypeOf<"footballx">().not.toExtend<WireTopic<Sports>>();
expectTypeOf<"">().not.toExtend<WireTopic<Sports>>();
expectTypeOf<string>().not.toExtend<WireTopic<Sports>>();

expectTypeOf<SubscriptionPrefix<Sports>>().toEqualTypeOf<"" | WireTopic<Sports>>();

function defineTopicsRejectsNonSchemas(): void {
  // @ts-expect-error a topic's schema must be a zod schema, not a plain value
  defineTopics("bad.v1", { football: { team: "string" } });
}
void defineTopicsRejectsNonSchemas;

// ---------------------------------------------------------------------------------------------------------------------
// ResolveTopic: the longest declared topic that prefixes the wire topic at a dot
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf<ResolveTopic<Sports, "football">>().toEqualTypeOf<"football">();
expectTypeOf<ResolveTopic<Sports, "football.Arsenal">>().toEqualTypeOf<"football">();
expectTypeOf<ResolveTopic<Sports, "football.Arsenal.goals">>().toEqualTypeOf<"football">();
expectTypeOf<ResolveTopic<Sports, "football.scores">>().toEqualTypeOf<"football.scores">();
expectTypeOf<ResolveTopic<Sports, "football.scores.live">>().toEqualTypeOf<"football.scores">();
// Only at a dot: `football.scoresheet` is a sub-topic of `football`, not of `football.scores`.
expectTypeOf<ResolveTopic<Sports, "football.scoresheet">>().toEqualTypeOf<"football">();
expectTypeOf<ResolveTopic<Sports, "tennis.Nadal">>().toEqualTypeOf<"tennis">();
expectTypeOf<ResolveTopic<Sports, `football.${string}`>>().toEqualTypeOf<"football">();
expectTypeOf<ResolveTopic<Sports, "cricket">>().toBeNever();
expectTypeOf<ResolveTopic<Sports, "footballx">>().toBeNever();

// ---------------------------------------------------------------------------------------------------------------------
// InferPublish (schema INPUT) and InferTopicData / TopicMessage (schema OUTPUT)
// ---------------------------------------------------------------------------------------------------------------------

expectTypeOf<InferPublish<Sports, "football">>().toEqualTypeOf<Football>();
expectTypeOf<InferPublish<Sports, "football.Arsenal">>().toEqualTypeOf<Football>();
expectTypeOf<InferPublish<Sports, "football.scores.live">>().toEqualTypeOf<Scores>();
expectTypeOf<InferPublish<Sports, "tennis">>().toEqualTypeOf<TennisIn>();
expectTypeOf<InferPublish<Sports, "tennis.Nadal">>().toEqualTypeOf<TennisIn>();

expectTypeOf<InferTopicData<Sports, "football">>().toEqualTypeOf<Football>();
expectTypeOf<InferTopicData<Sports, "football.scores">>().toEqualTypeOf<Scores>();
expectTypeOf<InferTopicData<Sports, "tennis">>().toEqualTypeOf<TennisOut>();
expectTypeOf<InferPublish<Sports, "tennis">>().not.toEqualTypeOf<InferTopicData<Sports, "tennis">>();
// @ts-expect-error InferTopicData takes a declared topic, not a wire topic
type _WireTopicData = InferTopicData<Sports, "football.Arsenal">;

expectTypeOf<TopicMessage<Sports>>().toEqualTypeOf<
  | { readonly topic: "football" | `football.${string}`; readonly declared: "football"; readonly data: Football }
  | {
      readonly topic: "football.scores" | `football.scores.${string}`;
      readonly declared: "football.scores";
      readonly data: Scores;
    }
  | { readonly topic: "tennis" | `tennis.${string}`; readonly declared: "tennis"; readonly data: TennisOut }
>();
expectTypeOf<TopicMessage<Sports>["declared"]>().toEqualTypeOf<TopicName<Sports>>();

// ---------------------------------------------------------------------------------------------------------------------
// Publisher
// ---------------------------------------------------------------------------------------------------------------------

async function publisherFactories(): Promise<void> {
  const bound = Publisher.bind("tcp://127.0.0.1:0", Sports);
  expectTypeOf(bound).toEqualTypeOf<Promise<Publisher<Sports>>>();
  expectTypeOf(Publisher.bind(["inproc://a", "inproc://b"], Sports, { sendHighWaterMark: 10 })).toEqualTypeOf<
    Promise<Publisher<Sports>>
  >();
  expectTypeOf(Publisher.connect("inproc://sports", Sports)).toEqualTypeOf<Promise<Publisher<Sports>>>();
  expectTypeOf((await bound).contract).toEqualTypeOf<Sports>();

  // @ts-expect-error an RPC contract is not a topic contract
  await Publisher.bind("inproc://x", Greeter);
  // @ts-expect-error a job contract is not a topic contract
  await Publisher.bind("inproc://x", Tasks);
  // @ts-expect-error an RPC contract is not a topic contract (connect checks it too)
  await Publisher.connect("inproc://x", Greeter);
  // @ts-expect-error a job contract is not a topic contract (connect checks it too)
  await Publisher.connect("inproc://x", Tasks);
  // @ts-expect-error a plain object of schemas is not a contract
  await Publisher.bind("inproc://x", { football: z.object({}) });
  // @ts-expect-error sendHighWaterMark is a number
  await Publisher.bind("inproc://x", Sports, { sendHighWaterMark: "10" });
}
void publisherFactories;

async function publishTypes(wildTopic: `football.${string}`, tennisTopic: `tennis.${string}`): Promise<void> {
  expectTypeOf(pub.publish("football.Arsenal", footballPayload)).toEqualTypeOf<Promise<void>>();
  await pub.publish("football.Arsenal", footballPayload);
  await pub.publish("football", footballPayload);
  await pub.publish("football.Arsenal", { team: "Arsenal", event: "goal", minute: 12 });
  await pub.publish("football", { team: "Arsenal", event: "red card", minute: 80 });
  // A template-literal topic is accepted and checked against football's schema.
  await pub.publish(wildTopic, footballPayload);
  await pub.publish(`football.${footballPayload.team}`, footballPayload);
  // The publisher sends the schema INPUT: tennis `set` may be left out.
  await pub.publish("tennis", { player: "Nadal" });
  await pub.publish("tennis.Wimbledon", { player: "Nadal", set: 3 });
  await pub.publish(tennisTopic, { player: "Nadal" });
  expectTypeOf(pub.publish<"tennis">)
    .parameter(1)
    .toEqualTypeOf<TennisIn>();
  expectTypeOf(pub.publish<"football.Arsenal">)
    .parameter(1)
    .toEqualTypeOf<Football>();

  // Undeclared topics.
  // @ts-expect-error "cricket" is not covered by any declared topic
  await pub.publish("cricket", footballPayload);
  // @ts-expect-error "footballx" is not `football` nor `football.<something>`
  await pub.publish("footballx", footballPayload);
  // @ts-expect-error the empty string is not a wire topic
  await pub.publish("", footballPayload);
  // @ts-expect-error a plain string is not known to be a declared topic
  await pub.publish("football" as string, footballPayload);

  // Wrong payloads for football.
  // @ts-expect-error missing field `minute`
  await pub.publish("football.Arsenal", { team: "Arsenal", event: "goal" });
  // @ts-expect-error `event` is not one of the enum values
  await pub.publish("football.Arsenal", { team: "Arsenal", event: "corner", minute: 12 });
  // @ts-expect-error `minute` is a number
  await pub.publish("football", { team: "Arsenal", event: "goal", minute: "12" });
  // @ts-expect-error excess field in an object-literal payload
  await pub.publish("football", { team: "Arsenal", event: "goal", minute: 12, extra: true });
  // @ts-expect-error the payload is required
  await pub.publish("football");
  // @ts-expect-error a tennis payload on a football topic
  await pub.publish("football.Arsenal", { player: "Nadal", set: 1 });
  // @ts-expect-error a football payload on a tennis topic
  await pub.publish("tennis", footballPayload);
  // @ts-expect-error tennis needs `player`
  await pub.publish("tennis.Nadal", { set: 2 });
  // @ts-expect-error a template-literal football topic still takes football's payload
  await pub.publish(wildTopic, { player: "Nadal" });

  // Longest prefix: `football.scores.live` is checked by `football.scores`, not by `football`.
  await pub.publish("football.scores.live", { home: 1, away: 2 });
  await pub.publish("football.scores", { home: 0, away: 0 });
  // @ts-expect-error the football payload does not fit `football.scores`
  await pub.publish("football.scores.live", footballPayload);
  // @ts-expect-error the football payload does not fit `football.scores` itself either
  await pub.publish("football.scores", { team: "Arsenal", event: "goal", minute: 12 });
  // @ts-expect-error a scores payload on a plain football sub-topic
  await pub.publish("football.Arsenal", { home: 1, away: 2 });
  // `football.scoresheet` is a sub-topic of `football` (prefixes match at a dot).
  await pub.publish("football.scoresheet", footballPayload);
}
void publishTypes;

// ---------------------------------------------------------------------------------------------------------------------
// Subscriber
// ---------------------------------------------------------------------------------------------------------------------

async function subscriberFactories(): Promise<void> {
  const connected = Subscriber.connect("inproc://sports", Sports);
  expectTypeOf(connected).toEqualTypeOf<Promise<Subscriber<Sports>>>();
  expectTypeOf(Subscriber.bind("tcp://127.0.0.1:0", Sports)).toEqualTypeOf<Promise<Subscriber<Sports>>>();
  expectTypeOf((await connected).contract).toEqualTypeOf<Sports>();

  await Subscriber.connect("inproc://x", Sports, { topics: ["football.Arsenal", "tennis", ""] });
  // @ts-expect-error the initial topics are checked against the contract
  await Subscriber.connect("inproc://x", Sports, { topics: ["cricket"] });
  // @ts-expect-error an RPC contract is not a topic contract
  await Subscriber.connect("inproc://x", Greeter);
  // @ts-expect-error a job contract is not a topic contract
  await Subscriber.bind("inproc://x", Tasks);
}
void subscriberFactories;

async function subscriberTypes(): Promise<void> {
  sub.subscribe("football.Arsenal");
  sub.subscribe("football");
  sub.subscribe("football.scores.live");
  sub.subscribe("tennis");
  sub.subscribe("");
  sub.unsubscribe("football.Arsenal");
  sub.unsubscribe("");
  // @ts-expect-error "cricket" is not covered by any declared topic
  sub.subscribe("cricket");
  // @ts-expect-error "footballx" is not covered by any declared topic
  sub.subscribe("footballx");
  // @ts-expect-error "cricket" is not covered by any declared topic
  sub.unsubscribe("cricket");
  // @ts-expect-error a plain string is not known to be a declared topic
  sub.subscribe("football" as string);

  expectTypeOf(sub).toExtend<AsyncIterable<TopicMessage<Sports>>>();
  expectTypeOf(sub.receive()).toEqualTypeOf<Promise<TopicMessage<Sports>>>();
  expectTypeOf(await sub.receive({ timeoutMs: 1_000 })).toEqualTypeOf<TopicMessage<Sports>>();
  // @ts-expect-error timeoutMs is a number
  await sub.receive({ timeoutMs: "1000" });

  for await (const msg of sub) {
    expectTypeOf(msg).toEqualTypeOf<TopicMessage<Sports>>();
    expectTypeOf(msg.declared).toEqualTypeOf<"football" | "football.scores" | "tennis">();
    // @ts-expect-error `data` is a union until `declared` narrows it
    void msg.data.team;

    if (msg.declared === "football") {
      expectTypeOf(msg.data).toEqualTypeOf<Football>();
      expectTypeOf(msg.data.event).toEqualTypeOf<"goal" | "red card">();
      expectTypeOf(msg.topic).toEqualTypeOf<"football" | `football.${string}`>();
      // @ts-expect-error football data has no `home`
      void msg.data.home;
    } else if (msg.declared === "football.scores") {
      expectTypeOf(msg.data).toEqualTypeOf<Scores>();
      expectTypeOf(msg.topic).toEqualTypeOf<"football.scores" | `football.scores.${string}`>();
    } else {
      expectTypeOf(msg.declared).toEqualTypeOf<"tennis">();
      // The subscriber receives the schema OUTPUT: the defaulted `set` is always there.
      expectTypeOf(msg.data).toEqualTypeOf<TennisOut>();
      expectTypeOf(msg.data.set).toEqualTypeOf<number>();
      expectTypeOf(msg.topic).toEqualTypeOf<"tennis" | `tennis.${string}`>();
    }
  }

  const msg = await sub.receive();
  expectTypeOf(msg).toEqualTypeOf<TopicMessage<Sports>>();
  if (msg.declared === "football") {
    expectTypeOf(msg.data).toEqualTypeOf<Football>();
    expectTypeOf(msg.topic).toEqualTypeOf<"football" | `football.${string}`>();
  }
  switch (msg.declared) {
    case "tennis":
      expectTypeOf(msg.data.set).toEqualTypeOf<number>();
      break;
    case "football.scores":
      expectTypeOf(msg.data.home).toEqualTypeOf<number>();
      break;
    case "football":
      expectTypeOf(msg.data.minute).toEqualTypeOf<number>();
      break;
    default:
      expectTypeOf(msg).toBeNever();
  }
  // @ts-expect-error "cricket" is never a declared topic
  if (msg.declared === "cricket") void msg;
}
void subscriberTypes;

// A union of topics could carry a payload for the wrong schema: publish() refuses it with a message.
export async function unionTopicIsRefused(p: Publisher<typeof Sports>, t: "football.Arsenal" | "tennis"): Promise<void> {
  // @ts-expect-error the topic must be one topic, not a union
  await p.publish(t, { player: "Nadal" });
  if (t === "tennis") await p.publish(t, { player: "Nadal" });
}
