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
   * Read CloudEvents metadata back from message headers (for example an
   * actor's `ctx.headers`). Header names match case-insensitively; values
   * are percent-decoded (and unquoted, for older senders). Extension values
   * come back as strings.
   *
   * @param headers Message headers, as a record or as `[name, value]`
   *   pairs.
   * @returns The metadata, or `undefined` when `ce-id`, `ce-source` or
   *   `ce-type` is missing.
   * @throws {TypeError} A header value is not valid percent-encoded UTF-8.
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
        found.set(lower.slice(PREFIX.length), decode(key, value));
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

/** Undo {@linkcode encode} (accepting RFC 7230 quoted strings too). */
function decode(name: string, raw: string): string {
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char === "%") {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new TypeError(
          `Cannot read CloudEvent header "${name}": bad percent-encoding at "${
            value.slice(i, i + 3)
          }"`,
        );
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...utf8.encode(char));
    }
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch (error) {
    throw new TypeError(
      `Cannot read CloudEvent header "${name}": percent-encoded bytes are not valid UTF-8`,
      { cause: error },
    );
  }
}
