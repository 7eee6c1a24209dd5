/**
 * MessagePack codec, behind its own subpath so that only the services that
 * use it load `@msgpack/msgpack`.
 *
 * @example An event sent as MessagePack
 * ```ts
 * import * as v from "valibot";
 * import { Event } from "@walnats/walnats";
 * import { msgpack } from "@walnats/walnats/msgpack";
 * import assert from "node:assert/strict";
 *
 * const Reading = v.object({ sensor: v.string(), at: v.date(), value: v.number() });
 * const READING = new Event("reading-taken", Reading, {
 *   codec: msgpack(Reading, "reading-taken"),
 * });
 * const at = new Date("2024-05-06T07:08:09Z");
 * const data = await READING.codec.encode({ sensor: "t1", at, value: 21.5 });
 * assert.deepEqual(await READING.codec.decode(data), { sensor: "t1", at, value: 21.5 });
 * ```
 *
 * @module
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { type Codec, type Schema, validate } from "./codec.ts";
import { DecodeError, ValidationError } from "../errors.ts";

export type { Codec, Schema } from "./codec.ts";

/**
 * MessagePack codec, checked against a schema on both sides like
 * {@linkcode json}: `encode` rejects a payload that fails the schema before
 * anything is sent, `decode` rejects bytes that are not one MessagePack
 * value or do not match. Without a schema, any value MessagePack can carry
 * goes through unchecked.
 *
 * Mapping: `Date` travels as the MessagePack timestamp extension and comes
 * back a `Date`, `Uint8Array` as binary, and object properties that are
 * `undefined` are left out (as JSON does, so optional fields stay valid).
 * Maps decode to plain objects with string keys.
 *
 * @typeParam I Schema input type (what `encode` takes).
 * @typeParam O Schema output type (what `decode` gives).
 * @param schema Any Standard Schema v1 validator; omit it to skip checks.
 * @param name Used in error messages (the event name).
 * @returns The codec, with content type `application/msgpack`.
 * @throws {ValidationError} From `encode`: the payload fails the schema, or
 *   holds something MessagePack cannot carry (a function, a symbol).
 * @throws {DecodeError} From `decode`: the bytes are not exactly one
 *   MessagePack value.
 * @throws {ValidationError} From `decode`: the value fails the schema.
 *
 * @example Round-trip without a schema
 * ```ts
 * import { msgpack } from "@walnats/walnats/msgpack";
 * import assert from "node:assert/strict";
 *
 * const codec = msgpack();
 * const data = await codec.encode({ id: 1, tags: ["a", "b"] });
 * assert.equal(data.length, 15); // the JSON is 25 bytes
 * assert.deepEqual(await codec.decode(data), { id: 1, tags: ["a", "b"] });
 * ```
 */
export function msgpack<I = unknown, O = I>(
  schema?: Schema<I, O>,
  name = "payload",
): Codec<O, I> {
  const encoder = new Encoder({ ignoreUndefined: true });
  const decoder = new Decoder();
  const write = (value: I): Uint8Array => {
    try {
      return encoder.encode(value);
    } catch (error) {
      throw new ValidationError(name, [{
        message: `cannot be encoded as MessagePack (${
          (error as Error).message
        })`,
      }], { cause: error });
    }
  };
  return {
    contentType: "application/msgpack",
    encode(value: I): Uint8Array | Promise<Uint8Array> {
      if (schema === undefined) return write(value);
      // Validate the input, send what the caller gave (see json()).
      const checked = validate(schema, value, name);
      return checked instanceof Promise
        ? checked.then(() => write(value))
        : write(value);
    },
    decode(data: Uint8Array): O | Promise<O> {
      let parsed: unknown;
      try {
        parsed = decoder.decode(data);
      } catch (error) {
        throw new DecodeError(
          `Cannot decode a payload of "${name}": not valid MessagePack (${
            (error as Error).message
          })`,
          { cause: error },
        );
      }
      if (schema === undefined) return parsed as O;
      return validate(schema, parsed, name);
    },
  };
}
