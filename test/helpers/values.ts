// Deterministic test data for the native numeric kernels, and the bit view their bit-for-bit comparisons use.
import type { RawTensor } from '../../lib/native.js';

/** n floats in [lo, hi] of mixed sign and magnitude: a hash of the index and the seed, the same on every run. */
export function hashedValues(n: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = Math.imul(i + 1, 2654435761) ^ Math.imul(seed + 7, 40503);
    out[i] = lo + (((h >>> 8) % 20001) / 20000) * (hi - lo);
  }
  return out;
}

/** The float32 elements of t as their bit patterns (for comparisons that must be exact, -0 and NaN included). */
export const floatBits = (t: RawTensor): Uint32Array => {
  const data = t.data as Float32Array;
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
};
