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
  /** Content type of the payload, sent as `Content-Type`. */
  datacontenttype?: string;
  /** URI of the payload's schema. */
  dataschema?: string;
  /** Subject of the event within the source. */
  subject?: string;
  /** When the occurrence happened. */
  time?: Date | string;
  /** Extension attributes: lowercase alphanumeric names. */
  extensions?: Record<string, string | number | boolean>;
}

const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;

/**
 * CloudEvents metadata, passed as `meta` to `emit`.
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
 * ```
 */
export class CloudEvent {
  /** The attributes. */
  readonly attributes: Readonly<CloudEventAttributes>;

  /**
   * @param attributes Context attributes; `id`, `source` and `type` are
   *   required.
   * @throws {TypeError} A required attribute is empty or an extension name
   *   is not lowercase alphanumeric.
   */
  constructor(attributes: CloudEventAttributes) {
    for (const key of ["id", "source", "type"] as const) {
      if (typeof attributes[key] !== "string" || attributes[key] === "") {
        throw new TypeError(
          `Cannot create CloudEvent: "${key}" is required and must be a non-empty string`,
        );
      }
    }
    for (const name of Object.keys(attributes.extensions ?? {})) {
      if (!EXTENSION_NAME.test(name)) {
        throw new TypeError(
          `Cannot create CloudEvent: extension name "${name}" must be 1-20 lowercase letters or digits`,
        );
      }
    }
    this.attributes = Object.freeze({ ...attributes });
  }

  /** The `ce-*` (and `Content-Type`) headers of this event. */
  headers(): Record<string, string> {
    const a = this.attributes;
    const out: Record<string, string> = {
      "ce-specversion": a.specversion ?? "1.0",
      "ce-id": a.id,
      "ce-source": a.source,
      "ce-type": a.type,
    };
    if (a.datacontenttype !== undefined) {
      out["Content-Type"] = a.datacontenttype;
    }
    if (a.dataschema !== undefined) out["ce-dataschema"] = a.dataschema;
    if (a.subject !== undefined) out["ce-subject"] = a.subject;
    if (a.time !== undefined) {
      out["ce-time"] = a.time instanceof Date ? a.time.toISOString() : a.time;
    }
    for (const [name, value] of Object.entries(a.extensions ?? {})) {
      out[`ce-${name}`] = String(value);
    }
    return out;
  }
}
