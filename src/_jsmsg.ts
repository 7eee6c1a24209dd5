// A JetStream message delivered to a pull request, with the ack protocol
// spoken directly: parsing the ack subject once, no per-message timers.
import type { Msg, MsgHdrs } from "@nats-io/nats-core";

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
  const num = (s: string | undefined) => Number(s);
  const tsNanos = t[i + 5] ?? "0";
  return {
    stream: t[i] ?? "",
    consumer: t[i + 1] ?? "",
    deliveryCount: num(t[i + 2]),
    streamSequence: num(t[i + 3]),
    consumerSequence: num(t[i + 4]),
    // Nanoseconds overflow float precision; milliseconds are what we need.
    timestamp: tsNanos.length > 6 ? Number(tsNanos.slice(0, -6)) : 0,
    pending: num(t[i + 6]),
  };
}

/** A delivered JetStream message and its ack protocol. */
export class JobMessage {
  readonly msg: Msg;
  readonly meta: DeliveryMeta;
  /** Set once acked, nak'd or terminated. */
  settled = false;

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
    this.msg.respond(ACK);
  }

  /** Negative ack: redeliver after `delay` ms (0: at once). */
  nak(delay: number): void {
    if (this.settled) return;
    this.settled = true;
    if (delay > 0) {
      const nanos = Math.round(delay * 1_000_000);
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
