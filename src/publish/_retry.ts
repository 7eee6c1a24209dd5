// Acknowledged publishing that rides out a stream-leader election or a
// server restart: the same message (same Nats-Msg-Id, so the stream stores
// it once) is sent again until it is acknowledged or the emit's own
// timeout is spent, and a failure says why and whether it may be stored.
/** @ignore */
import type { PubAck } from "@nats-io/jetstream";
import { JetStreamApiError } from "@nats-io/jetstream";
/** @ignore */
import type { MsgHdrs } from "@nats-io/nats-core";
import { EmitError, type EmitErrorReason } from "../errors.ts";
import type { AckInbox } from "./_ack_inbox.ts";

/** What one acknowledged publish needs. */
export interface RetryTarget {
  /** Event name, for errors. */
  readonly event: string;
  /** Subject to publish on. */
  readonly subject: string;
  /** The message id every attempt carries (`Nats-Msg-Id`). */
  readonly uid: string;
  /** Milliseconds for all attempts together. */
  readonly timeout: number;
  /**
   * Whether the event's stream exists: `false` only when the server said
   * so, `undefined` when it could not tell (no leader, no answer).
   */
  readonly streamExists: () => Promise<boolean | undefined>;
}

// JetStream API codes that mean "not now" rather than "no".
const TRANSIENT_CODES = new Set([
  10008, // JetStream system temporarily unavailable
  10023, // insufficient resources (a peer is down)
]);

/** One attempt waits at most this long for its acknowledgement. */
export function attemptTimeout(timeout: number): number {
  return Math.max(250, Math.min(2_000, Math.floor(timeout / 3)));
}

function classify(
  error: unknown,
): { reason: EmitErrorReason; sent: boolean } | undefined {
  const e = error as { name?: string; message?: string; cause?: unknown };
  if (e?.name === "JetStreamNotEnabled" || e?.name === "NoRespondersError") {
    // No responders: nobody took the request, so nothing was stored.
    return { reason: "no-leader", sent: false };
  }
  if (error instanceof JetStreamApiError) {
    return TRANSIENT_CODES.has(error.code)
      ? { reason: "no-leader", sent: false }
      : undefined;
  }
  if (
    e?.name === "TimeoutError" ||
    (e?.name === "RequestError" && /disconnect/i.test(e.message ?? ""))
  ) {
    // Sent, and the answer (if any) was lost: it may be stored.
    return { reason: "unreachable", sent: true };
  }
  return undefined;
}

/**
 * Publish `data` and wait for the stream's acknowledgement, retrying
 * transient failures within `target.timeout`.
 *
 * @throws {EmitError} No acknowledgement in time, or no stream.
 * @throws {Error} A refusal that retrying cannot change (the server's
 *   JetStream error, a closed connection), as it came.
 */
export async function publishAcked(
  acks: AckInbox,
  target: RetryTarget,
  data: Uint8Array,
  headers: MsgHdrs,
): Promise<PubAck> {
  const start = performance.now();
  const deadline = start + target.timeout;
  const perAttempt = attemptTimeout(target.timeout);
  let attempts = 0;
  let mayBeStored = false;
  let checkedStream = false;
  let pause = 50;
  while (true) {
    attempts++;
    const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
    let failure: { reason: EmitErrorReason; sent: boolean } | undefined;
    let error: unknown;
    try {
      return await acks.publish(
        target.subject,
        data,
        headers,
        Math.min(perAttempt, remaining),
      );
    } catch (e) {
      error = e;
      failure = classify(e);
      if (failure === undefined) throw e;
    }
    mayBeStored ||= failure.sent;
    const fields = { uid: target.uid, attempts, mayBeStored };
    if (failure.reason === "no-leader" && !checkedStream) {
      // No responders also means "no stream has this subject": that is not
      // worth waiting for. Ask once.
      checkedStream = true;
      if (await target.streamExists() === false) {
        throw new EmitError(
          target.event,
          "no-stream",
          `stream not found (${attempts} attempt${attempts > 1 ? "s" : ""})`,
          fields,
          { cause: error },
        );
      }
    }
    const left = deadline - performance.now();
    if (left <= pause) {
      throw new EmitError(
        target.event,
        failure.reason,
        `within ${target.timeout} ms (${attempts} attempt${
          attempts > 1 ? "s" : ""
        }; last: ${(error as Error)?.message ?? String(error)})`,
        fields,
        { cause: error },
      );
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 500);
  }
}
