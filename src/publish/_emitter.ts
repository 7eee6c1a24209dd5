// The emit path of a publisher, top-down: prepare (encode, headers, sizes),
// then either hand the message to the connection (fire-and-forget) or
// publish it and wait for the stream's acknowledgement (with the delay
// stream as the destination of a delayed emit), alone or many at a time.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { CloudEvent } from "../cloud_event.ts";
import { EmitError } from "../errors.ts";
import type { AnyEvent } from "../event.ts";
import { type EmitObserver, notifyEmit } from "../ops/emit_observer.ts";
import { timersOf } from "../_timers.ts";
import { DelayRoutes } from "./_delayed.ts";
import { type Prepared, prepareEmit, type PrepareEnv } from "./_prepare.ts";
import { type AckInbox, ackInbox } from "./_ack_inbox.ts";
import { sendAcked } from "./_send.ts";
import { inWindow } from "./_window.ts";
import type { Extra } from "./_wire.ts";
import type {
  EmitManyOptions,
  EmitManyResult,
  EmitOptions,
  EmitResult,
  HeaderHook,
} from "./options.ts";

const DEFAULT_WINDOW = 256;
/** Milliseconds an acknowledged emit may take, retries included. */
const EMIT_TIMEOUT = 5000;
/** What a fire-and-forget emit resolves to: one settled promise, reused. */
const SETTLED: Promise<undefined> = Promise.resolve(undefined);
/** What a plain emit carries beyond its options: nothing. */
const NO_EXTRA: Extra = Object.freeze({});

/** What an {@linkcode Emitter} sends with. */
export interface EmitterInit {
  nc: NatsConnection;
  jsm: JetStreamManager;
  hooks: readonly HeaderHook[];
  observers: readonly EmitObserver[];
}

/** Sends a publisher's messages; the publisher checks the event first. */
export class Emitter {
  readonly #nc: NatsConnection;
  readonly #acks: AckInbox;
  readonly #jsm: JetStreamManager;
  readonly #observers: readonly EmitObserver[];
  readonly #delays: DelayRoutes;
  /** What prepareEmit reads, made once per publisher. */
  readonly #env: PrepareEnv;

  constructor(init: EmitterInit) {
    const nc = init.nc;
    this.#nc = nc;
    this.#env = {
      hooks: init.hooks,
      // Read per emit: a reconnect may land on a server with another limit.
      get maxPayload() {
        return nc.info?.max_payload;
      },
      now: () => timersOf(nc).now(),
    };
    this.#acks = ackInbox(nc);
    this.#jsm = init.jsm;
    this.#observers = init.observers;
    this.#delays = new DelayRoutes(init.jsm);
  }

  /**
   * Encode, check size, and build headers; nothing is sent. Synchronous
   * when the codec is (the JSON codec with a synchronous schema).
   */
  prepare(
    event: AnyEvent,
    message: unknown,
    options: EmitOptions,
    extra: Extra,
  ): Prepared | Promise<Prepared> {
    return prepareEmit(event, message, options, extra, this.#env);
  }

  /** Publish and wait for the stream's acknowledgement. */
  async send(
    event: AnyEvent,
    { data, headers }: Prepared,
    timeout: number = EMIT_TIMEOUT,
    delay?: number,
  ): Promise<EmitResult> {
    // A delayed message waits in the event's delay stream, if it has one
    // (docs/delays-and-schedules.md).
    const to = delay !== undefined && delay > 0
      ? await this.#delays.target(event)
      : undefined;
    const out = { event, data, headers, timeout, to };
    try {
      return await sendAcked(this.#acks, this.#jsm, this.#observers, out);
    } catch (error) {
      if (
        to === undefined || !(error instanceof EmitError) ||
        error.reason !== "no-stream"
      ) throw error;
      // The delay stream was deleted: the event's subject still works.
      this.#delays.forget(event);
      return await sendAcked(this.#acks, this.#jsm, this.#observers, {
        ...out,
        to: undefined,
      });
    }
  }

  /** `emit` with `sync: true`. */
  async acked(
    event: AnyEvent,
    message: unknown,
    options: EmitOptions,
  ): Promise<EmitResult> {
    checkTimeout(event.name, options.timeout);
    const prepared = await this.prepare(event, message, options, NO_EXTRA);
    return await this.send(event, prepared, options.timeout, options.delay);
  }

  // Fire-and-forget without an await chain: with a synchronous codec the
  // message is in nats.js' outbound buffer when emit() returns, and the
  // returned promise is already settled. nats.js writes its buffer once per
  // turn of the event loop (a microtask), so a loop of emits that does not
  // await each one goes out in a few large writes, as a raw nc.publish loop
  // does; awaiting each costs one write per message, raw or not.
  /** `emit` with `sync: false`; never throws synchronously. */
  unacked(
    event: AnyEvent,
    message: unknown,
    options: EmitOptions,
  ): Promise<undefined> {
    try {
      checkTimeout(event.name, options.timeout);
      const prepared = this.prepare(event, message, options, NO_EXTRA);
      const delayed = options.delay !== undefined && options.delay > 0;
      if (prepared instanceof Promise || delayed) {
        return this.#unackedLater(event, prepared, delayed);
      }
      this.#hand(event, event.subject, prepared);
      return SETTLED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #unackedLater(
    event: AnyEvent,
    prepared: Prepared | Promise<Prepared>,
    delayed: boolean,
  ): Promise<undefined> {
    const ready = await prepared;
    const to = delayed ? await this.#delays.target(event) : undefined;
    this.#hand(event, to?.subject ?? event.subject, ready);
    return undefined;
  }

  #hand(event: AnyEvent, subject: string, prepared: Prepared): void {
    const headers: MsgHdrs | undefined = prepared.headers;
    this.#nc.publish(subject, prepared.data, headers ? { headers } : undefined);
    if (this.#observers.length > 0) {
      notifyEmit(this.#observers, {
        event,
        duration: 0,
        outcome: "ok",
        sync: false,
      });
    }
  }

  /** `emitMany`: a window of acknowledged emits, failures by index. */
  async many(
    event: AnyEvent,
    messages: Iterable<unknown>,
    options: EmitManyOptions<unknown>,
  ): Promise<EmitManyResult> {
    checkTimeout(event.name, options.timeout);
    const window = options.window ?? DEFAULT_WINDOW;
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(
        `Cannot emit event "${event.name}": window must be a positive integer, got ${window}`,
      );
    }
    const shared: EmitOptions = {};
    if (options.traceId !== undefined) shared.traceId = options.traceId;
    if (options.delay !== undefined) shared.delay = options.delay;
    if (options.meta !== undefined) shared.meta = options.meta;
    const cloud = options.meta instanceof CloudEvent ? options.meta : undefined;
    return await inWindow(
      [...messages],
      window,
      options.signal,
      () =>
        new Error(`Cannot emit event "${event.name}": aborted before sending`, {
          cause: options.signal?.reason,
        }),
      async (item, index) => {
        const ceId = cloud ? `${cloud.attributes.id}-${index}` : undefined;
        const uid = options.uid?.(item, index) ?? ceId;
        const prepared = await this.prepare(event, item, shared, {
          uid,
          ceId,
        });
        return await this.send(
          event,
          prepared,
          options.timeout,
          options.delay,
        );
      },
    );
  }
}

/** @throws {RangeError} `timeout` is given and not a positive number. */
export function checkTimeout(event: string, timeout: number | undefined): void {
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" || !(timeout > 0) || !Number.isFinite(timeout))
  ) {
    throw new RangeError(
      `Cannot emit event "${event}": timeout must be a positive number of milliseconds, got ${
        String(timeout)
      }`,
    );
  }
}
