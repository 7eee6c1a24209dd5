// The wire form of an emit: the headers walnats sends (shared with Python
// walnats), their size on the wire, and the `Walnats-Delay` format read back
// by the engine (src/listen/_delay.ts).
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { CloudEvent } from "../cloud_event.ts";
import {
  HEADER_DELAY,
  HEADER_ID,
  HEADER_REPLY,
  HEADER_TRACE,
} from "../headers.ts";
import type { EmitOptions } from "./options.ts";
import { checkDelay } from "../_bounds.ts";

/** What only one emit carries, beyond its options. */
export interface Extra {
  uid?: string | undefined;
  /** Overrides the CloudEvent's id (emitMany). */
  ceId?: string | undefined;
  reply?: string | undefined;
}

/**
 * `Walnats-Delay`: the time before which no handler may run the message, as
 * true UTC epoch seconds with a fraction, in text (walnats' format).
 */
export function formatDelay(until: number): string {
  return String(until / 1000);
}

// Epoch seconds as walnats (Python `str(float)`) and we write them; an
// exponent is allowed, hex, `Infinity`, `NaN` and spaces are not.
const DELAY_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DELAY_LONGEST = 64;

/** A `Walnats-Delay` value read off the wire. */
export type ParsedDelay =
  /** No delay asked for (absent or empty). */
  | { readonly kind: "none" }
  /** Due at `until`, epoch milliseconds; `shown`: the value, for messages. */
  | { readonly kind: "until"; readonly until: number; readonly shown: string }
  /** Not a delay: `reason` says why. */
  | { readonly kind: "malformed"; readonly reason: string };

/**
 * Parse a `Walnats-Delay` value, the inverse of {@linkcode formatDelay};
 * anything may be written there, so nothing is trusted.
 */
export function parseDelay(header: string | undefined): ParsedDelay {
  if (header === undefined || header === "") return { kind: "none" };
  const shown = header.length > DELAY_LONGEST
    ? `${header.slice(0, DELAY_LONGEST)}… (${header.length} characters)`
    : header;
  if (header.length > DELAY_LONGEST || !DELAY_NUMBER.test(header)) {
    return {
      kind: "malformed",
      reason: `Walnats-Delay "${shown}" is not a number of UTC epoch seconds`,
    };
  }
  const until = Number(header) * 1000;
  if (!Number.isFinite(until)) {
    return {
      kind: "malformed",
      reason: `Walnats-Delay "${shown}" is out of range`,
    };
  }
  return { kind: "until", until, shown };
}

/** Bytes the headers take on the wire (they count against size limits). */
export function headerSize(h: MsgHdrs | undefined): number {
  if (h === undefined) return 0;
  // "NATS/1.0\r\n", a "key: value\r\n" line per value, "\r\n"; counted,
  // not built (this runs on every acknowledged emit).
  let size = 12;
  for (const [key, values] of h) {
    const keySize = utf8Length(key) + 4;
    for (const value of values) size += keySize + utf8Length(value);
  }
  return size;
}

/** UTF-8 length of `text` without encoding it. */
export function utf8Length(text: string): number {
  let size = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) size += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair: two UTF-16 units, four bytes.
        size += 2;
        i++;
      } else size += 2;
    } else size += 2;
  }
  return size;
}

/**
 * Build the wire headers of an emit; `undefined` when there are none.
 *
 * @param event Event name, for error messages.
 * @param options The emit options.
 * @param extra Per-message uid (overrides `options.uid`), CloudEvent id
 *   override, reply inbox.
 * @param now Current time, epoch milliseconds (a seam for tests); read
 *   only for a delay, `Date.now()` when not given.
 * @returns The headers.
 * @throws {TypeError} `uid`, `traceId` or a `meta` header is malformed.
 * @throws {RangeError} `delay` is negative, not finite, or over
 *   `MAX_DELAY_MS` (365 days).
 */
export function buildHeaders(
  event: string,
  options: EmitOptions,
  extra: Extra = {},
  now?: number,
): MsgHdrs | undefined {
  // Fast path: a plain emit carries no headers at all.
  if (
    options.meta === undefined && options.uid === undefined &&
    options.traceId === undefined && options.delay === undefined &&
    extra.uid === undefined && extra.ceId === undefined &&
    extra.reply === undefined
  ) {
    return undefined;
  }
  const what = `Cannot emit event "${event}"`;
  let meta: Readonly<Record<string, string>> | undefined;
  let uid = extra.uid ?? options.uid;
  if (options.meta instanceof CloudEvent) {
    const cloud = options.meta;
    meta = cloud.headers();
    if (extra.ceId !== undefined) {
      meta = new CloudEvent({ ...cloud.attributes, id: extra.ceId }).headers();
    }
    uid ??= extra.ceId ?? cloud.attributes.id;
  } else if (options.meta !== undefined) {
    if (typeof options.meta !== "object" || options.meta === null) {
      throw new TypeError(
        `${what}: meta must be a record of headers or a CloudEvent`,
      );
    }
    meta = options.meta;
  }
  const h = natsHeaders();
  const set = (key: string, value: unknown, field: string) => {
    if (typeof value !== "string") {
      throw new TypeError(
        `${what}: ${field} must be a string, got ${typeof value}`,
      );
    }
    try {
      h.set(key, value);
    } catch (error) {
      throw new TypeError(
        `${what}: ${field} is not a valid NATS header (${
          (error as Error).message
        })`,
        { cause: error },
      );
    }
  };
  for (const [key, value] of Object.entries(meta ?? {})) {
    set(key, value, `meta header "${key}"`);
  }
  if (uid !== undefined) {
    if (uid === "") throw new TypeError(`${what}: uid must not be empty`);
    set(HEADER_ID, uid, "uid");
  }
  if (options.traceId !== undefined) {
    set(HEADER_TRACE, options.traceId, "traceId");
  }
  if (options.delay !== undefined) {
    checkDelay(what, "delay", options.delay);
    set(
      HEADER_DELAY,
      formatDelay((now ?? Date.now()) + options.delay),
      "delay",
    );
  }
  if (extra.reply !== undefined) set(HEADER_REPLY, extra.reply, "reply");
  return h.keys().length === 0 ? undefined : h;
}
