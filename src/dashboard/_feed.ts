// The live event feed: core subscriptions to the events' subjects (nothing
// is stored, acknowledged or taken from the actors), open only while a
// browser watches; served as server-sent events. Bounded everywhere: the
// last `buffer` items are kept for newcomers, at most `rate` items a
// second go out (the rest are counted as skipped), and a browser that
// reads too slowly loses items rather than growing a queue here.
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { headersToRecord } from "../headers.ts";
import { show } from "./_payload.ts";

/** One message as the feed sends it (JSON). */
export interface FeedItem {
  id: number;
  /** When the dashboard saw it (ISO 8601). */
  time: string;
  event: string;
  subject: string;
  headers: Record<string, string>;
  kind: "text" | "base64";
  data: string;
  size: number;
  truncated: boolean;
}

/** Options of a {@linkcode FeedHub}. */
export interface FeedOptions {
  /** Items kept for browsers that connect later. */
  buffer: number;
  /** Items sent a second, at most (the others are counted, not sent). */
  rate: number;
  /** Bytes of each payload sent. */
  preview: number;
  /** Milliseconds between keep-alive comments. */
  keepAlive: number;
}

const encoder = new TextEncoder();
const MAX_HEADERS = 32;
const MAX_HEADER_VALUE = 512;

interface Client {
  controller: ReadableStreamDefaultController<Uint8Array>;
  dropped: number;
}

/** Fans core subscriptions out to server-sent-event streams. */
export class FeedHub {
  readonly #connection: () => Promise<NatsConnection>;
  readonly #subjects: () => Promise<string[]>;
  readonly #options: FeedOptions;
  readonly #clients = new Set<Client>();
  readonly #buffer: FeedItem[] = [];
  readonly #subs = new Map<string, Subscription>();
  #nextId = 1;
  #window = { second: 0, sent: 0, skipped: 0 };
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    connection: () => Promise<NatsConnection>,
    subjects: () => Promise<string[]>,
    options: FeedOptions,
  ) {
    this.#connection = connection;
    this.#subjects = subjects;
    this.#options = options;
  }

  /** Browsers watching. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Subjects subscribed to now. */
  get subjects(): string[] {
    return [...this.#subs.keys()].sort();
  }

  /** A server-sent-event stream; ends when `signal` aborts or on close. */
  stream(signal: AbortSignal): ReadableStream<Uint8Array> {
    let client: Client | undefined;
    const detach = () => {
      if (client === undefined || !this.#clients.delete(client)) return;
      try {
        client.controller.close();
      } catch {
        // Already closed or errored by the reader going away.
      }
      if (this.#clients.size === 0) this.#idle();
    };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (this.#closed || signal.aborted) {
          controller.close();
          return;
        }
        client = { controller, dropped: 0 };
        this.#clients.add(client);
        signal.addEventListener("abort", detach, { once: true });
        // The browser retries after this many ms if the stream breaks.
        controller.enqueue(encoder.encode("retry: 3000\n\n"));
        for (const item of this.#buffer) this.#send(client, "message", item);
        this.#keepAlive ??= setInterval(
          () => this.#broadcastRaw(": keep-alive\n\n"),
          this.#options.keepAlive,
        );
        this.sync().then(
          () => this.#send(client!, "ready", { subjects: this.subjects }),
          (error) =>
            this.#send(client!, "failure", {
              error: error instanceof Error ? error.message : String(error),
            }),
        );
      },
      cancel: detach,
    }, new CountQueuingStrategy({ highWaterMark: 256 }));
  }

  /** Subscribe to the current subjects (while someone watches). */
  async sync(subjects?: string[]): Promise<void> {
    if (this.#clients.size === 0 || this.#closed) return;
    const wanted = new Set(subjects ?? await this.#subjects());
    const nc = await this.#connection();
    if (this.#clients.size === 0 || this.#closed) return;
    for (const [subject, sub] of this.#subs) {
      if (!wanted.has(subject)) {
        sub.unsubscribe();
        this.#subs.delete(subject);
      }
    }
    for (const subject of wanted) {
      if (this.#subs.has(subject)) continue;
      this.#subs.set(
        subject,
        nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err !== null) return;
            this.#publish(subject, msg.subject, msg.headers, msg.data);
          },
        }),
      );
    }
    // The server has the subscriptions once the flush returns.
    await nc.flush();
  }

  #publish(
    event: string,
    subject: string,
    h: Parameters<typeof headersToRecord>[0],
    data: Uint8Array,
  ): void {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.#window.second) {
      if (this.#window.skipped > 0) {
        this.#broadcast("skipped", { count: this.#window.skipped });
      }
      this.#window = { second, sent: 0, skipped: 0 };
    }
    if (this.#window.sent >= this.#options.rate) {
      this.#window.skipped++;
      return;
    }
    this.#window.sent++;
    const headers: Record<string, string> = {};
    let n = 0;
    for (const [k, v] of Object.entries(headersToRecord(h))) {
      if (n++ >= MAX_HEADERS) break;
      headers[k] = v.length > MAX_HEADER_VALUE
        ? `${v.slice(0, MAX_HEADER_VALUE)}…`
        : v;
    }
    const shown = show(data, this.#options.preview);
    const item: FeedItem = {
      id: this.#nextId++,
      time: new Date().toISOString(),
      event,
      subject,
      headers,
      kind: shown.kind,
      data: shown.content,
      size: shown.size,
      truncated: shown.truncated,
    };
    this.#buffer.push(item);
    if (this.#buffer.length > this.#options.buffer) this.#buffer.shift();
    this.#broadcast("message", item);
  }

  #broadcast(event: string, data: unknown): void {
    for (const client of this.#clients) this.#send(client, event, data);
  }

  #broadcastRaw(text: string): void {
    const bytes = encoder.encode(text);
    for (const client of this.#clients) {
      try {
        client.controller.enqueue(bytes);
      } catch {
        this.#clients.delete(client);
      }
    }
    if (this.#clients.size === 0) this.#idle();
  }

  #send(client: Client, event: string, data: unknown): void {
    const { controller } = client;
    if (!this.#clients.has(client)) return;
    // A reader that does not keep up loses items (counted, then reported).
    if ((controller.desiredSize ?? 0) <= 0 && event === "message") {
      client.dropped++;
      return;
    }
    try {
      if (client.dropped > 0) {
        controller.enqueue(encoder.encode(
          `event: dropped\ndata: ${
            JSON.stringify({ count: client.dropped })
          }\n\n`,
        ));
        client.dropped = 0;
      }
      const id = event === "message" ? `id: ${(data as FeedItem).id}\n` : "";
      controller.enqueue(
        encoder.encode(
          `${id}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
        ),
      );
    } catch {
      this.#clients.delete(client);
    }
  }

  // Nobody watches: stop receiving (the buffer stays for the next one).
  #idle(): void {
    for (const sub of this.#subs.values()) sub.unsubscribe();
    this.#subs.clear();
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }

  /** End every stream and unsubscribe. */
  close(): void {
    this.#closed = true;
    for (const client of this.#clients) {
      try {
        client.controller.close();
      } catch {
        // The reader went away already.
      }
    }
    this.#clients.clear();
    this.#idle();
  }
}
