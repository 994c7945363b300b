/**
 * What the pub-sub fault roles (pubsub-publisher.ts, pubsub-subscriber.ts) and their tests share: the topic
 * contract and each role's settings (its one JSON argument).
 */
import * as z from "zod";
import { defineTopics } from "../../../src/index.js";

/** `n` counts the messages of one kind (data or marker) on one topic from 0 (data) or 1 (markers). */
export const FaultTicks = defineTopics("fault.ticks.v1", {
  ticks: z.object({ n: z.number().int(), marker: z.boolean().optional(), pad: z.string().optional() }),
});

/** A wire topic of {@link FaultTicks}. */
export type TickTopic = `ticks.${string}`;

/** Settings of pubsub-publisher.ts. */
export interface PubSubPublisherSettings {
  readonly endpoint: string;
  readonly noDrop: boolean;
  readonly stallLimitMs?: number;
  readonly sendHighWaterMark: number;
  /** Each publish's own `timeoutMs` (noDrop). */
  readonly timeoutMs?: number;
  /** Wait for this many subscriptions to `topic` before `ready`. */
  readonly subscribers: number;
  /** The topic subscribers receive; `other` gets as many messages, interleaved, that they do not. */
  readonly topic: TickTopic;
  readonly other?: TickTopic;
  /** Data messages on `topic` (lossy mode); in noDrop mode, publish until `stop`, at most this many. */
  readonly data: number;
  /** Characters of padding per message. */
  readonly padBytes: number;
  /** Lossy mode: after the data, resend a marker on `topic` every this many ms until `stop`. */
  readonly markerEveryMs?: number;
  readonly maxMarkers?: number;
  readonly lifeMs: number;
}

/** Settings of pubsub-subscriber.ts. */
export interface PubSubSubscriberSettings {
  readonly endpoint: string;
  readonly topics: readonly TickTopic[];
  readonly receiveHighWaterMark: number;
  /** Busy work per message, in microseconds: a slow subscriber. */
  readonly workUs: number;
  readonly lifeMs: number;
}
