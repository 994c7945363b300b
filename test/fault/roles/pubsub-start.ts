/**
 * Starting the pub-sub fault roles from a test: a publisher (bound, its endpoint read back from its `bound` event)
 * and subscribers connected to it, each its own process, every wait bounded.
 */
import { is, type Role, type RoleSet } from "../harness/role.js";
import { LIFE_MS, START_MS } from "../harness/scenario.js";
import type { PubSubPublisherSettings, PubSubSubscriberSettings } from "./pubsub-contract.js";

const PUBLISHER = "test/fault/roles/pubsub-publisher.ts";
const SUBSCRIBER = "test/fault/roles/pubsub-subscriber.ts";

/** Starts a publisher and resolves with it and its endpoint once it is bound (it is `ready` only later). */
export async function startPublisher(
  roles: RoleSet,
  settings: Omit<PubSubPublisherSettings, "endpoint" | "lifeMs">,
): Promise<{ pub: Role; endpoint: string }> {
  const pub = roles.start(PUBLISHER, "publisher", { endpoint: "tcp://127.0.0.1:0", lifeMs: LIFE_MS, ...settings });
  const bound = await pub.waitFor(is.event("bound"), START_MS, "bound");
  return { pub, endpoint: String(bound.event["endpoint"]) };
}

/** Starts a subscriber connected to `endpoint` and waits until it is connected (`ready`). */
export async function startSubscriber(
  roles: RoleSet,
  label: string,
  settings: Omit<PubSubSubscriberSettings, "lifeMs">,
): Promise<Role> {
  const sub = roles.start(SUBSCRIBER, label, { lifeMs: LIFE_MS, ...settings } satisfies PubSubSubscriberSettings);
  await sub.waitFor(is.ready, START_MS, "ready");
  return sub;
}

/** The events of one type a role printed, with the times they were printed. */
export function eventsOf(role: Role, type: string): { readonly t: number; readonly event: Readonly<Record<string, unknown>> }[] {
  return role.messages.flatMap((m) => (m.type === "event" && m.event["type"] === type ? [{ t: m.t, event: m.event }] : []));
}
