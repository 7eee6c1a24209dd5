/**
 * {@linkcode bytes}: payloads that are already bytes, sent as they are.
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import { ValidationError } from "../errors.ts";

/**
 * Identity codec for payloads that are already bytes (a file, a protobuf
 * message encoded elsewhere): `encode` and `decode` hand the bytes through
 * untouched. The wire format of Python walnats' `bytes` events.
 *
 * @param name Used in error messages (the event name).
 * @returns The codec, with content type `application/octet-stream`.
 * @throws {ValidationError} From `encode`: the value is not a `Uint8Array`.
 *
 * @example Bytes go through untouched
 * ```ts
 * import { bytes } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = bytes();
 * const data = new Uint8Array([0, 1, 255]);
 * assert.deepEqual(await codec.decode(await codec.encode(data)), data);
 * ```
 */
export function bytes(name = "payload"): Codec<Uint8Array> {
  return {
    contentType: "application/octet-stream",
    encode(value: Uint8Array): Uint8Array {
      if (!(value instanceof Uint8Array)) {
        throw new ValidationError(name, [{
          message: `expected a Uint8Array, got ${describe(value)}`,
        }]);
      }
      return value;
    },
    decode(data: Uint8Array): Uint8Array {
      return data;
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return value.constructor?.name ?? "object";
}
