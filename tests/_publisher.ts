// What the publisher tests share: an event, a kept stream (interest
// retention keeps what is emitted only for existing consumers), stored
// messages read back, and a connection's subscription count.
import assert from "node:assert/strict";
import * as v from "valibot";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AnyEvent, Event, Events } from "../mod.ts";
import type { NatsServer } from "./_helpers.ts";

export const User = v.object({ id: v.number(), name: v.string() });
export const USER_CREATED = new Event("user-created", User);
export const utf8 = new TextDecoder();
export const bytes = (s: string) => new TextEncoder().encode(s);

/** A durable consumer, so interest retention keeps what is emitted. */
export async function keep(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, {
    durable_name: "keep",
    ack_policy: "explicit" as never,
  });
}

export async function state(jsm: JetStreamManager, stream: string) {
  return (await jsm.streams.info(stream)).state;
}

export async function stored(
  jsm: JetStreamManager,
  stream: string,
  seq: number,
) {
  const msg = await jsm.streams.getMessage(stream, { seq });
  assert.ok(msg, `message ${seq} of ${stream} is stored`);
  const headers: Record<string, string> = {};
  for (const [key, values] of msg.header ?? []) headers[key] = values[0]!;
  return { subject: msg.subject, headers, body: utf8.decode(msg.data) };
}

/** Subscriptions the connection holds (nats-core keeps them in a map). */
export function subscriptions(nc: NatsConnection): number {
  return (nc as unknown as {
    protocol: { subscriptions: { size(): number } };
  }).protocol.subscriptions.size();
}

/** A publisher with USER_CREATED registered and kept. */
export async function setup(server: NatsServer, ...more: AnyEvent[]) {
  const pub = await new Events(USER_CREATED, ...more).connect(server.url);
  await pub.register();
  await keep(pub.nc, USER_CREATED.stream);
  for (const event of more) await keep(pub.nc, event.stream);
  const jsm = await jetstreamManager(pub.nc);
  return { pub, jsm };
}
