// Core NATS in memory: subscriptions by subject (with `*`, `>` and queue
// groups), one FIFO of deliveries run in microtasks so every publisher's
// order is kept, and "no responders" for requests nobody takes.
import { statusHeader, type WireMsg } from "./_message.ts";
import { isPublishSubject, subjectMatches } from "./_subjects.ts";

/** A subscription as the router sees it. */
export interface RouterSub {
  readonly subject: string;
  readonly queue: string | undefined;
  /** Take one message; called in delivery order. */
  deliver(m: WireMsg): void;
}

const EMPTY = new Uint8Array(0);

/** Routes messages between connections and to the server side. */
export class Router {
  // Literal subjects by subject (inboxes: most subscriptions), wildcard
  // ones in a list; insertion order kept for delivery order.
  readonly #exact = new Map<string, Set<RouterSub>>();
  readonly #wild = new Set<RouterSub>();
  #tasks: (() => void)[] = [];
  #scheduled = false;
  // Round-robin position per queue group, so members take turns.
  readonly #turns = new Map<string, number>();
  /** The server side: true if it is a responder for the message. */
  readonly #server: (m: WireMsg) => boolean;

  constructor(server: (m: WireMsg) => boolean) {
    this.#server = server;
  }

  add(sub: RouterSub): void {
    if (isPublishSubject(sub.subject)) {
      let set = this.#exact.get(sub.subject);
      if (set === undefined) this.#exact.set(sub.subject, set = new Set());
      set.add(sub);
    } else {
      this.#wild.add(sub);
    }
  }

  remove(sub: RouterSub): void {
    const set = this.#exact.get(sub.subject);
    if (set !== undefined && set.delete(sub)) {
      if (set.size === 0) this.#exact.delete(sub.subject);
      return;
    }
    this.#wild.delete(sub);
  }

  /** Whether any subscription would receive a message on `subject`. */
  hasInterest(subject: string): boolean {
    if (this.#exact.has(subject)) return true;
    for (const s of this.#wild) {
      if (subjectMatches(s.subject, subject)) return true;
    }
    return false;
  }

  #matching(subject: string): RouterSub[] {
    const out: RouterSub[] = [];
    const exact = this.#exact.get(subject);
    if (exact !== undefined) out.push(...exact);
    for (const s of this.#wild) {
      if (subjectMatches(s.subject, subject)) out.push(s);
    }
    return out;
  }

  /** Run `task` after everything queued before it. */
  enqueue(task: () => void): void {
    this.#tasks.push(task);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    const tasks = this.#tasks;
    this.#tasks = [];
    for (const task of tasks) {
      try {
        task();
      } catch (error) {
        // A subscriber's callback threw: surface it as the runtime would
        // for a callback of a real connection, and keep delivering.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  };

  /** A client published `m`. */
  publish(m: WireMsg): void {
    this.enqueue(() => this.#route(m, true));
  }

  /** The server sends `m` (a reply, a status, a delivery). */
  send(m: WireMsg): void {
    this.enqueue(() => this.#route(m, false));
  }

  #route(m: WireMsg, fromClient: boolean): void {
    const to = m.to ?? m.subject;
    // Wildcards are not valid in a published subject: nothing receives it.
    if (!isPublishSubject(to)) return;
    const responder = fromClient ? this.#server(m) : false;
    let delivered = 0;
    const groups = new Map<string, RouterSub[]>();
    for (const s of this.#matching(to)) {
      if (s.queue === undefined) {
        s.deliver(m);
        delivered++;
      } else {
        const key = `${s.queue} ${s.subject}`;
        const members = groups.get(key);
        if (members === undefined) groups.set(key, [s]);
        else members.push(s);
      }
    }
    for (const [key, members] of groups) {
      const turn = this.#turns.get(key) ?? 0;
      this.#turns.set(key, turn + 1);
      members[turn % members.length]!.deliver(m);
      delivered++;
    }
    if (fromClient && m.reply && !responder && delivered === 0) {
      this.#route({
        subject: m.reply,
        reply: undefined,
        hdr: statusHeader(503, ""),
        data: EMPTY,
      }, false);
    }
  }
}
