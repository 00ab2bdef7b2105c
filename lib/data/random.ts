/**
 * Small deterministic hashing and PRNG helpers. Everything seeded in lib/data goes through these, so
 * orders and samples depend only on (seed, epoch, position) and never on timing or Math.random.
 */

/** Reduce any finite number to an unsigned 32-bit seed (negative and non-integer seeds allowed). */
export function toSeed(n: number): number {
  if (!Number.isFinite(n)) return 0;
  const t = Math.trunc(n);
  if (Number.isSafeInteger(t)) return Number(BigInt.asUintN(32, BigInt(t)));
  return fmix32((t % 4294967296) >>> 0);
}

/** murmur3 finalizer: a good 32-bit avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash a list of unsigned 32-bit integers into one. */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = fmix32((h ^ (v >>> 0)) + 0x7f4a7c15);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return fmix32(h);
}

/** FNV-1a over the UTF-16 code units of a string, mixed with a seed. */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ toSeed(seed)) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h >>> 0);
}

/** A seeded PRNG (mulberry32): fast, 32-bit state, good enough for shuffles and scenes. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = toSeed(seed);
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform float in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** One element of a non-empty array. */
  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)]!;
  }
}
