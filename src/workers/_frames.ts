// Length-prefixed frames for the process pool's pipes: 4 bytes of magic
// ("WNF1"), 4 bytes of big-endian length, then a v8-serialized value. The
// magic catches a handler writing to stdout, which would corrupt the stream.

/** Frame header size, bytes. */
export const HEADER = 8;
/** Largest frame accepted, bytes (a reply must fit a NATS message anyway). */
export const MAX_FRAME = 64 * 1024 * 1024;
const MAGIC = [0x57, 0x4e, 0x46, 0x31];

/** One frame around `payload`. */
export function frame(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_FRAME) {
    throw new RangeError(
      `Cannot send to the worker: ${payload.length} bytes is over the ${MAX_FRAME} bytes frame limit`,
    );
  }
  const out = new Uint8Array(HEADER + payload.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, HEADER);
  return out;
}

/** Splits a byte stream into frame payloads. */
export class FrameReader {
  #buffer = new Uint8Array(0);

  /**
   * Add bytes; returns the complete payloads.
   * @throws {Error} The stream is not frames (bad magic, oversized).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.#buffer.length + chunk.length);
    merged.set(this.#buffer, 0);
    merged.set(chunk, this.#buffer.length);
    const out: Uint8Array[] = [];
    let at = 0;
    while (merged.length - at >= HEADER) {
      for (let i = 0; i < 4; i++) {
        if (merged[at + i] !== MAGIC[i]) {
          throw new Error(
            "the worker wrote something other than walnats frames to its stdout (console output must go to stderr)",
          );
        }
      }
      const size = new DataView(merged.buffer, at + 4, 4).getUint32(0);
      if (size > MAX_FRAME) {
        throw new Error(
          `the worker sent a ${size} bytes frame, over the limit`,
        );
      }
      if (merged.length - at - HEADER < size) break;
      out.push(merged.slice(at + HEADER, at + HEADER + size));
      at += HEADER + size;
    }
    this.#buffer = merged.slice(at);
    return out;
  }
}
