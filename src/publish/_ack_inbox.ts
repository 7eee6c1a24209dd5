// Acknowledged publishes over one reply subscription per connection: every
// publish carries that inbox and a token of its own as its reply subject,
// and the stream's acknowledgement is matched back by the token. nats.js'
// js.publish() does the same through request(), at a higher price per
// message (a timeout promise, option copies, a decoder, and an Error built
// for every reply that arrives); a sequential emit loop is 1.14-1.29x
// faster this way (bench/README.md). The errors are nats.js' own classes,
// so _retry.ts tells them apart exactly as before.
import {
  JetStreamApiError,
  JetStreamError,
  type PubAck,
} from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";
/** @ignore */
import {
  createInbox,
  errors,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import { type Timers, timersOf } from "../timers.ts";
import { inboxPrefix } from "../transports/_connection_options.ts";

const decoder = new TextDecoder();

interface Waiting {
  /** Where the message went (permission errors name it). */
  readonly subject: string;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: unknown;
}

// The stream's answer to a publish, as nats-server sends it.
interface Reply {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  domain?: string;
  error?: { code: number; err_code: number; description: string };
}

const inboxes = new WeakMap<NatsConnection, AckInbox>();

/** The connection's acknowledgement inbox (made on first use). */
export function ackInbox(nc: NatsConnection): AckInbox {
  let inbox = inboxes.get(nc);
  if (inbox === undefined) {
    inbox = new AckInbox(nc);
    inboxes.set(nc, inbox);
  }
  return inbox;
}

/** What a publish is refused with when the stream answered with an error. */
function apiError(error: NonNullable<Reply["error"]>): Error {
  switch (error.err_code) {
    case 10014: // consumer not found
      return new jserrors.ConsumerNotFoundError(error);
    case 10059: // stream not found
      return new jserrors.StreamNotFoundError(error);
    case 10039: // JetStream not enabled for the account
      return new jserrors.JetStreamNotEnabled(error.description, {
        cause: new JetStreamApiError(error),
      });
    default:
      return new JetStreamApiError(error);
  }
}

/** One connection's publishes awaiting their acknowledgement. */
export class AckInbox {
  readonly #nc: NatsConnection;
  readonly #timers: Timers;
  readonly #waiting = new Map<string, Waiting>();
  #prefix = "";
  #sub: Subscription | undefined;
  #next = 0;
  #watching = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#timers = timersOf(nc);
  }

  /** Publishes still waiting for their acknowledgement. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Publish and wait up to `timeout` ms for the stream's acknowledgement.
   *
   * @throws {TimeoutError} No answer in time (the message may be stored).
   * @throws {JetStreamNotEnabled} Nobody answered (no stream, or no leader).
   * @throws {JetStreamApiError} The stream refused the message.
   * @throws {RequestError} The connection closed, or a permission was
   *   denied, before the answer came.
   */
  publish(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs,
    timeout: number,
  ): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) => {
      const nc = this.#nc;
      if (nc.isClosed()) {
        reject(new errors.ClosedConnectionError());
        return;
      }
      try {
        this.#open();
      } catch (error) {
        reject(error);
        return;
      }
      const token = (this.#next++).toString(36);
      const timer = this.#timers.setTimeout(() => {
        if (this.#waiting.delete(token)) reject(new errors.TimeoutError());
      }, timeout);
      this.#waiting.set(token, { subject, resolve, reject, timer });
      try {
        nc.publish(subject, data, { reply: this.#prefix + token, headers });
      } catch (error) {
        this.#take(token);
        reject(error);
      }
    });
  }

  // Subscribe (again, after a permission error took the subscription) and
  // watch the connection for what ends the wait of every publish out.
  #open(): void {
    if (this.#sub === undefined) {
      this.#prefix = `${createInbox(inboxPrefix(this.#nc))}.`;
      this.#sub = this.#nc.subscribe(`${this.#prefix}*`, {
        callback: (error, msg) => {
          if (error === null) this.#onReply(msg);
          else this.#onSubscriptionError(error);
        },
      });
    }
    if (this.#watching) return;
    this.#watching = true;
    this.#nc.closed().then(() => {
      this.#rejectAll(new errors.RequestError("connection closed"));
    }, () => {});
    void this.#watchPermissions();
  }

  // A publish the server refused (`-ERR Permissions Violation for Publish
  // to ...`) gets no acknowledgement: fail its waiters at once instead of
  // after their timeout, with the server's words.
  async #watchPermissions(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (status.type !== "error") continue;
        const error = status.error;
        if (
          !(error instanceof errors.PermissionViolationError) ||
          error.operation !== "publish"
        ) continue;
        for (const [token, w] of this.#waiting) {
          if (w.subject !== error.subject) continue;
          this.#take(token);
          w.reject(new errors.RequestError(error.message, { cause: error }));
        }
      }
    } catch {
      // The status feed ended with the connection; closed() rejects.
    }
  }

  #onSubscriptionError(error: Error): void {
    // The inbox cannot be subscribed (a permission): every waiter would time
    // out. Fail them now; the next publish subscribes again.
    this.#sub = undefined;
    this.#rejectAll(new errors.RequestError(error.message, { cause: error }));
  }

  #take(token: string): Waiting | undefined {
    const w = this.#waiting.get(token);
    if (w === undefined) return undefined;
    this.#waiting.delete(token);
    this.#timers.clearTimeout(w.timer);
    return w;
  }

  #rejectAll(error: Error): void {
    for (const token of [...this.#waiting.keys()]) {
      this.#take(token)?.reject(error);
    }
  }

  #onReply(msg: Msg): void {
    // A reply after its timeout (or a stray message) finds no waiter.
    const w = this.#take(msg.subject.slice(this.#prefix.length));
    if (w === undefined) return;
    if (msg.data.length === 0) {
      const code = msg.headers?.code ?? 0;
      w.reject(
        code === 503
          ? new jserrors.JetStreamNotEnabled("jetstream is not enabled", {
            cause: new errors.NoRespondersError(w.subject),
          })
          : new JetStreamError(`invalid ack response (status ${code})`),
      );
      return;
    }
    let reply: Reply;
    try {
      reply = JSON.parse(decoder.decode(msg.data));
    } catch {
      w.reject(new JetStreamError("invalid ack response"));
      return;
    }
    if (reply.error !== undefined) {
      w.reject(apiError(reply.error));
      return;
    }
    if (typeof reply.stream !== "string" || reply.stream === "") {
      w.reject(new JetStreamError("invalid ack response"));
      return;
    }
    reply.duplicate = reply.duplicate === true;
    w.resolve(reply as PubAck);
  }
}
