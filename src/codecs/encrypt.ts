/**
 * {@linkcode encrypt}: encrypt what another codec produces (AES-GCM).
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import { DecodeError } from "../errors.ts";
import { cryptoKeyLoader, isCryptoKey, rawKeyLoader } from "./_keys.ts";

/** A key for {@linkcode encrypt}. */
export type EncryptKey = string | Uint8Array | CryptoKey;

/** Options for {@linkcode encrypt}. */
export interface EncryptOptions {
  /**
   * Bytes (or a string, as UTF-8) that are authenticated but not sent:
   * `decode` fails unless it was given the same. Use it to bind payloads to
   * a context, such as the event name, so a ciphertext cannot be replayed
   * on another event that shares the key.
   * @default {undefined}
   */
  additionalData?: string | Uint8Array;
  /**
   * Keys still accepted when decrypting, never used to encrypt: for rotating
   * a key without losing the messages encrypted before the switch.
   * @default {[]}
   */
  previousKeys?: ReadonlyArray<EncryptKey>;
}

const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const encoder = new TextEncoder();
const WHAT = "Cannot create encrypt codec";

function fromBase64(text: string, which: string): Uint8Array {
  const digits = text.trim().replace(/={1,2}$/, "").replaceAll("-", "+")
    .replaceAll("_", "/");
  if (!/^[A-Za-z0-9+/]*$/.test(digits) || digits.length % 4 === 1) {
    throw new TypeError(
      `${WHAT}: ${which} must be the base64 of 16 or 32 random bytes (for example the output of \`openssl rand -base64 32\`), and is not base64`,
    );
  }
  const binary = atob(digits.padEnd(Math.ceil(digits.length / 4) * 4, "="));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

// Check a key now, import it on first use.
function prepare(
  key: EncryptKey,
  usages: ReadonlyArray<KeyUsage>,
  which: string,
): () => Promise<CryptoKey> {
  if (isCryptoKey(key)) {
    if (key.algorithm.name !== "AES-GCM") {
      throw new TypeError(
        `${WHAT}: ${which} is a ${key.algorithm.name} CryptoKey, expected an AES-GCM key`,
      );
    }
    return cryptoKeyLoader(key, usages, WHAT, which);
  }
  let raw: Uint8Array;
  if (typeof key === "string") raw = fromBase64(key, which);
  else if (key instanceof Uint8Array) raw = key.slice();
  else {
    throw new TypeError(
      `${WHAT}: ${which} must be a base64 string, a Uint8Array or a CryptoKey, got ${
        key === null ? "null" : typeof key
      }`,
    );
  }
  if (raw.length !== 16 && raw.length !== 32) {
    throw new RangeError(
      `${WHAT}: ${which} must be 16 or 32 bytes (AES-128 or AES-256), got ${raw.length} bytes`,
    );
  }
  return rawKeyLoader(raw, { name: "AES-GCM" }, ["encrypt", "decrypt"]);
}

/**
 * Wrap a codec so its bytes travel encrypted and authenticated with AES-GCM
 * (WebCrypto): only holders of the key can read a payload, and an altered
 * payload does not decode.
 *
 * Wire format: a fresh random 12-byte IV, then the ciphertext with its
 * 16-byte authentication tag appended (WebCrypto's AES-GCM output), so a
 * payload is 28 bytes longer than the inner codec's bytes. Random IVs are
 * safe for about 2^32 messages per key; rotate keys (see `previousKeys`)
 * well before that. Python walnats' `FernetSerializer` uses another format,
 * so encrypted events are readable by TypeScript services only.
 *
 * Compress before encrypting (`encrypt(gzip(codec), key)`): ciphertext does
 * not compress.
 *
 * @typeParam T Payload type the inner codec decodes to.
 * @typeParam I Payload type the inner codec encodes.
 * @param codec The codec whose output is encrypted.
 * @param key The secret: 16 or 32 raw bytes (AES-128 or AES-256), the
 *   same as a base64 string (standard or URL-safe alphabet, padding
 *   optional; for example the output of `openssl rand -base64 32`), or an
 *   AES-GCM `CryptoKey` usable to encrypt and decrypt.
 * @param options Additional authenticated data, and older keys still
 *   accepted.
 * @returns A codec with the same payload types, and content type
 *   `application/octet-stream`.
 * @throws {TypeError} A key is not base64, bytes or an AES-GCM `CryptoKey`
 *   with the right usages.
 * @throws {RangeError} A raw or base64 key is not 16 or 32 bytes long.
 * @throws {DecodeError} From `decode`: the payload was encrypted with
 *   another key (or additional data), altered, truncated, or not encrypted.
 *
 * @example Encrypt a compressed JSON payload
 * ```ts
 * import * as v from "valibot";
 * import { encrypt, gzip, json } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const codec = encrypt(gzip(json(v.object({ note: v.string() }))), key);
 * const data = await codec.encode({ note: "the code is 1234" });
 * assert.ok(!new TextDecoder().decode(data).includes("1234"));
 * assert.deepEqual(await codec.decode(data), { note: "the code is 1234" });
 * ```
 */
export function encrypt<T, I>(
  codec: Codec<T, I>,
  key: EncryptKey,
  options: EncryptOptions = {},
): Codec<T, I> {
  const current = prepare(key, ["encrypt", "decrypt"], "key");
  const keys = [
    current,
    ...(options.previousKeys ?? []).map((k, i) =>
      prepare(k, ["decrypt"], `previousKeys[${i}]`)
    ),
  ];
  const aad = options.additionalData;
  const params = (iv: Uint8Array): AesGcmParams => {
    const p: AesGcmParams = {
      name: "AES-GCM",
      iv: iv as Uint8Array<ArrayBuffer>,
    };
    if (aad !== undefined) {
      p.additionalData =
        (typeof aad === "string" ? encoder.encode(aad) : aad) as Uint8Array<
          ArrayBuffer
        >;
    }
    return p;
  };
  return {
    contentType: "application/octet-stream",
    async encode(value: I): Promise<Uint8Array> {
      const data = await codec.encode(value);
      const iv = crypto.getRandomValues(new Uint8Array(IV_LENGTH));
      const sealed = await crypto.subtle.encrypt(
        params(iv),
        await current(),
        data as Uint8Array<ArrayBuffer>,
      );
      const out = new Uint8Array(IV_LENGTH + sealed.byteLength);
      out.set(iv, 0);
      out.set(new Uint8Array(sealed), IV_LENGTH);
      return out;
    },
    async decode(data: Uint8Array): Promise<T> {
      if (data.length < IV_LENGTH + TAG_LENGTH) {
        throw new DecodeError(
          `Cannot decode a payload: AES-GCM decryption failed (the payload is ${data.length} bytes, shorter than the ${
            IV_LENGTH + TAG_LENGTH
          } bytes of IV and tag: truncated or not encrypted)`,
        );
      }
      const p = params(data.subarray(0, IV_LENGTH));
      const sealed = data.subarray(IV_LENGTH) as Uint8Array<ArrayBuffer>;
      let opened: ArrayBuffer | undefined;
      let last: unknown;
      for (const k of keys) {
        try {
          opened = await crypto.subtle.decrypt(p, await k(), sealed);
          break;
        } catch (error) {
          last = error;
        }
      }
      if (opened === undefined) {
        throw new DecodeError(
          `Cannot decode a payload: AES-GCM decryption failed (encrypted with another key or additional data, altered, or not encrypted)`,
          { cause: last },
        );
      }
      return await codec.decode(new Uint8Array(opened));
    },
  };
}
