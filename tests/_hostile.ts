// What the hostile-input tests share: a payload schema and JSON bytes.
import * as v from "valibot";

/** The payload of the test events. */
export const Num = v.object({ n: v.number() });
/** The encoder of the JSON bytes. */
export const encoder = new TextEncoder();

/** JSON as bytes on the wire. */
export function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}
