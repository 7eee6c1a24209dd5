/**
 * {@linkcode fernet}: encrypt what another codec produces as a Fernet token,
 * the format of Python walnats' `FernetSerializer` (`cryptography.fernet`).
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import { DecodeError } from "../errors.ts";
import {
  type FernetKeys,
  openToken,
  parseFernetKey,
  sealToken,
} from "./_fernet.ts";

/**
 * A Fernet key: the 44-character base64url text of 32 bytes that Python's
 * `Fernet.generate_key()` returns, or those 32 bytes.
 */
export type FernetKey = string | Uint8Array;

/** Options for {@linkcode fernet}. */
export interface FernetOptions {
  /**
   * Reject tokens older than this many milliseconds (from the timestamp
   * inside the token), and tokens dated more than 60 s in the future, as
   * `Fernet.decrypt(token, ttl=...)` does. Python walnats decrypts without
   * a limit, which is the default here too.
   * @default {undefined}
   */
  ttl?: number;
  /**
   * Keys still accepted when decrypting, never used to encrypt (what
   * Python's `MultiFernet` does with all keys but the first): for rotating
   * a key without losing the messages encrypted before the switch.
   * @default {[]}
   */
  previousKeys?: ReadonlyArray<FernetKey>;
}

const WHAT = "Cannot create fernet codec";

/**
 * Wrap a codec so its bytes travel as a Fernet token
 * ([spec](https://github.com/fernet/spec/blob/master/Spec.md)):
 * AES-128-CBC with PKCS #7 padding, then HMAC-SHA256 over version,
 * timestamp, IV and ciphertext, all base64url-encoded. This is the wire
 * format of Python walnats' `FernetSerializer(schema, serializer, key)`
 * with the same key, in both directions: use it to share encrypted events
 * with Python services. For events only TypeScript reads,
 * {@linkcode encrypt} (AES-GCM, smaller, no base64) is the better choice.
 *
 * Runs on WebCrypto; the MAC is checked (in constant time) before anything
 * is decrypted. The token carries its creation time in clear, to the
 * second.
 *
 * @typeParam T Payload type the inner codec decodes to.
 * @typeParam I Payload type the inner codec encodes.
 * @param codec The codec whose output is encrypted.
 * @param key The Fernet key (base64url text of 32 bytes, or the bytes).
 * @param options Maximum token age, and older keys still accepted.
 * @returns A codec with the same payload types, and content type
 *   `text/plain; charset=us-ascii` (a token is base64url text).
 * @throws {TypeError} A key is not base64url text or bytes.
 * @throws {RangeError} A key is not 32 bytes, or `ttl` is not a positive
 *   number of milliseconds.
 * @throws {DecodeError} From `decode`: not a Fernet token, its MAC does not
 *   match any key (altered, truncated or another key), its padding is bad,
 *   or it is older than `ttl`.
 *
 * @example Decrypt what Python walnats encrypted
 * ```ts
 * import * as v from "valibot";
 * import { fernet, json } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * // Python: Fernet.generate_key(); walnats.Event("notes", dict,
 * //   serializer=FernetSerializer(dict, PrimitiveSerializer(dict), key))
 * const key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
 * const codec = fernet(json(v.object({ note: v.string() })), key);
 * const token = await codec.encode({ note: "secret" });
 * assert.equal(new TextDecoder().decode(token).slice(0, 2), "gA"); // version 0x80
 * assert.deepEqual(await codec.decode(token), { note: "secret" });
 * ```
 */
export function fernet<T, I>(
  codec: Codec<T, I>,
  key: FernetKey,
  options: FernetOptions = {},
): Codec<T, I> {
  const ttl = options.ttl;
  if (
    ttl !== undefined &&
    (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0)
  ) {
    throw new RangeError(
      `${WHAT}: ttl must be a positive number of milliseconds, got ${
        String(ttl)
      }`,
    );
  }
  const current = parseFernetKey(key, WHAT, "key");
  const keys: FernetKeys[] = [
    current,
    ...(options.previousKeys ?? []).map((k, i) =>
      parseFernetKey(k, WHAT, `previousKeys[${i}]`)
    ),
  ];
  return {
    contentType: "text/plain; charset=us-ascii",
    async encode(value: I): Promise<Uint8Array> {
      const data = await codec.encode(value);
      return await sealToken(current, data, {
        iv: crypto.getRandomValues(new Uint8Array(16)),
        now: Date.now(),
      });
    },
    async decode(data: Uint8Array): Promise<T> {
      const opened = await openToken(keys, data, {
        now: Date.now(),
        ...(ttl === undefined ? {} : { ttl }),
      });
      if (typeof opened === "string") {
        throw new DecodeError(`Cannot decode a payload: ${opened}`);
      }
      return await codec.decode(opened);
    },
  };
}
