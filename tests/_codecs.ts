// Helpers shared by the codec tests: text bytes, round trips, DecodeError
// matchers and a sample payload.
import assert from "node:assert/strict";
import * as v from "valibot";
import { DecodeError } from "../mod.ts";
import type { Codec } from "../src/codecs/mod.ts";

export const utf8 = new TextEncoder();
export const fromUtf8 = (data: Uint8Array): string =>
  new TextDecoder().decode(data);

export async function roundTrip<T, I>(
  codec: Codec<T, I>,
  value: I,
): Promise<T> {
  return await codec.decode(await codec.encode(value));
}

export function isDecodeError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DecodeError, `expected DecodeError: ${error}`);
    assert.match(error.message, pattern);
    return true;
  };
}

export const Note = v.object({
  title: v.string(),
  body: v.string(),
  tags: v.array(v.string()),
});
export type Note = v.InferOutput<typeof Note>;
export const NOTE: Note = {
  title: "groceries",
  body: "milk, eggs, ".repeat(50),
  tags: ["home", "weekly"],
};
