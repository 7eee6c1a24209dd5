// The delay stream of an event: where delayed messages wait, outside the
// actors' consumers, until a listener's mover releases them (see
// docs/delays-and-schedules.md). Names, configurations, and creating both.
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  type StreamConfig,
} from "@nats-io/jetstream";
import { STREAM_NAME_EXISTS } from "../publish/_streams.ts";
import type { AnyEvent } from "../event.ts";
import { delayStream } from "../ops/status.ts";

export { delayStream };

/** The durable consumer all listeners' movers share on a delay stream. */
export const MOVER = "walnats-mover";

/**
 * Milliseconds a mover may hold a message before the server gives it to
 * another: moving takes one publish, and a move done twice is stored once.
 */
export const MOVER_ACK_WAIT = 2000;

/** The subject delayed messages of an event's stream are published to. */
export function delaySubject(stream: string): string {
  return `walnats_delay.${stream}`;
}

/**
 * The delay stream of `event`: one subject, work-queue retention (a
 * message leaves when it was moved; it stays while no mover runs), and the
 * event's storage, replicas, age and size limits.
 */
export function delayStreamConfig(
  event: AnyEvent,
): Partial<StreamConfig> & { name: string } {
  const base = event.streamConfig();
  return {
    name: delayStream(event.stream),
    subjects: [delaySubject(event.stream)],
    retention: RetentionPolicy.Workqueue,
    description: `walnats: delayed messages of event "${event.name}"`,
    max_age: base.max_age ?? 0,
    max_msg_size: base.max_msg_size ?? -1,
    num_replicas: base.num_replicas ?? 1,
    storage: base.storage!,
    duplicate_window: base.duplicate_window!,
  };
}

/** The mover consumer: no pending limit, unlimited deliveries. */
export function moverConfig(): Partial<ConsumerConfig> & {
  durable_name: string;
} {
  return {
    durable_name: MOVER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: MOVER_ACK_WAIT * 1_000_000,
    max_deliver: -1,
    max_ack_pending: -1,
    description: "walnats: moves delayed messages to their event when due",
  };
}

/**
 * Create the delay stream of `event` and its mover consumer unless they
 * exist (an existing one is left as it is).
 */
export async function ensureDelayStream(
  jsm: JetStreamManager,
  event: AnyEvent,
): Promise<void> {
  const config = delayStreamConfig(event);
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (
      !(error instanceof JetStreamApiError) ||
      error.code !== JetStreamApiCodes.StreamNotFound
    ) throw error;
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Created meanwhile by another listener: theirs is the same.
      if (
        !(addError instanceof JetStreamApiError) ||
        addError.code !== STREAM_NAME_EXISTS
      ) throw addError;
    }
  }
  try {
    await jsm.consumers.info(config.name, MOVER);
  } catch (error) {
    if (
      !(error instanceof JetStreamApiError) ||
      error.code !== JetStreamApiCodes.ConsumerNotFound
    ) throw error;
    await jsm.consumers.add(config.name, moverConfig());
  }
}
