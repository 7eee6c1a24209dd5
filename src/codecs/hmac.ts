/**
 * {@linkcode hmac}: sign what another codec produces, and reject what was
 * not signed with the key.
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import { DecodeError } from "../errors.ts";
import { cryptoKeyLoader, isCryptoKey, rawKeyLoader } from "./_keys.ts";

/** Hash functions {@linkcode hmac} can sign with. */
export type HmacHash = "SHA-256" | "SHA-384" | "SHA-512";

/** A key for {@linkcode hmac}. */
export type HmacKey = string | Uint8Array | CryptoKey;

/** Options for {@linkcode hmac}. */
export interface HmacOptions {
  /**
   * Hash function; the signature is as long as its digest (32, 48 or 64
   * bytes). Python walnats' `HMACSerializer` defaults to SHA-512: pass
   * `"SHA-512"` to share events with it. With a `CryptoKey`, the default is
   * the key's own hash.
   * @default {"SHA-256"}
   */
  hash?: HmacHash;
  /**
   * Keys still accepted when verifying, never used to sign: for rotating a
   * key without dropping the messages signed before the switch.
   * @default {[]}
   */
  previousKeys?: ReadonlyArray<HmacKey>;
}

const TAG_LENGTHS: Readonly<Record<HmacHash, number>> = {
  "SHA-256": 32,
  "SHA-384": 48,
  "SHA-512": 64,
};

const encoder = new TextEncoder();
const WHAT = "Cannot create hmac codec";

function keyHash(key: CryptoKey): string | undefined {
  const algorithm = key.algorithm as Partial<HmacKeyAlgorithm>;
  return algorithm.name === "HMAC" ? algorithm.hash?.name : undefined;
}

// Check a key now, import it on first use.
function prepare(
  key: HmacKey,
  hash: HmacHash,
  usages: ReadonlyArray<KeyUsage>,
  which: string,
): () => Promise<CryptoKey> {
  if (isCryptoKey(key)) {
    if (keyHash(key) === undefined) {
      throw new TypeError(
        `${WHAT}: ${which} is a ${key.algorithm.name} CryptoKey, expected an HMAC key`,
      );
    }
    if (keyHash(key) !== hash) {
      throw new TypeError(
        `${WHAT}: ${which} hashes with ${
          keyHash(key)
        }, but the codec signs with ${hash}; every key must use the same hash`,
      );
    }
    return cryptoKeyLoader(key, usages, WHAT, which);
  }
  let raw: Uint8Array;
  if (typeof key === "string") raw = encoder.encode(key);
  else if (key instanceof Uint8Array) raw = key.slice();
  else {
    throw new TypeError(
      `${WHAT}: ${which} must be a string, a Uint8Array or a CryptoKey, got ${
        key === null ? "null" : typeof key
      }`,
    );
  }
  if (raw.length === 0) {
    throw new RangeError(`${WHAT}: ${which} is empty`);
  }
  return rawKeyLoader(raw, { name: "HMAC", hash }, ["sign", "verify"]);
}

/**
 * Wrap a codec so its bytes are signed with HMAC (WebCrypto), and only
 * payloads signed with the same key decode.
 *
 * Wire format, the same as Python walnats' `HMACSerializer`: the signature
 * (HMAC of the inner codec's bytes, 32 bytes for SHA-256) followed by those
 * bytes. A string key means its UTF-8 bytes (a Python `key=b"..."` with the
 * same characters). Verification is constant-time (`crypto.subtle.verify`).
 * Signing proves who wrote a message, it does not hide it: wrap in
 * {@linkcode encrypt} for that.
 *
 * @typeParam T Payload type the inner codec decodes to.
 * @typeParam I Payload type the inner codec encodes.
 * @param codec The codec whose output is signed.
 * @param key The secret: a string (its UTF-8 bytes), raw bytes, or an HMAC
 *   `CryptoKey` usable to sign and verify.
 * @param options Hash function, and older keys still accepted.
 * @returns A codec with the same payload types, and content type
 *   `application/octet-stream`.
 * @throws {TypeError} A key is not a string, bytes or an HMAC `CryptoKey`
 *   with the right usages and hash, or the hash is not supported.
 * @throws {RangeError} A key is empty.
 * @throws {DecodeError} From `decode`: the signature does not match (the
 *   payload was altered, truncated, signed with another key, or not signed).
 *
 * @example Reject a tampered payload
 * ```ts
 * import * as v from "valibot";
 * import { DecodeError } from "@walnats/walnats";
 * import { hmac, json } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = hmac(json(v.object({ amount: v.number() })), "secret");
 * const data = await codec.encode({ amount: 10 });
 * assert.deepEqual(await codec.decode(data), { amount: 10 });
 * data.set([data.at(-2)! ^ 1], data.length - 2); // 10 becomes 11
 * await assert.rejects(async () => await codec.decode(data), DecodeError);
 * ```
 */
export function hmac<T, I>(
  codec: Codec<T, I>,
  key: HmacKey,
  options: HmacOptions = {},
): Codec<T, I> {
  const hash = options.hash ??
    (isCryptoKey(key) ? keyHash(key) as HmacHash | undefined : undefined) ??
    "SHA-256";
  const tagLength = TAG_LENGTHS[hash];
  if (tagLength === undefined) {
    throw new TypeError(
      `${WHAT}: hash must be one of ${
        Object.keys(TAG_LENGTHS).join(", ")
      }, got ${String(hash)}`,
    );
  }
  const signer = prepare(key, hash, ["sign", "verify"], "key");
  const verifiers = [
    signer,
    ...(options.previousKeys ?? []).map((k, i) =>
      prepare(k, hash, ["verify"], `previousKeys[${i}]`)
    ),
  ];
  const label = `HMAC-${hash.replace("-", "")}`;
  return {
    contentType: "application/octet-stream",
    async encode(value: I): Promise<Uint8Array> {
      const data = await codec.encode(value);
      const tag = await crypto.subtle.sign(
        "HMAC",
        await signer(),
        data as Uint8Array<ArrayBuffer>,
      );
      const out = new Uint8Array(tagLength + data.length);
      out.set(new Uint8Array(tag), 0);
      out.set(data, tagLength);
      return out;
    },
    async decode(data: Uint8Array): Promise<T> {
      if (data.length < tagLength) {
        throw new DecodeError(
          `Cannot decode a payload: the ${label} signature does not match (the payload is ${data.length} bytes, too short to hold a ${tagLength}-byte signature: truncated or not signed)`,
        );
      }
      const tag = data.subarray(0, tagLength) as Uint8Array<ArrayBuffer>;
      const body = data.subarray(tagLength) as Uint8Array<ArrayBuffer>;
      for (const verifier of verifiers) {
        if (await crypto.subtle.verify("HMAC", await verifier(), tag, body)) {
          return await codec.decode(body);
        }
      }
      throw new DecodeError(
        `Cannot decode a payload: the ${label} signature does not match (the payload was altered, signed with another key, or not signed)`,
      );
    },
  };
}
