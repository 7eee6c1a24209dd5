/**
 * CloudEvents metadata for an emitted event, sent as `ce-*` headers per the
 * CloudEvents NATS protocol binding (binary content mode).
 *
 * @module
 */

/** CloudEvents context attributes. */
export interface CloudEventAttributes {
  /** Unique id of the event within its source; also the de-duplication id. */
  id: string;
  /** URI-reference of the context in which the event happened. */
  source: string;
  /** The kind of occurrence, reverse-DNS style (`com.example.user.created`). */
  type: string;
  /** CloudEvents version. @default {"1.0"} */
  specversion?: string;
  /** Media type of the payload (`ce-datacontenttype`). */
  datacontenttype?: string;
  /** URI of the payload's schema. */
  dataschema?: string;
  /** Subject of the event within the source. */
  subject?: string;
  /** When the occurrence happened (a `Date`, or an RFC 3339 string). */
  time?: Date | string;
  /**
   * Extension attributes (`traceparent`, `partitionkey`, ...): names of 1
   * to 20 lowercase letters or digits, other than the core attributes'.
   */
  extensions?: Record<string, string | number | boolean>;
}

const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const CORE = [
  "specversion",
  "id",
  "source",
  "type",
  "datacontenttype",
  "dataschema",
  "subject",
  "time",
] as const;
const RESERVED = new Set<string>([...CORE, "data"]);
const PREFIX = "ce-";

/**
 * CloudEvents metadata, passed as `meta` to `emit`: each attribute becomes a
 * `ce-<name>` header (values percent-encoded where the binding says so), and
 * `id` becomes the de-duplication id unless `uid` is given.
 *
 * @example Emit with CloudEvents headers
 * ```ts
 * import { CloudEvent } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const meta = new CloudEvent({
 *   id: "42",
 *   source: "/users",
 *   type: "com.example.user.created",
 * });
 * assert.equal(meta.headers()["ce-id"], "42");
 * assert.deepEqual(CloudEvent.fromHeaders(meta.headers())?.attributes, {
 *   id: "42",
 *   source: "/users",
 *   type: "com.example.user.created",
 *   specversion: "1.0",
 * });
 * ```
 */
export class CloudEvent {
  /** The attributes. */
  readonly attributes: Readonly<CloudEventAttributes>;

  /**
   * Check and freeze the attributes.
   *
   * @param attributes Context attributes; `id`, `source` and `type` are
   *   required.
   * @throws {TypeError} A required attribute is empty, an attribute has the
   *   wrong type, or an extension name is not lowercase alphanumeric or
   *   shadows a core attribute.
   */
  constructor(attributes: CloudEventAttributes) {
    const what = "Cannot create CloudEvent";
    if (typeof attributes !== "object" || attributes === null) {
      throw new TypeError(`${what}: attributes must be an object`);
    }
    for (const key of ["id", "source", "type"] as const) {
      if (typeof attributes[key] !== "string" || attributes[key] === "") {
        throw new TypeError(
          `${what}: "${key}" is required and must be a non-empty string`,
        );
      }
    }
    for (
      const key of [
        "specversion",
        "datacontenttype",
        "dataschema",
        "subject",
      ] as const
    ) {
      const value = attributes[key];
      if (value !== undefined && typeof value !== "string") {
        throw new TypeError(`${what}: "${key}" must be a string`);
      }
    }
    const time = attributes.time;
    if (time !== undefined) {
      if (
        !(time instanceof Date ? !Number.isNaN(time.getTime()) : (
          typeof time === "string" && time !== ""
        ))
      ) {
        throw new TypeError(
          `${what}: "time" must be a valid Date or an RFC 3339 string`,
        );
      }
    }
    for (const [name, value] of Object.entries(attributes.extensions ?? {})) {
      if (!EXTENSION_NAME.test(name)) {
        throw new TypeError(
          `${what}: extension name "${name}" must be 1-20 lowercase letters or digits`,
        );
      }
      if (RESERVED.has(name)) {
        throw new TypeError(
          `${what}: extension name "${name}" is a core attribute; set it directly`,
        );
      }
      if (!["string", "number", "boolean"].includes(typeof value)) {
        throw new TypeError(
          `${what}: extension "${name}" must be a string, number or boolean`,
        );
      }
    }
    const copy: CloudEventAttributes = { ...attributes };
    if (attributes.extensions !== undefined) {
      copy.extensions = Object.freeze({ ...attributes.extensions });
    }
    this.attributes = Object.freeze(copy);
  }

  /**
   * The `ce-*` headers of this event, per the CloudEvents NATS protocol
   * binding: one header per attribute, named after it with a `ce-` prefix,
   * its value percent-encoded (space, `"`, `%` and anything outside
   * printable ASCII).
   *
   * @returns Header names to values.
   */
  headers(): Record<string, string> {
    const a = this.attributes;
    const out: Record<string, string> = {
      "ce-specversion": encode(a.specversion ?? "1.0"),
      "ce-id": encode(a.id),
      "ce-source": encode(a.source),
      "ce-type": encode(a.type),
    };
    if (a.datacontenttype !== undefined) {
      out["ce-datacontenttype"] = encode(a.datacontenttype);
    }
    if (a.dataschema !== undefined) {
      out["ce-dataschema"] = encode(a.dataschema);
    }
    if (a.subject !== undefined) out["ce-subject"] = encode(a.subject);
    if (a.time !== undefined) {
      out["ce-time"] = encode(
        a.time instanceof Date ? a.time.toISOString() : a.time,
      );
    }
    for (const [name, value] of Object.entries(a.extensions ?? {})) {
      out[`${PREFIX}${name}`] = encode(String(value));
    }
    return out;
  }

  /**
   * The `time` attribute as a `Date`: a `Date` given to the constructor,
   * or RFC 3339 text with or without fractional seconds (finer than a
   * millisecond is truncated), with `Z` or an offset. Python walnats'
   * forms are read too: a naive time with `Z` appended
   * (`2024-01-02T03:04:05.678000Z`, UTC) and an aware one with `+00:00Z`.
   *
   * @returns The time, or `undefined` when there is none or it is not a
   *   date-time.
   *
   * @example Read Python walnats' ce-time
   * ```ts
   * import { CloudEvent } from "@walnats/walnats";
   * import assert from "node:assert/strict";
   *
   * const meta = CloudEvent.fromHeaders({
   *   "ce-id": "1",
   *   "ce-source": "/py",
   *   "ce-type": "t",
   *   "ce-time": "2024-01-02T03:04:05Z",
   * })!;
   * assert.equal(meta.time()?.toISOString(), "2024-01-02T03:04:05.000Z");
   * ```
   */
  time(): Date | undefined {
    const time = this.attributes.time;
    if (time === undefined) return undefined;
    if (time instanceof Date) return new Date(time.getTime());
    return parseCloudEventTime(time);
  }

  /**
   * Read CloudEvents metadata back from message headers (for example an
   * actor's `ctx.headers`). Header names match case-insensitively. Values
   * are read leniently: percent-encoded ones (the NATS binding, what
   * {@linkcode CloudEvent.headers} writes) are decoded, and raw ones (what
   * Python walnats sends, `hello world/ü%`) are kept; a `%` not followed by
   * two hex digits, or escapes that do not decode to UTF-8, are taken
   * literally. RFC 7230 quoted strings are unquoted. Extension values come
   * back as strings; `time` as the text that was sent (see
   * {@linkcode CloudEvent.time}). Nothing in the headers makes it throw.
   *
   * @param headers Message headers, as a record or as `[name, value]`
   *   pairs.
   * @returns The metadata, or `undefined` when `ce-id`, `ce-source` or
   *   `ce-type` is missing or empty.
   */
  static fromHeaders(
    headers:
      | Readonly<Record<string, string>>
      | Iterable<readonly [string, string]>,
  ): CloudEvent | undefined {
    const entries = Symbol.iterator in headers
      ? [...(headers as Iterable<readonly [string, string]>)]
      : Object.entries(headers as Record<string, string>);
    const found = new Map<string, string>();
    for (const [key, value] of entries) {
      const lower = key.toLowerCase();
      if (lower.startsWith(PREFIX) && lower.length > PREFIX.length) {
        found.set(lower.slice(PREFIX.length), decode(value));
      }
    }
    const id = found.get("id");
    const source = found.get("source");
    const type = found.get("type");
    if (!id || !source || !type) return undefined;
    const attributes: CloudEventAttributes = { id, source, type };
    const extensions: Record<string, string> = {};
    for (const [name, value] of found) {
      if (name === "id" || name === "source" || name === "type") continue;
      if ((CORE as readonly string[]).includes(name)) {
        // An empty optional attribute is no attribute (and an empty time
        // would not construct).
        if (value === "") continue;
        (attributes as unknown as Record<string, string>)[name] = value;
      } else if (EXTENSION_NAME.test(name)) {
        extensions[name] = value;
      }
    }
    if (Object.keys(extensions).length > 0) attributes.extensions = extensions;
    return new CloudEvent(attributes);
  }
}

const utf8 = new TextEncoder();

/** Percent-encode a header value as the NATS binding requires. */
function encode(value: string): string {
  let out = "";
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (code > 0x20 && code < 0x7f && char !== '"' && char !== "%") {
      out += char;
      continue;
    }
    for (const byte of utf8.encode(char)) {
      out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const PERCENT = /%[0-9a-fA-F]{2}/;

/**
 * Undo {@linkcode encode}, leniently: senders that follow the binding
 * percent-encode, Python walnats sends values raw (`hello world/ü%`). A `%`
 * followed by two hex digits is read as an encoded byte, any other `%` as
 * itself; when the decoded bytes are not UTF-8, the value is kept as it
 * came. RFC 7230 quoted strings are unquoted first.
 */
function decode(raw: string): string {
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  if (!PERCENT.test(value)) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    const hex = value.slice(i + 1, i + 3);
    if (char === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
      continue;
    }
    const code = value.codePointAt(i)!;
    if (code > 0xffff) i++; // the other half of a surrogate pair
    bytes.push(...utf8.encode(String.fromCodePoint(code)));
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    return value; // not percent-encoding after all: a raw value
  }
}

// RFC 3339 date-time, fraction optional; also the forms Python walnats'
// CloudEvent.as_dict() writes: a naive isoformat() with "Z" appended, or
// an aware one with "+00:00Z".
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?([Zz])?$/;

/** Parse a `ce-time` value; `undefined` when it is not a date-time. */
export function parseCloudEventTime(value: string): Date | undefined {
  const m = RFC3339.exec(value.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac = "", z, sign, oh, om, z2] = m;
  // No zone at all (neither Z nor an offset) is not RFC 3339.
  if (z === undefined && sign === undefined && z2 === undefined) {
    return undefined;
  }
  if (z !== undefined && z2 !== undefined) return undefined; // "ZZ"
  const month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  // 60: a leap second, which Date cannot hold; read as :59.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const at = new Date(0);
  at.setUTCFullYear(Number(y), month - 1, day);
  if (at.getUTCMonth() !== month - 1 || at.getUTCDate() !== day) {
    return undefined;
  }
  at.setUTCHours(
    hour,
    minute,
    Math.min(second, 59),
    Number(frac.padEnd(3, "0").slice(0, 3)),
  );
  let shift = 0;
  if (sign !== undefined) {
    if (Number(oh) > 23 || Number(om) > 59) return undefined;
    shift = (Number(oh) * 60 + Number(om)) * 60_000 * (sign === "-" ? -1 : 1);
  }
  return new Date(at.getTime() - shift);
}
