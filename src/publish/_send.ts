// An acknowledged publish: a message id on every message (so a retry
// through a leader election or a restart can never store it twice), the
// retry loop of _retry.ts, and the emit observers told how it went.
import type { JetStreamManager, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs, nuid } from "@nats-io/nats-core";
import type { AnyEvent } from "../event.ts";
import { HEADER_ID } from "../headers.ts";
import { type EmitObserver, notifyEmit } from "../ops/emit_observer.ts";
import { asError } from "../_async.ts";
import type { EmitResult } from "./options.ts";
import type { AckInbox } from "./_ack_inbox.ts";
import { publishAcked, type RetryTarget } from "./_retry.ts";
import { streamExists } from "./_streams.ts";

/** One message to store. */
export interface Outgoing {
  event: AnyEvent;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** Milliseconds for all tries together. */
  timeout: number;
  /**
   * Where to publish instead of the event's subject and stream (its delay
   * stream, for a delayed emit).
   */
  to?: { subject: string; stream: string } | undefined;
}

function toResult(ack: PubAck): EmitResult {
  return { sequence: ack.seq, duplicate: ack.duplicate };
}

/**
 * Publish and wait for the stream's acknowledgement, retrying within
 * `timeout`.
 *
 * @throws {EmitError} No acknowledgement in time, or no stream listens.
 */
export async function sendAcked(
  acks: AckInbox,
  jsm: JetStreamManager,
  observers: readonly EmitObserver[],
  out: Outgoing,
): Promise<EmitResult> {
  const { event, data, timeout } = out;
  const headers = out.headers ?? natsHeaders();
  // prepareEmit made an id when no uid was given; this covers other callers.
  let uid = headers.get(HEADER_ID);
  if (uid === "") {
    uid = nuid.next();
    headers.set(HEADER_ID, uid);
  }
  const stream = out.to?.stream ?? event.stream;
  const target: RetryTarget = {
    event: event.name,
    subject: out.to?.subject ?? event.subject,
    uid,
    timeout,
    streamExists: () => streamExists(jsm, stream),
  };
  if (observers.length === 0) {
    return toResult(await publishAcked(acks, target, data, headers));
  }
  const start = performance.now();
  try {
    const result = toResult(await publishAcked(acks, target, data, headers));
    notifyEmit(observers, {
      event,
      duration: performance.now() - start,
      outcome: result.duplicate ? "duplicate" : "ok",
      sync: true,
    });
    return result;
  } catch (error) {
    notifyEmit(observers, {
      event,
      duration: performance.now() - start,
      outcome: "error",
      sync: true,
      error: asError(error),
    });
    throw error;
  }
}
