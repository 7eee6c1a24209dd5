/**
 * Built-in codecs: how payloads become bytes on the wire and back.
 *
 * - {@linkcode json} (the default of an event built from a schema),
 *   {@linkcode bytes}, {@linkcode text} and {@linkcode date} turn payloads
 *   into bytes;
 * - {@linkcode gzip}, {@linkcode hmac}, {@linkcode encrypt} and
 *   {@linkcode fernet} (Python walnats' `FernetSerializer`) wrap another
 *   codec, and nest: `encrypt(gzip(json(schema)), key)` compresses, then
 *   encrypts.
 *
 * MessagePack lives behind its own subpath, `@walnats/walnats/msgpack`.
 *
 * @example A signed, compressed event
 * ```ts
 * import * as v from "valibot";
 * import { Event } from "@walnats/walnats";
 * import { gzip, hmac, json } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * const Order = v.object({ id: v.number(), items: v.array(v.string()) });
 * const ORDER_PLACED = new Event("order-placed", Order, {
 *   codec: hmac(gzip(json(Order, "order-placed")), "shared secret"),
 * });
 * const order = { id: 1, items: ["tea", "tea", "tea"] };
 * const data = await ORDER_PLACED.codec.encode(order);
 * assert.deepEqual(await ORDER_PLACED.codec.decode(data), order);
 * ```
 *
 * @module
 */
export { json } from "./codec.ts";
export type { Codec, Schema } from "./codec.ts";
export { bytes } from "./bytes.ts";
export { date } from "./date.ts";
export type { DateOptions } from "./date.ts";
export { encrypt } from "./encrypt.ts";
export type { EncryptKey, EncryptOptions } from "./encrypt.ts";
export { fernet } from "./fernet.ts";
export type { FernetKey, FernetOptions } from "./fernet.ts";
export { gzip } from "./gzip.ts";
export type { GzipOptions } from "./gzip.ts";
export { hmac } from "./hmac.ts";
export type { HmacHash, HmacKey, HmacOptions } from "./hmac.ts";
export { text } from "./text.ts";
