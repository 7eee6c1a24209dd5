// Key handling shared by the WebCrypto codecs (hmac, encrypt): a key is
// checked when the codec is made and imported once, on first use.

/** Whether `key` is a WebCrypto `CryptoKey` (duck-typed across realms). */
export function isCryptoKey(key: unknown): key is CryptoKey {
  return typeof key === "object" && key !== null && "algorithm" in key &&
    "usages" in key && "type" in key;
}

/**
 * Check that a `CryptoKey` allows `usages`, and return it as a loader.
 *
 * @param what Error message prefix (`Cannot create hmac codec`).
 * @param which Which key (`key`, `previousKeys[0]`).
 */
export function cryptoKeyLoader(
  key: CryptoKey,
  usages: ReadonlyArray<KeyUsage>,
  what: string,
  which: string,
): () => Promise<CryptoKey> {
  const missing = usages.filter((usage) => !key.usages.includes(usage));
  if (missing.length > 0) {
    throw new TypeError(
      `${what}: ${which} is not usable to ${
        missing.join(" and ")
      } (its usages: ${key.usages.join(", ") || "none"})`,
    );
  }
  return () => Promise.resolve(key);
}

/** Raw key bytes as a loader that imports them once, on first use. */
export function rawKeyLoader(
  raw: Uint8Array,
  algorithm: AlgorithmIdentifier | HmacImportParams,
  usages: KeyUsage[],
): () => Promise<CryptoKey> {
  let imported: Promise<CryptoKey> | undefined;
  return () =>
    imported ??= crypto.subtle.importKey(
      "raw",
      raw as Uint8Array<ArrayBuffer>,
      algorithm,
      false,
      usages,
    );
}
