// Messages as the wire carries them: header bytes and payload, turned into
// nats-core's own Msg implementation on delivery, so headers and status
// lines are parsed by the same code as with a real server.
import {
  type MsgArg,
  MsgHdrsImpl,
  MsgImpl,
  type Publisher,
} from "@nats-io/nats-core/internal";
import type { Msg, MsgHdrs } from "@nats-io/nats-core";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** A message in flight: what a client published or the server sends. */
export interface WireMsg {
  /**
   * Where it is routed, when that differs from the subject it shows (a
   * stream message delivered to a pull request's inbox).
   */
  readonly to?: string;
  readonly subject: string;
  readonly reply: string | undefined;
  /** Header block (`NATS/1.0...\r\n\r\n`), or undefined when there is none. */
  readonly hdr: Uint8Array | undefined;
  readonly data: Uint8Array;
}

/** The header block of `headers`, as nats-core writes it on the wire. */
export function encodeHeaders(
  headers: MsgHdrs | undefined,
): Uint8Array | undefined {
  if (headers === undefined) return undefined;
  const impl = headers as unknown as { encode?: () => Uint8Array };
  if (typeof impl.encode !== "function") {
    throw new TypeError(
      "Cannot publish: headers must be made with headers() from @nats-io/nats-core",
    );
  }
  return impl.encode();
}

/** Decode a header block (for the broker's own reading of headers). */
export function decodeHeaders(
  hdr: Uint8Array | undefined,
): MsgHdrs | undefined {
  return hdr === undefined || hdr.length === 0
    ? undefined
    : MsgHdrsImpl.decode(hdr);
}

/** A server status message: `NATS/1.0 <code> <description>` plus headers. */
export function statusHeader(
  code: number,
  description: string,
  extra: [string, string | number][] = [],
): Uint8Array {
  let text = description === ""
    ? `NATS/1.0 ${code}\r\n`
    : `NATS/1.0 ${code} ${description}\r\n`;
  for (const [k, v] of extra) text += `${k}: ${v}\r\n`;
  return encoder.encode(text + "\r\n");
}

/** Turn payload arguments into bytes, as nats-core does. */
export function payloadBytes(payload: unknown): Uint8Array {
  if (payload === undefined || payload === null) return EMPTY;
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === "string") return encoder.encode(payload);
  throw new TypeError(
    "Cannot publish: payload must be a string or a Uint8Array",
  );
}

/** Build the Msg a subscription receives. */
export function toMsg(m: WireMsg, sid: number, publisher: Publisher): Msg {
  const hdrLen = m.hdr === undefined ? -1 : m.hdr.length;
  let bytes: Uint8Array;
  if (m.hdr === undefined) {
    bytes = m.data;
  } else {
    bytes = new Uint8Array(m.hdr.length + m.data.length);
    bytes.set(m.hdr, 0);
    bytes.set(m.data, m.hdr.length);
  }
  const arg: MsgArg = {
    subject: encoder.encode(m.subject),
    sid,
    hdr: hdrLen,
    size: bytes.length,
  };
  if (m.reply !== undefined && m.reply !== "") {
    arg.reply = encoder.encode(m.reply);
  }
  return new MsgImpl(arg, bytes, publisher) as unknown as Msg;
}

/** Bytes a message takes on the wire: header block plus payload. */
export function wireSize(m: Pick<WireMsg, "hdr" | "data">): number {
  return (m.hdr?.length ?? 0) + m.data.length;
}

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** RFC 3339 time as the server writes it; the zero time for 0. */
export function rfc3339(epochMs: number): string {
  if (epochMs === 0) return ZERO_TIME;
  return new Date(epochMs).toISOString().replace(/\.?0+Z$/, "Z").replace(
    /\.Z$/,
    "Z",
  );
}

/** Epoch milliseconds as decimal nanoseconds (ack subjects carry them). */
export function epochNanos(epochMs: number): string {
  return (BigInt(Math.round(epochMs * 1000)) * 1000n).toString();
}
