// The mover of one event in one listener: takes messages from the event's
// delay stream (through the consumer all listeners share), naks those not
// yet due with the time left (the server keeps the timer), and publishes
// the due ones to the event's subject, then acks them. A fetch holds at most
// BATCH messages, so memory does not grow with the backlog.
import type {
  JetStreamClient,
  JetStreamManager,
  JsMsg,
} from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { AnyEvent } from "../event.ts";
import { HEADER_DELAY, HEADER_ID } from "../headers.ts";
import type { Logger } from "../log.ts";
import { pause } from "../_async.ts";
import type { Timers } from "../_timers.ts";
import type { AckInbox } from "../publish/_ack_inbox.ts";
import { publishAcked } from "../publish/_retry.ts";
import { judgeDelay } from "./_delay.ts";
import { delayStream, ensureDelayStream, MOVER } from "./_delay_stream.ts";

/** Most messages one fetch takes. */
export const MOVER_BATCH = 256;
/** Milliseconds one fetch waits for messages. */
const FETCH_EXPIRES = 1000;
/** Milliseconds a release may take, retries included. */
const RELEASE_TIMEOUT = 5000;
/** Milliseconds before a release that failed is tried again. */
const RETRY_RELEASE = 1000;

/** The `Nats-Msg-Id` of a released message: stable for its delay message. */
export function releaseId(
  headers: MsgHdrs | undefined,
  stream: string,
  sequence: number,
): string {
  const id = headers?.get(HEADER_ID) ?? "";
  return `delayed:${id === "" ? `${stream}:${sequence}` : id}`;
}

/** The headers of a released message (`keepDelay`: a poison header stays). */
export function releaseHeaders(
  headers: MsgHdrs | undefined,
  id: string,
  keepDelay: boolean,
): MsgHdrs {
  const out = natsHeaders();
  if (headers !== undefined) {
    for (const [key, values] of headers) {
      if (key === HEADER_ID || (key === HEADER_DELAY && !keepDelay)) continue;
      for (const value of values) out.append(key, value);
    }
  }
  out.set(HEADER_ID, id);
  return out;
}

/** Counters the movers of a listener report to. */
export interface MoverStats {
  /** Delayed messages published to their event when due. */
  released: number;
}

/** Moves one event's due delayed messages; see the file comment. */
export class DelayMover {
  readonly event: AnyEvent;
  readonly #js: JetStreamClient;
  readonly #acks: AckInbox;
  readonly #jsm: JetStreamManager;
  readonly #timers: Timers;
  readonly #logger: Logger;
  readonly #stats: MoverStats;
  readonly #stream: string;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #ready = false;
  #failing = false;

  constructor(
    event: AnyEvent,
    js: JetStreamClient,
    acks: AckInbox,
    jsm: JetStreamManager,
    timers: Timers,
    logger: Logger,
    stats: MoverStats,
  ) {
    this.event = event;
    this.#js = js;
    this.#acks = acks;
    this.#jsm = jsm;
    this.#timers = timers;
    this.#logger = logger;
    this.#stats = stats;
    this.#stream = delayStream(event.stream);
  }

  /** Move until {@linkcode DelayMover.stop}. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** One round (for a burst): release what is due now. */
  async once(): Promise<void> {
    try {
      await this.#round(true);
    } catch (error) {
      this.#logger.warn("could not release delayed messages", {
        event: this.event.name,
        error,
      });
    }
  }

  /** Stop after the fetch in flight (at most about a second). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.#round(false);
        if (this.#failing) {
          this.#failing = false;
          this.#logger.info("releasing delayed messages again", {
            event: this.event.name,
          });
        }
      } catch (error) {
        if (signal.aborted) break;
        // Missing stream or consumer (deleted, or JetStream not ready):
        // make sure both exist on the next round.
        this.#ready = false;
        if (!this.#failing) {
          this.#failing = true;
          this.#logger.warn("could not take delayed messages; retrying", {
            event: this.event.name,
            error,
          });
        }
        await pause(1000, this.#timers, signal);
      }
    }
  }

  async #round(burst: boolean): Promise<void> {
    if (!this.#ready) {
      await ensureDelayStream(this.#jsm, this.event);
      this.#ready = true;
    }
    const consumer = await this.#js.consumers.get(this.#stream, MOVER);
    const messages = await consumer.fetch({
      max_messages: MOVER_BATCH,
      // nats.js refuses a fetch that expires in under a second.
      expires: burst ? 1000 : FETCH_EXPIRES,
    });
    const releases: Promise<void>[] = [];
    for await (const m of messages) {
      const release = this.#handle(m);
      if (release !== undefined) releases.push(release);
    }
    await Promise.all(releases);
  }

  // Nak what is not due (at once, no promise); release what is.
  #handle(m: JsMsg): Promise<void> | undefined {
    const verdict = judgeDelay(
      m.headers?.get(HEADER_DELAY),
      this.#timers.now(),
      Math.floor(m.info.timestampNanos / 1_000_000),
      undefined,
    );
    if (verdict.kind === "wait") {
      m.nak(verdict.ms);
      return undefined;
    }
    return this.#release(m, verdict.kind === "poison");
  }

  async #release(m: JsMsg, poison: boolean): Promise<void> {
    const id = releaseId(m.headers, this.#stream, m.seq);
    // A malformed or out-of-range delay is released at once with the
    // header kept: every actor dead-letters it with the reason.
    const headers = releaseHeaders(m.headers, id, poison);
    try {
      await publishAcked(
        this.#acks,
        {
          event: this.event.name,
          subject: this.event.subject,
          uid: id,
          timeout: RELEASE_TIMEOUT,
          streamExists: async () => {
            try {
              await this.#jsm.streams.info(this.event.stream);
              return true;
            } catch {
              return undefined;
            }
          },
        },
        m.data,
        headers,
      );
    } catch (error) {
      this.#logger.warn("could not release a delayed message; retrying", {
        event: this.event.name,
        sequence: m.seq,
        error,
      });
      m.nak(RETRY_RELEASE);
      return;
    }
    m.ack();
    this.#stats.released++;
  }
}
