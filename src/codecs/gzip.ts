/**
 * {@linkcode gzip}: compress what another codec produces.
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import { DecodeError } from "../errors.ts";

/** Options for {@linkcode gzip}. */
export interface GzipOptions {
  /**
   * Payloads smaller than this many bytes (as the inner codec encodes them)
   * are sent uncompressed, where gzip's 18-byte framing would make them
   * bigger. `decode` tells the two apart by gzip's magic bytes `1f 8b`; a
   * small payload that itself starts with them is compressed anyway, so the
   * format stays unambiguous. With the default 0 every payload is gzip, as
   * Python walnats' `GZipSerializer` expects; a Python service cannot read
   * the uncompressed ones.
   * @default {0}
   */
  minSize?: number;
  /**
   * Most bytes a payload may decompress to; more is a `DecodeError`. Guards
   * consumers against decompression bombs (a 1 MiB message can inflate to
   * 1 GiB).
   * @default {67108864}
   */
  maxSize?: number;
}

const MAGIC_0 = 0x1f;
const MAGIC_1 = 0x8b;
const DEFAULT_MAX_SIZE = 64 * 1024 * 1024;

class TooLargeError extends Error {}

/**
 * Wrap a codec so its bytes travel gzip-compressed, with the web-standard
 * `CompressionStream`. The wire format is a plain gzip stream (RFC 1952),
 * readable by Python walnats' `GZipSerializer` and by `gunzip`.
 *
 * @typeParam T Payload type the inner codec decodes to.
 * @typeParam I Payload type the inner codec encodes.
 * @param codec The codec whose output is compressed.
 * @param options Size threshold below which payloads are not compressed,
 *   and the decompressed size limit.
 * @returns A codec with the same payload types, and content type
 *   `application/gzip` (what the bytes on the wire are).
 * @throws {RangeError} `minSize` or `maxSize` is not a non-negative integer.
 * @throws {DecodeError} From `decode`: the bytes are not gzip (or, with
 *   `minSize`, not an uncompressed payload either), are corrupt or
 *   truncated, or inflate to more than `maxSize` bytes.
 *
 * @example Compress a JSON payload
 * ```ts
 * import * as v from "valibot";
 * import { gzip, json } from "@walnats/walnats/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = gzip(json(v.object({ text: v.string() })));
 * const note = { text: "la ".repeat(1000) };
 * const data = await codec.encode(note);
 * assert.ok(data.length < 100);
 * assert.deepEqual(await codec.decode(data), note);
 * ```
 */
export function gzip<T, I>(
  codec: Codec<T, I>,
  options: GzipOptions = {},
): Codec<T, I> {
  const minSize = options.minSize ?? 0;
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
  for (const [field, value] of [["minSize", minSize], ["maxSize", maxSize]]) {
    if (!Number.isSafeInteger(value) || (value as number) < 0) {
      throw new RangeError(
        `Cannot create gzip codec: ${field} must be a non-negative integer (bytes), got ${value}`,
      );
    }
  }
  return {
    contentType: "application/gzip",
    async encode(value: I): Promise<Uint8Array> {
      const data = await codec.encode(value);
      if (data.length < minSize && !isGzip(data)) return data;
      return await pipe(data, new CompressionStream("gzip"), Infinity);
    },
    async decode(data: Uint8Array): Promise<T> {
      if (!isGzip(data)) {
        if (minSize > 0) return await codec.decode(data);
        throw new DecodeError(
          `Cannot decode a payload: not gzip data (it does not start with the gzip magic bytes 1f 8b)`,
        );
      }
      let inflated: Uint8Array;
      try {
        inflated = await pipe(data, new DecompressionStream("gzip"), maxSize);
      } catch (error) {
        if (error instanceof TooLargeError) {
          throw new DecodeError(
            `Cannot decode a payload: it decompresses to more than maxSize (${maxSize} bytes)`,
          );
        }
        throw new DecodeError(
          `Cannot decode a payload: corrupt or truncated gzip data (${
            (error as Error)?.message ?? String(error)
          })`,
          { cause: error },
        );
      }
      return await codec.decode(inflated);
    },
  };
}

function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === MAGIC_0 && data[1] === MAGIC_1;
}

// Push bytes through a (de)compression stream and collect the output,
// giving up once it grows past `max` bytes.
async function pipe(
  data: Uint8Array,
  stream: CompressionStream | DecompressionStream,
  max: number,
): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  // The readable side reports every failure (and the write settles only once
  // it has been read), so the writer's own promises are not awaited.
  writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new TooLargeError();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
