// What a job does with a message delivered before its `Walnats-Delay`
// (Python walnats publishes delayed messages to the event's subject): far
// enough away, it is moved to the event's delay stream and acked, so it
// does not hold one of the actor's pending slots while it waits.
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { AnyActor } from "../actor.ts";
import { HEADER_ID } from "../headers.ts";
import { ackInbox } from "../publish/_ack_inbox.ts";
import { publishAcked } from "../publish/_retry.ts";
import type { JobEnv } from "./_job.ts";
import type { JobMessage } from "./_jsmsg.ts";
import { delayStream, delaySubject } from "./_delay_stream.ts";

/**
 * Milliseconds of waiting left above which a message is moved rather than
 * nak'd in place (where it holds a pending slot).
 */
export const MOVE_ABOVE = 1000;

/** The `Nats-Msg-Id` of the moved copy: one copy for all actors. */
export function moveId(stream: string, sequence: number): string {
  return `moved:${stream}:${sequence}`;
}

/**
 * Wait out `ms` without running the message: nak it for the time left, or
 * copy it to the delay stream and ack it. A copy that cannot be stored
 * (no delay stream, JetStream unavailable) falls back to the nak.
 *
 * @param msg The delivered message.
 * @param ms Milliseconds until it is due.
 * @param actor Its actor.
 * @param env The listener's shared state.
 * @returns Settles once the message was acked or nak'd; never rejects.
 */
export async function waitOut(
  msg: JobMessage,
  ms: number,
  actor: AnyActor,
  env: JobEnv,
): Promise<void> {
  if (ms <= MOVE_ABOVE) {
    msg.nak(ms);
    return;
  }
  const stream = actor.event.stream;
  const id = moveId(stream, msg.meta.streamSequence);
  const headers = natsHeaders();
  for (const [key, values] of msg.headers ?? []) {
    if (key === HEADER_ID) continue;
    for (const value of values) headers.append(key, value);
  }
  headers.set(HEADER_ID, id);
  try {
    await publishAcked(
      ackInbox(env.nc),
      {
        event: actor.event.name,
        subject: delaySubject(stream),
        uid: id,
        // Well inside the ack wait, so the original is not redelivered
        // meanwhile.
        timeout: Math.max(250, Math.min(5000, actor.ackWait / 2)),
        streamExists: () => Promise.resolve(undefined),
      },
      msg.data,
      headers,
    );
  } catch (error) {
    env.logger.warn(
      "could not move a delayed message to its delay stream; it waits in the consumer",
      {
        actor: actor.name,
        stream: delayStream(stream),
        sequence: msg.meta.streamSequence,
        error,
      },
    );
    msg.nak(ms);
    return;
  }
  msg.ack();
}
