/**
 * The codec layer, shared by publishers and consumers: a {@linkcode Codec}
 * turns a payload into bytes and back, and the default one is JSON checked
 * against a Standard Schema (valibot, zod, arktype, ...).
 *
 * @module
 */
// `@ignore`: these types are public in their own package; deno doc --lint
// would flag them as private here (denoland/deno#27364).
/** @ignore */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { DecodeError, type Issue, ValidationError } from "../errors.ts";

/**
 * Turns payloads into bytes and back.
 *
 * @typeParam T Type of the decoded payload (what handlers receive).
 * @typeParam I Type accepted by `encode` (what `emit` takes); differs from
 * `T` when the schema transforms its input.
 */
export interface Codec<T, I = T> {
  /** Turn a payload into bytes; throw `ValidationError` for a bad payload. */
  encode(value: I): Uint8Array | Promise<Uint8Array>;
  /** Turn bytes into a payload; throw `DecodeError`/`ValidationError`. */
  decode(bytes: Uint8Array): T | Promise<T>;
  /** MIME type of the bytes, sent as `Content-Type` where useful. */
  readonly contentType?: string;
}

/** Any Standard Schema v1 validator (valibot, zod, arktype, ...). */
export type Schema<I = unknown, O = I> = StandardSchemaV1<I, O>;

/** A schema or a codec: what `Event` and `withResponse` accept. */
export type SchemaOrCodec = Schema<unknown, unknown> | Codec<unknown, unknown>;

/** The decoded payload type of a schema or codec. */
export type OutputOf<S> = S extends StandardSchemaV1<infer _I, infer O> ? O
  : S extends Codec<infer T, infer _I> ? T
  : never;

/** The payload type a schema or codec accepts for encoding. */
export type InputOf<S> = S extends StandardSchemaV1<infer I, infer _O> ? I
  : S extends Codec<infer _T, infer I> ? I
  : never;

/** Whether `value` is a Standard Schema v1 validator. */
export function isSchema(value: unknown): value is Schema {
  return (typeof value === "object" || typeof value === "function") &&
    value !== null && "~standard" in value;
}

/** Whether `value` is a {@linkcode Codec}. */
export function isCodec(value: unknown): value is Codec<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as Codec<unknown>).encode === "function" &&
    typeof (value as Codec<unknown>).decode === "function";
}

function toIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): Issue[] {
  return issues.map((issue) => {
    const path = issue.path?.map((p) =>
      typeof p === "object" && p !== null ? p.key : p
    );
    return path === undefined
      ? { message: issue.message }
      : { message: issue.message, path };
  });
}

/**
 * Validate `value` against a Standard Schema.
 *
 * @param schema The schema.
 * @param value The value to check.
 * @param name Event name, for the error message.
 * @returns The schema's output (with transforms applied).
 * @throws {ValidationError} The value does not match.
 */
export function validate<I, O>(
  schema: Schema<I, O>,
  value: unknown,
  name: string,
): O | Promise<O> {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) {
    return result.then((r) => unwrap(r, name));
  }
  return unwrap(result, name);
}

function unwrap<O>(result: StandardSchemaV1.Result<O>, name: string): O {
  if (result.issues !== undefined) {
    throw new ValidationError(name, toIssues(result.issues));
  }
  return result.value;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// JSON text of a validated payload, as UTF-8 (no closure per message: this
// is the fire-and-forget emit's hot path).
function writeJson(value: unknown, name: string): Uint8Array {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new TypeError(
      `Cannot encode a payload of "${name}": JSON cannot represent ${typeof value}`,
    );
  }
  return encoder.encode(text);
}

/**
 * JSON codec checked against a schema on both sides: `encode` rejects a
 * payload that fails the schema before anything is sent, and `decode`
 * rejects bytes that are not JSON or do not match. This is the default codec
 * of an event built from a schema, and the wire format of Python walnats.
 *
 * @typeParam I Schema input type.
 * @typeParam O Schema output type.
 * @param schema Any Standard Schema v1 validator.
 * @param name Used in error messages (the event name).
 * @returns The codec.
 *
 * @example Round-trip a payload
 * ```ts
 * import * as v from "valibot";
 * import { json } from "@walnats/walnats";
 * import assert from "node:assert/strict";
 *
 * const codec = json(v.object({ id: v.number() }));
 * const bytes = await codec.encode({ id: 1 });
 * assert.deepEqual(await codec.decode(bytes), { id: 1 });
 * ```
 */
export function json<I, O>(
  schema: Schema<I, O>,
  name = "payload",
): Codec<O, I> {
  return {
    contentType: "application/json",
    encode(value: I): Uint8Array | Promise<Uint8Array> {
      // Validate the input (not the output): what goes on the wire is what
      // the caller gave, and the consumer applies the schema's transforms.
      const checked = validate(schema, value, name);
      return checked instanceof Promise
        ? checked.then(() => writeJson(value, name))
        : writeJson(value, name);
    },
    decode(bytes: Uint8Array): O | Promise<O> {
      let parsed: unknown;
      try {
        parsed = JSON.parse(decoder.decode(bytes));
      } catch (error) {
        throw new DecodeError(
          `Cannot decode a payload of "${name}": not valid UTF-8 JSON (${
            (error as Error).message
          })`,
          { cause: error },
        );
      }
      return validate(schema, parsed, name);
    },
  };
}

/**
 * Build the codec of a schema-or-codec argument.
 *
 * @param value A schema or a codec.
 * @param name Event name, for error messages.
 * @returns A codec.
 * @throws {TypeError} `value` is neither.
 */
export function toCodec(value: unknown, name: string): Codec<unknown> {
  if (isSchema(value)) return json(value, name);
  if (isCodec(value)) return value;
  throw new TypeError(
    `Cannot create event "${name}": expected a Standard Schema (valibot, zod, arktype) or a Codec with encode() and decode(), got ${
      value === null ? "null" : typeof value
    }`,
  );
}
