/**
 * {@linkcode text}: plain UTF-8 text payloads.
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import { DecodeError, ValidationError } from "../errors.ts";

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD. ignoreBOM: a leading BOM is
// part of the text, so every string survives the round trip.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * UTF-8 text codec: the payload is the string's UTF-8 bytes, with no quotes
 * or framing.
 *
 * Interoperability: Python walnats sends a `str` event as JSON (a quoted
 * string); to share such an event use `json(v.string())` instead.
 *
 * @param name Used in error messages (the event name).
 * @returns The codec, with content type `text/plain; charset=utf-8`.
 * @throws {ValidationError} From `encode`: the value is not a string.
 * @throws {DecodeError} From `decode`: the bytes are not valid UTF-8.
 *
 * @example Round-trip a string
 * ```ts
 * import { text } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = text();
 * const data = await codec.encode("héllo");
 * assert.equal(data.length, 6);
 * assert.equal(await codec.decode(data), "héllo");
 * ```
 */
export function text(name = "payload"): Codec<string> {
  return {
    contentType: "text/plain; charset=utf-8",
    encode(value: string): Uint8Array {
      if (typeof value !== "string") {
        throw new ValidationError(name, [{
          message: `expected a string, got ${
            value === null ? "null" : typeof value
          }`,
        }]);
      }
      return encoder.encode(value);
    },
    decode(data: Uint8Array): string {
      try {
        return decoder.decode(data);
      } catch (error) {
        throw new DecodeError(
          `Cannot decode a payload of "${name}": not valid UTF-8 text (${
            (error as Error).message
          })`,
          { cause: error },
        );
      }
    },
  };
}
