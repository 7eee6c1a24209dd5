// The acceptance scenario, run on both backends by tests/fidelity.test.ts
// with its own timings.
import { Actor, Event } from "../../mod.ts";
import {
  type Backend,
  figures,
  listen,
  noFailures,
  quiet,
  setup,
  uniq,
  User,
} from "./_common.ts";

/**
 * The acceptance scenario: emit, fail, retry after `retryDelay` twice, end
 * dead-lettered. Returns what a user's test would check.
 */
export async function deadLetterAfterRetries(
  b: Backend,
  retryDelay: number,
): Promise<unknown> {
  const ev = new Event(uniq("acceptance-order"), User);
  const attempts: number[] = [];
  const actor = new Actor(uniq("acceptance-ship"), ev, (_m, ctx) => {
    attempts.push(ctx.attempt);
    throw new Error("carrier down");
  }, { retryDelay: [retryDelay, retryDelay], maxAttempts: 3 });
  const { pub, sub, nc } = await setup(b, [ev], [actor]);
  await pub.emit(ev, { name: "parcel" });
  const running = listen(b, sub);
  const letters = await b.until(
    async () => {
      const list = await sub.deadLetters(actor);
      return list.length > 0 ? list : undefined;
    },
    "the dead letter",
    3 * retryDelay + 60_000,
  );
  const info = await quiet(b, nc, actor);
  const report = await running.stop();
  return {
    attempts,
    report,
    deadLetter: letters.map((l) => ({
      reason: l.reason,
      attempts: l.attempts,
      error: l.error,
      payload: new TextDecoder().decode(l.data),
    })),
    consumer: figures(info),
  };
}

/** What {@linkcode deadLetterAfterRetries} must observe everywhere. */
export const DEAD_LETTER_AFTER_RETRIES: unknown = {
  attempts: [1, 2, 3],
  report: { ...noFailures, failed: 3, retried: 2, deadLettered: 1 },
  deadLetter: [{
    reason: "exhausted",
    attempts: 3,
    error: "Error: carrier down",
    payload: '{"name":"parcel"}',
  }],
  consumer: {
    delivered: { consumer_seq: 3, stream_seq: 1 },
    ack_floor: { consumer_seq: 3, stream_seq: 1 },
    num_ack_pending: 0,
    num_redelivered: 0,
    num_pending: 0,
  },
};
