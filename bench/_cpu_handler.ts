// The CPU-bound handler of bench/workers.ts: `rounds` of an integer hash,
// synchronous, about 20 ms once calibrated.

/** Hash `seed` `rounds` times; the result keeps the loop from being elided. */
export function burn(message: { seed: number; rounds: number }): number {
  let h = message.seed | 0;
  for (let i = 0; i < message.rounds; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
    h ^= h >>> 15;
  }
  return h;
}
