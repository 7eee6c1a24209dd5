// deno-lint-ignore-file no-console -- a helper of programs: it says what it removed
// Examples run against your own server (NATS_URL) remove the streams they
// created when they finish, so nothing of theirs is left behind. (By hand:
// `nats stream rm <event>` and `nats stream rm walnats_dlq_<event>`.)
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AnyEvent, deadLetterStream } from "@walnats/walnats";

/** Delete the streams (and dead-letter streams) of `events`. */
export async function removeStreams(
  nc: NatsConnection,
  ...events: AnyEvent[]
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const event of events) {
    for (const stream of [event.stream, deadLetterStream(event)]) {
      try {
        await jsm.streams.delete(stream);
      } catch (error) {
        const gone = error instanceof JetStreamApiError &&
          error.code === JetStreamApiCodes.StreamNotFound;
        if (!gone) throw error;
      }
    }
  }
  console.log(
    `removed the streams of ${events.map((e) => e.name).join(", ")}`,
  );
}
