// A JetStream message delivered to a pull request, with the ack protocol
// spoken directly: parsing the ack subject once, no per-message timers.
import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import { nakDelayNanos } from "../_bounds.ts";

const encoder = new TextEncoder();
const ACK = encoder.encode("+ACK");
const WPI = encoder.encode("+WPI");
const NAK = encoder.encode("-NAK");
const TERM = encoder.encode("+TERM");

/** Delivery metadata parsed from the `$JS.ACK...` reply subject. */
export interface DeliveryMeta {
  stream: string;
  consumer: string;
  /** How many times the message was delivered, 1-based. */
  deliveryCount: number;
  /** Stream sequence. */
  streamSequence: number;
  /** Consumer sequence. */
  consumerSequence: number;
  /** When the message was stored, epoch milliseconds. */
  timestamp: number;
  /** Messages left after this one. */
  pending: number;
}

/** Parse `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (v1) or the v2 form with domain and account hash. */
export function parseAckSubject(subject: string): DeliveryMeta | undefined {
  const t = subject.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  let i: number;
  if (t.length === 9) i = 2;
  else if (t.length >= 11) i = 4;
  else return undefined;
  return {
    stream: t[i] ?? "",
    consumer: t[i + 1] ?? "",
    deliveryCount: Number(t[i + 2]),
    streamSequence: Number(t[i + 3]),
    consumerSequence: Number(t[i + 4]),
    timestamp: nanosToMillis(t[i + 5] ?? "0"),
    pending: Number(t[i + 6]),
  };
}

// Nanoseconds overflow float precision; milliseconds are what we need.
function nanosToMillis(nanos: string): number {
  return nanos.length > 6 ? Number(nanos.slice(0, -6)) : 0;
}

/**
 * A parser for one consumer's ack subjects: the `$JS.ACK.<stream>.<consumer>.`
 * prefix is known, so only the five numbers after it are read, without
 * splitting the subject (the hot path of every delivered message).
 */
export function ackParser(
  stream: string,
  consumer: string,
): (subject: string) => DeliveryMeta | undefined {
  const prefix = `$JS.ACK.${stream}.${consumer}.`;
  const start = prefix.length;
  return (subject) => {
    if (!subject.startsWith(prefix)) return parseAckSubject(subject);
    const a = subject.indexOf(".", start);
    const b = subject.indexOf(".", a + 1);
    const c = subject.indexOf(".", b + 1);
    const d = subject.indexOf(".", c + 1);
    if (a < 0 || b < 0 || c < 0 || d < 0) return undefined;
    const e = subject.indexOf(".", d + 1);
    // v1 subjects end with the pending count; anything more is another form.
    if (e >= 0) return parseAckSubject(subject);
    return {
      stream,
      consumer,
      deliveryCount: Number(subject.slice(start, a)),
      streamSequence: Number(subject.slice(a + 1, b)),
      consumerSequence: Number(subject.slice(b + 1, c)),
      timestamp: nanosToMillis(subject.slice(c + 1, d)),
      pending: Number(subject.slice(d + 1)),
    };
  };
}

/** A delivered JetStream message and its ack protocol. */
export class JobMessage {
  readonly msg: Msg;
  readonly meta: DeliveryMeta;
  /** Set once acked, nak'd or terminated. */
  settled = false;
  /** Set once acked (not nak'd or terminated). */
  acked = false;
  /** Set once nak'd: the server delivers it again. */
  nakked = false;

  constructor(msg: Msg, meta: DeliveryMeta) {
    this.msg = msg;
    this.meta = meta;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }

  get subject(): string {
    return this.msg.subject;
  }

  ack(): void {
    if (this.settled) return;
    this.settled = true;
    this.acked = true;
    this.msg.respond(ACK);
  }

  /**
   * Negative ack: redeliver after `delay` ms (0: at once), clamped to what
   * nats-server parses (an integer of nanoseconds, at most a year and a day:
   * past int64 or as a float it would redeliver at once, in a loop).
   */
  nak(delay: number): void {
    if (this.settled) return;
    this.settled = true;
    this.nakked = true;
    const nanos = nakDelayNanos(delay);
    if (nanos > 0) {
      this.msg.respond(encoder.encode(`-NAK {"delay":${nanos}}`));
    } else {
      this.msg.respond(NAK);
    }
  }

  /** Reset the ack timer: the job is still running. */
  working(): void {
    if (!this.settled) this.msg.respond(WPI);
  }

  /** Never redeliver. `reason` is sent only where the server supports it. */
  term(reason?: string): void {
    if (this.settled) return;
    this.settled = true;
    this.msg.respond(
      reason === undefined ? TERM : encoder.encode(`+TERM ${reason}`),
    );
  }
}
