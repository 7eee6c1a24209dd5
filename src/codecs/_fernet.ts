// Fernet tokens (https://github.com/fernet/spec, version 0x80) on WebCrypto:
// Version(1) ‖ Timestamp(8, big-endian seconds) ‖ IV(16) ‖ Ciphertext(16n,
// AES-128-CBC, PKCS #7) ‖ HMAC-SHA256(32) of everything before it, the
// whole token base64url-encoded with padding.
import { rawKeyLoader } from "./_keys.ts";

/** A parsed key: the signing half and the encryption half. */
export interface FernetKeys {
  signing: () => Promise<CryptoKey>;
  encryption: () => Promise<CryptoKey>;
}

const VERSION = 0x80;
const HEAD = 1 + 8 + 16;
const MAC = 32;
/** How far in the future a token may be dated when a ttl is checked. */
const MAX_CLOCK_SKEW = 60_000;

/** base64url (or base64) text to bytes; `undefined` when it is not. */
function fromBase64(text: string): Uint8Array | undefined {
  const digits = text.replace(/={1,2}$/, "").replaceAll("-", "+")
    .replaceAll("_", "/");
  if (!/^[A-Za-z0-9+/]*$/.test(digits) || digits.length % 4 === 1) {
    return undefined;
  }
  const binary = atob(digits.padEnd(Math.ceil(digits.length / 4) * 4, "="));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Bytes to base64url with padding, as Python's urlsafe_b64encode. */
function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * Check a key and split it; the halves are imported on first use.
 *
 * @throws {TypeError} Not a string or bytes, or not base64url.
 * @throws {RangeError} Not 32 bytes.
 */
export function parseFernetKey(
  key: unknown,
  what: string,
  which: string,
): FernetKeys {
  let raw: Uint8Array | undefined;
  if (typeof key === "string") {
    raw = fromBase64(key.trim());
    if (raw === undefined) {
      throw new TypeError(
        `${what}: ${which} must be a Fernet key (the base64url text of 32 bytes, as Fernet.generate_key() returns), and is not base64url`,
      );
    }
  } else if (key instanceof Uint8Array) {
    raw = key.slice();
  } else {
    throw new TypeError(
      `${what}: ${which} must be a Fernet key string or 32 bytes, got ${
        key === null ? "null" : typeof key
      }`,
    );
  }
  if (raw.length !== 32) {
    throw new RangeError(
      `${what}: ${which} must be 32 bytes (16 to sign, 16 to encrypt), got ${raw.length} bytes`,
    );
  }
  return {
    signing: rawKeyLoader(
      raw.subarray(0, 16),
      { name: "HMAC", hash: "SHA-256" },
      ["sign", "verify"],
    ),
    encryption: rawKeyLoader(raw.subarray(16), { name: "AES-CBC" }, [
      "encrypt",
      "decrypt",
    ]),
  };
}

/** Make a token of `data`, dated `now` (epoch ms), with this IV. */
export async function sealToken(
  keys: FernetKeys,
  data: Uint8Array,
  { iv, now }: { iv: Uint8Array; now: number },
): Promise<Uint8Array> {
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-CBC", iv: iv as Uint8Array<ArrayBuffer> },
      await keys.encryption(),
      data as Uint8Array<ArrayBuffer>,
    ),
  );
  const token = new Uint8Array(HEAD + ciphertext.length + MAC);
  const view = new DataView(token.buffer);
  token[0] = VERSION;
  view.setBigUint64(1, BigInt(Math.floor(now / 1000)));
  token.set(iv, 9);
  token.set(ciphertext, HEAD);
  const signed = token.subarray(0, HEAD + ciphertext.length);
  const mac = await crypto.subtle.sign(
    "HMAC",
    await keys.signing(),
    signed as Uint8Array<ArrayBuffer>,
  );
  token.set(new Uint8Array(mac), signed.length);
  return new TextEncoder().encode(toBase64Url(token));
}

/**
 * Verify and decrypt a token with the first key whose MAC matches.
 *
 * @returns The plaintext, or why the token was refused.
 */
export async function openToken(
  keys: readonly FernetKeys[],
  data: Uint8Array,
  { now, ttl }: { now: number; ttl?: number },
): Promise<Uint8Array | string> {
  const what = "not a Fernet token";
  // A token is ASCII; anything else is refused before decoding.
  let text = "";
  for (const byte of data) {
    if (byte > 0x7e || byte < 0x21) return `${what} (not base64url text)`;
    text += String.fromCharCode(byte);
  }
  const token = fromBase64(text);
  if (token === undefined) return `${what} (not base64url text)`;
  if (token.length < HEAD + 16 + MAC || (token.length - HEAD - MAC) % 16) {
    return `${what} (${token.length} bytes: truncated or not a token)`;
  }
  if (token[0] !== VERSION) {
    return `${what} (version 0x${token[0]!.toString(16)}, expected 0x80)`;
  }
  const seconds = Number(new DataView(token.buffer).getBigUint64(1));
  if (ttl !== undefined) {
    if (seconds * 1000 + ttl < now) {
      return `the Fernet token expired (made ${
        new Date(seconds * 1000).toISOString()
      }, ttl ${ttl} ms)`;
    }
    if (now + MAX_CLOCK_SKEW < seconds * 1000) {
      return `the Fernet token is dated in the future (${
        new Date(seconds * 1000).toISOString()
      })`;
    }
  }
  const signed = token.subarray(0, token.length - MAC);
  const mac = token.subarray(token.length - MAC);
  for (const key of keys) {
    const ok = await crypto.subtle.verify(
      "HMAC",
      await key.signing(),
      mac as Uint8Array<ArrayBuffer>,
      signed as Uint8Array<ArrayBuffer>,
    );
    if (!ok) continue;
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(
          {
            name: "AES-CBC",
            iv: token.subarray(9, HEAD) as Uint8Array<ArrayBuffer>,
          },
          await key.encryption(),
          token.subarray(HEAD, token.length - MAC) as Uint8Array<ArrayBuffer>,
        ),
      );
    } catch {
      return "the Fernet token's padding is invalid (made with a faulty encoder)";
    }
  }
  return "the Fernet token's MAC does not match (altered, truncated, or made with another key)";
}
