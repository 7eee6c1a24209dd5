// A nats-core NatsConnection backed by the memory broker: the real
// @nats-io/jetstream client and walnats run on it unchanged.
import {
  type ConnectionOptions,
  createInbox,
  type Msg,
  type MsgCallback,
  type NatsConnection,
  type Payload,
  type PublishOptions,
  type QueuedIterator,
  type RequestManyOptions,
  type RequestOptions,
  type Server,
  type ServerInfo,
  type Stats,
  type Status,
  type Subscription,
  type SubscriptionOptions,
} from "@nats-io/nats-core";
import {
  errors,
  Features,
  parseSemVer,
  QueuedIteratorImpl,
} from "@nats-io/nats-core/internal";
import type { VirtualClock, VirtualTimer } from "./_clock.ts";
import {
  encodeHeaders,
  payloadBytes,
  toMsg,
  type WireMsg,
} from "./_message.ts";
import type { Router, RouterSub } from "./_router.ts";
import { isFilterSubject } from "./_subjects.ts";
import { TIMERS } from "../../timers.ts";

/** What a connection needs from its broker. */
export interface ConnectionHost {
  readonly router: Router;
  readonly clock: VirtualClock;
  readonly version: string;
  readonly maxPayload: number;
  /** Called once the connection is closed. */
  closed(conn: MemoryConnection): void;
}

let nextClientId = 1;

/** One subscription of a memory connection. */
class MemorySubscription implements Subscription, RouterSub {
  readonly subject: string;
  readonly queue: string | undefined;
  readonly sid: number;
  readonly closed: Promise<void | Error>;
  callback: MsgCallback<Msg>;
  readonly #conn: MemoryConnection;
  readonly #router: Router;
  readonly #iter: QueuedIteratorImpl<Msg> | undefined;
  #max: number | undefined;
  #received = 0;
  #processed = 0;
  #closed = false;
  #draining = false;
  #resolveClosed!: (value: void | Error) => void;
  #timer: VirtualTimer | undefined;
  readonly #clock: VirtualClock;

  constructor(
    conn: MemoryConnection,
    router: Router,
    clock: VirtualClock,
    sid: number,
    subject: string,
    opts: SubscriptionOptions,
  ) {
    this.#conn = conn;
    this.#router = router;
    this.#clock = clock;
    this.sid = sid;
    this.subject = subject;
    this.queue = opts.queue === undefined || opts.queue === ""
      ? undefined
      : opts.queue;
    this.#max = opts.max !== undefined && opts.max > 0 ? opts.max : undefined;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    if (typeof opts.callback === "function") {
      const cb = opts.callback;
      this.callback = cb;
    } else {
      const iter = new QueuedIteratorImpl<Msg>();
      this.#iter = iter;
      this.callback = (err, msg) => {
        if (err !== null) iter.stop(err);
        else iter.push(msg);
      };
    }
    if (opts.timeout !== undefined && opts.timeout > 0) {
      this.#timer = clock.setTimeout(() => {
        this.#timer = undefined;
        if (this.#closed || this.#received > 0) return;
        const error = new errors.TimeoutError();
        this.#close(error);
        this.callback(error, {} as Msg);
      }, opts.timeout);
    }
  }

  deliver(m: WireMsg): void {
    if (this.#closed) return;
    if (this.#max !== undefined && this.#received >= this.#max) return;
    this.#received++;
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#conn.countIn(m);
    const msg = toMsg(m, this.sid, this.#conn);
    try {
      this.callback(null, msg);
    } finally {
      this.#processed++;
      if (this.#max !== undefined && this.#received >= this.#max) {
        this.#close(undefined);
      }
    }
  }

  #close(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#router.remove(this);
    this.#conn.forget(this);
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    // An iterator ends after what it holds (nats-core does the same).
    if (this.#iter !== undefined && error === undefined) this.#iter.stop();
    this.#resolveClosed(error);
  }

  /** Close from the connection's side (close or drain). */
  end(error?: Error): void {
    this.#close(error);
  }

  unsubscribe(max?: number): void {
    if (max !== undefined && max > 0) {
      this.#max = max;
      if (this.#received >= max) this.#close(undefined);
      return;
    }
    this.#close(undefined);
  }

  drain(): Promise<void> {
    if (this.#conn.isClosed()) {
      return Promise.reject(new errors.ClosedConnectionError());
    }
    if (this.#closed) return Promise.resolve();
    this.#draining = true;
    // Messages already routed are delivered first.
    return new Promise((resolve) => {
      this.#router.enqueue(() => {
        this.#close(undefined);
        resolve();
      });
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain().catch(() => {});
  }

  isDraining(): boolean {
    return this.#draining && !this.#closed;
  }

  isClosed(): boolean {
    return this.#closed;
  }

  getSubject(): string {
    return this.subject;
  }

  getReceived(): number {
    return this.#received;
  }

  getProcessed(): number {
    return this.#iter?.getProcessed() ?? this.#processed;
  }

  getPending(): number {
    return this.#iter?.getPending() ?? 0;
  }

  getID(): number {
    return this.sid;
  }

  getMax(): number | undefined {
    return this.#max;
  }

  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    if (this.#iter === undefined) {
      throw new TypeError(
        "Cannot iterate a subscription that has a callback",
      );
    }
    return this.#iter[Symbol.asyncIterator]();
  }
}

/**
 * A connection to the memory broker. It implements nats-core's
 * `NatsConnection`; `broker.connect()` makes one.
 */
export class MemoryConnection implements NatsConnection {
  /** The server it pretends to be. */
  info: ServerInfo;
  /** The options it was made with (the inbox prefix is read from here). */
  readonly options: ConnectionOptions;
  /** Server features by version, as nats-core computes them. */
  readonly features: Features;
  /** walnats' time seam: the broker's virtual clock. */
  readonly [TIMERS]: VirtualClock;
  readonly #host: ConnectionHost;
  readonly #subs = new Set<MemorySubscription>();
  readonly #statuses = new Set<QueuedIteratorImpl<Status>>();
  readonly #closedPromise: Promise<void | Error>;
  #resolveClosed!: (value: void | Error) => void;
  readonly #closeListeners = new Set<
    { connectionClosedCallback(err?: Error): void }
  >();
  #closed = false;
  #draining = false;
  #stats: Stats = { inBytes: 0, outBytes: 0, inMsgs: 0, outMsgs: 0 };

  constructor(host: ConnectionHost, options: ConnectionOptions = {}) {
    this.#host = host;
    this.options = { ...options };
    this[TIMERS] = host.clock;
    this.info = {
      server_id: "MEMORYBROKER",
      server_name: "memory",
      version: host.version,
      proto: 1,
      go: "memory",
      host: "memory",
      port: 0,
      headers: true,
      jetstream: true,
      max_payload: host.maxPayload,
      client_id: nextClientId++,
    };
    this.features = new Features(parseSemVer(host.version));
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** @internal Count a delivery to this connection. */
  countIn(m: WireMsg): void {
    this.#stats.inMsgs++;
    this.#stats.inBytes += (m.hdr?.length ?? 0) + m.data.length;
  }

  /** @internal A subscription closed. */
  forget(sub: MemorySubscription): void {
    this.#subs.delete(sub);
  }

  #check(subject: string, sub: boolean, pub: boolean): void {
    if (this.#closed) throw new errors.ClosedConnectionError();
    if ((sub || pub) && this.#draining) {
      throw new errors.DrainingConnectionError();
    }
    if (typeof subject !== "string" || subject === "" || /\s/.test(subject)) {
      throw new errors.InvalidSubjectError(String(subject));
    }
  }

  publish(subject: string, payload?: Payload, options?: PublishOptions): void {
    this.#check(subject, false, true);
    if (options?.reply) this.#check(options.reply, false, true);
    const data = payloadBytes(payload);
    const hdr = encodeHeaders(options?.headers);
    const size = data.length + (hdr?.length ?? 0);
    if (size > this.info.max_payload) {
      throw errors.InvalidArgumentError.format(
        "payload",
        "max_payload size exceeded",
      );
    }
    this.#stats.outMsgs++;
    this.#stats.outBytes += size;
    this.#host.router.publish({
      subject,
      reply: options?.reply || undefined,
      hdr,
      data,
    });
  }

  publishMessage(msg: Msg): void {
    this.publish(msg.subject, msg.data, {
      ...(msg.reply ? { reply: msg.reply } : {}),
      ...(msg.headers ? { headers: msg.headers } : {}),
    });
  }

  respondMessage(msg: Msg): boolean {
    if (!msg.reply) return false;
    this.publish(
      msg.reply,
      msg.data,
      msg.headers ? { headers: msg.headers } : {},
    );
    return true;
  }

  subscribe(subject: string, opts: SubscriptionOptions = {}): Subscription {
    this.#check(subject, true, false);
    if (!isFilterSubject(subject)) {
      throw new errors.InvalidSubjectError(subject);
    }
    const sub = new MemorySubscription(
      this,
      this.#host.router,
      this.#host.clock,
      nextSid++,
      subject,
      opts,
    );
    this.#subs.add(sub);
    this.#host.router.add(sub);
    return sub;
  }

  request(
    subject: string,
    payload?: Payload,
    opts: RequestOptions = { timeout: 1000 },
  ): Promise<Msg> {
    try {
      this.#check(subject, true, true);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeout = opts.timeout || 1000;
    if (timeout < 1) {
      return Promise.reject(
        errors.InvalidArgumentError.format("timeout", "must be greater than 0"),
      );
    }
    if (!opts.noMux && opts.reply) {
      return Promise.reject(
        errors.InvalidArgumentError.format(
          ["reply", "noMux"],
          "are mutually exclusive",
        ),
      );
    }
    const inbox = opts.reply || createInbox(this.options.inboxPrefix);
    return new Promise<Msg>((resolve, reject) => {
      const sub = this.subscribe(inbox, {
        max: 1,
        timeout,
        callback: (err, msg) => {
          if (
            err === null && msg.data.length === 0 && msg.headers?.code === 503
          ) {
            err = new errors.NoRespondersError(subject);
          }
          if (err === null) {
            resolve(msg);
            return;
          }
          if (err instanceof errors.TimeoutError) reject(err);
          else reject(new errors.RequestError(err.message, { cause: err }));
          sub.unsubscribe();
        },
      });
      try {
        this.publish(subject, payload, {
          reply: inbox,
          ...(opts.headers ? { headers: opts.headers } : {}),
        });
      } catch (error) {
        sub.unsubscribe();
        reject(error);
      }
    });
  }

  requestMany(
    subject: string,
    payload?: Payload,
    opts: Partial<RequestManyOptions> = {},
  ): Promise<AsyncIterable<Msg>> {
    try {
      this.#check(subject, true, true);
    } catch (error) {
      return Promise.reject(error);
    }
    const iter = new QueuedIteratorImpl<Msg>();
    const maxWait = opts.maxWait ?? 1000;
    const strategy = opts.strategy ?? "timer";
    const clock = this.#host.clock;
    let stall: VirtualTimer | undefined;
    const inbox = createInbox(this.options.inboxPrefix);
    const sub = this.subscribe(inbox, {
      callback: (_err, msg) => {
        if (msg.data.length === 0 && msg.headers?.code === 503) {
          stop(
            new errors.RequestError("no responders", {
              cause: new errors.NoRespondersError(subject),
            }),
          );
          return;
        }
        if (strategy === "sentinel" && msg.data.length === 0) {
          stop();
          return;
        }
        iter.push(msg);
        if (
          strategy === "count" && opts.maxMessages !== undefined &&
          iter.getReceived() >= opts.maxMessages
        ) {
          stop();
        }
        if (strategy === "stall") {
          if (stall !== undefined) clock.clearTimeout(stall);
          stall = clock.setTimeout(() => stop(), opts.stall ?? 300);
        }
      },
    });
    const overall = clock.setTimeout(() => stop(), maxWait);
    const stop = (error?: Error) => {
      clock.clearTimeout(overall);
      if (stall !== undefined) clock.clearTimeout(stall);
      if (!sub.isClosed()) sub.unsubscribe();
      iter.stop(error);
    };
    this.publish(subject, payload, {
      reply: inbox,
      ...(opts.headers ? { headers: opts.headers } : {}),
    });
    return Promise.resolve(iter);
  }

  /** Resolves once every message published before it was routed. */
  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(new errors.ClosedConnectionError());
    return new Promise((resolve) => this.#host.router.enqueue(resolve));
  }

  async drain(): Promise<void> {
    if (this.#closed) throw new errors.ClosedConnectionError();
    if (this.#draining) throw new errors.DrainingConnectionError();
    this.#draining = true;
    await Promise.all([...this.#subs].map((s) => s.drain()));
    await new Promise<void>((resolve) => this.#host.router.enqueue(resolve));
    this.#shutdown();
  }

  close(): Promise<void> {
    this.#shutdown();
    return Promise.resolve();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of [...this.#subs]) sub.end();
    for (const it of this.#statuses) {
      it.push({ type: "close" } as Status);
      it.stop();
    }
    this.#statuses.clear();
    this.#host.closed(this);
    this.#resolveClosed();
    for (const l of [...this.#closeListeners]) l.connectionClosedCallback();
    this.#closeListeners.clear();
  }

  closed(): Promise<void | Error> {
    return this.#closedPromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  isClosed(): boolean {
    return this.#closed;
  }

  isDraining(): boolean {
    return this.#draining && !this.#closed;
  }

  getServer(): string {
    return "memory://broker";
  }

  status(): AsyncIterable<Status> & QueuedIterator<Status> {
    const it = new QueuedIteratorImpl<Status>();
    if (this.#closed) it.stop();
    else this.#statuses.add(it);
    const stop = it.stop.bind(it);
    it.stop = (err?: Error) => {
      this.#statuses.delete(it);
      stop(err);
    };
    return it;
  }

  stats(): Stats {
    return { ...this.#stats };
  }

  rtt(): Promise<number> {
    if (this.#closed) return Promise.reject(new errors.ClosedConnectionError());
    return Promise.resolve(0);
  }

  reconnect(): Promise<void> {
    if (this.#closed) return Promise.reject(new errors.ClosedConnectionError());
    return Promise.resolve();
  }

  /**
   * @internal What nats-core's connection offers @nats-io/jetstream's
   * consumers: a callback when the connection closes.
   */
  addCloseListener(
    listener: { connectionClosedCallback(err?: Error): void },
  ): void {
    this.#closeListeners.add(listener);
  }

  /** @internal See {@linkcode MemoryConnection.addCloseListener}. */
  removeCloseListener(
    listener: { connectionClosedCallback(err?: Error): void },
  ): void {
    this.#closeListeners.delete(listener);
  }

  /**
   * @internal nats-core re-subscribes after a reconnect; a memory
   * connection never loses its subscriptions.
   */
  _resub(_sub: Subscription, _subject: string, _max?: number): void {}

  setServers(_servers: string[]): void {}

  getServers(): ReadonlyArray<Server> {
    return [];
  }
}

let nextSid = 1;
