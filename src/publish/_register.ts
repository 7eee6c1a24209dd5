// register() on the publisher: every event's stream created or updated
// concurrently, and a warning, once per event, when interest retention
// would discard its messages because no actor's consumer exists yet.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { AnyEvent } from "../event.ts";
import type { Logger } from "../log.ts";
import type { RegisterOptions, RegisterReport } from "./options.ts";
import { upsertStream } from "./_streams.ts";

/**
 * Create or update the streams of `events`; every event is tried, the
 * first failure is thrown after all have settled.
 */
export async function registerStreams(
  jsm: JetStreamManager,
  events: readonly AnyEvent[],
  options: RegisterOptions,
  warning: NoActorsWarning,
): Promise<RegisterReport> {
  const create = options.create ?? true;
  const update = options.update ?? true;
  const report: RegisterReport = {
    created: [],
    updated: [],
    unchanged: [],
    skipped: [],
  };
  const results = await Promise.allSettled(
    events.map(async (event) => {
      const outcome = await upsertStream(jsm, event.streamConfig(), {
        create,
        update,
        event: event.name,
      });
      report[outcome].push(event.name);
      if (outcome !== "skipped") await warning.check(event);
    }),
  );
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  for (const list of Object.values(report)) list.sort();
  return report;
}

/**
 * Interest retention keeps a message only for the consumers that exist
 * when it is stored: with none, emit() "succeeds" and the message is gone.
 * Warns once per event.
 */
export class NoActorsWarning {
  readonly #jsm: JetStreamManager;
  readonly #logger: Logger;
  readonly #warned = new Set<string>();

  constructor(jsm: JetStreamManager, logger: Logger) {
    this.#jsm = jsm;
    this.#logger = logger;
  }

  /** Count the consumers of `event`'s stream; warn if there are none. */
  async check(event: AnyEvent): Promise<void> {
    if (event.retention !== "interest") return;
    if (this.#warned.has(event.name)) return;
    let consumers: number;
    try {
      consumers = (await this.#jsm.streams.info(event.stream)).state
        .consumer_count;
    } catch (error) {
      this.#logger.debug("could not count the stream's consumers", {
        event: event.name,
        error,
      });
      return;
    }
    if (consumers > 0) return;
    this.#warned.add(event.name);
    this.#logger.warn(
      `event "${event.name}" has no actor yet: with interest retention its messages are discarded until an actor registers (register the actors first, or give the event retention: "limits")`,
      { event: event.name, stream: event.stream },
    );
  }
}
