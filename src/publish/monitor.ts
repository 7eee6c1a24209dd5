/**
 * The live feed of {@linkcode Publisher.monitor}: a core subscription per
 * event, decoded in arrival order; nothing is stored or acknowledged.
 *
 * @module
 */
/** @ignore */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { DecodeError } from "../errors.ts";
import type { AnyEvent } from "../event.ts";
import { headersToRecord } from "../headers.ts";

/** Options for {@linkcode Publisher.monitor}. */
export interface MonitorOptions {
  /** Ends the feed (it also ends when the publisher is closed). */
  signal?: AbortSignal;
}

/** One message seen by {@linkcode Publisher.monitor}. */
export type MonitorItem =
  | {
    /** The event it belongs to. */
    event: AnyEvent;
    /** The NATS subject. */
    subject: string;
    /** The message's headers. */
    headers: Record<string, string>;
    /** The decoded payload. */
    message: unknown;
    error?: undefined;
    data?: undefined;
  }
  | {
    /** The event it belongs to. */
    event: AnyEvent;
    /** The NATS subject. */
    subject: string;
    /** The message's headers. */
    headers: Record<string, string>;
    message?: undefined;
    /** Why the payload did not decode (`DecodeError`, `ValidationError`). */
    error: Error;
    /** The raw payload. */
    data: Uint8Array;
  };

/** A monitor feed: subscribed at once, decoded in arrival order. */
export class MonitorFeed implements AsyncIterableIterator<MonitorItem> {
  readonly #queue: { event: AnyEvent; msg: Msg }[] = [];
  readonly #subs: Subscription[];
  readonly #signal: AbortSignal | undefined;
  readonly #onEnd: (feed: MonitorFeed) => void;
  #waiters: (() => void)[] = [];
  #error: Error | undefined;
  #ended = false;

  constructor(
    nc: NatsConnection,
    events: AnyEvent[],
    signal: AbortSignal | undefined,
    onEnd: (feed: MonitorFeed) => void,
  ) {
    this.#signal = signal;
    this.#onEnd = onEnd;
    this.#subs = events.map((event) =>
      nc.subscribe(event.subject, {
        callback: (err, msg) => {
          if (err !== null) {
            this.#error ??= err;
            this.end();
            return;
          }
          this.#queue.push({ event, msg });
          this.#wake();
        },
      })
    );
    // The connection closing (or a permissions error) ends the feed too.
    for (const sub of this.#subs) {
      sub.closed.then((error) => {
        if (error instanceof Error && !this.#ended) this.#error ??= error;
        this.end();
      });
    }
    if (signal?.aborted) this.end();
    else signal?.addEventListener("abort", this.end, { once: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Stop: unsubscribe and let pending `next()` calls finish. */
  readonly end = (): void => {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue.length = 0;
    this.#signal?.removeEventListener("abort", this.end);
    for (const sub of this.#subs) {
      if (!sub.isClosed()) sub.unsubscribe();
    }
    this.#onEnd(this);
    this.#wake();
  };

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async next(): Promise<IteratorResult<MonitorItem, undefined>> {
    while (true) {
      const raw = this.#queue.shift();
      if (raw !== undefined) {
        return { done: false, value: await decodeItem(raw.event, raw.msg) };
      }
      if (this.#error !== undefined) {
        const error = this.#error;
        this.#error = undefined;
        throw error;
      }
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  return(): Promise<IteratorResult<MonitorItem, undefined>> {
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<MonitorItem> {
    return this;
  }
}

async function decodeItem(event: AnyEvent, msg: Msg): Promise<MonitorItem> {
  const headers = headersToRecord(msg.headers);
  try {
    const message = await event.codec.decode(msg.data);
    return { event, subject: msg.subject, headers, message };
  } catch (error) {
    return {
      event,
      subject: msg.subject,
      headers,
      error: error instanceof Error ? error : new DecodeError(String(error)),
      data: msg.data,
    };
  }
}
