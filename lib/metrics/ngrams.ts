/**
 * Integer interning of tokens and n-grams for the COCO scorers. Every distinct token gets a dense id;
 * every distinct n-gram gets a dense id too, found from (id of its (n-1)-gram prefix, last token id)
 * in an open-addressing hash table over typed arrays. For every caption the distinct n-grams and
 * their counts are stored once, in flat typed arrays, in first-occurrence order (order 1 first, then
 * 2, ...: the order of pycocoevalcap's `precook` dictionaries). Scorers then count with typed arrays
 * indexed by n-gram id and "stamp" arrays that reset per image in O(1).
 */

export class Vocab {
  private readonly ids = new Map<string, number>();
  size = 0;

  id(token: string): number {
    let id = this.ids.get(token);
    if (id === undefined) {
      id = this.size++;
      this.ids.set(token, id);
    }
    return id;
  }

  encode(tokens: readonly string[]): Int32Array {
    const out = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) out[i] = this.id(tokens[i]);
    return out;
  }
}

/** Open-addressing hash map (int32, int32) -> dense id. */
class PairTable {
  private keyA: Int32Array;
  private keyB: Int32Array;
  private val: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacityLog2 = 16) {
    const cap = 1 << capacityLog2;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.val = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Id of (a, b); `next()` supplies a new id when the pair is new. */
  get(a: number, b: number, next: () => number): number {
    let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
    h = (h ^ (h >>> 15)) & this.mask;
    const keyA = this.keyA;
    const keyB = this.keyB;
    for (;;) {
      const ka = keyA[h];
      if (ka === -1) break;
      if (ka === a && keyB[h] === b) return this.val[h];
      h = (h + 1) & this.mask;
    }
    const id = next();
    keyA[h] = a;
    keyB[h] = b;
    this.val[h] = id;
    if (++this.count * 2 > this.mask) this.grow();
    return id;
  }

  private grow(): void {
    const { keyA, keyB, val } = this;
    const cap = (this.mask + 1) * 2;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.val = new Int32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < keyA.length; i++) {
      const a = keyA[i];
      if (a === -1) continue;
      const b = keyB[i];
      let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
      h = (h ^ (h >>> 15)) & this.mask;
      while (this.keyA[h] !== -1) h = (h + 1) & this.mask;
      this.keyA[h] = a;
      this.keyB[h] = b;
      this.val[h] = val[i];
    }
  }
}

/** A growable Int32Array. */
export class IntList {
  data: Int32Array;
  length = 0;
  constructor(cap = 1024) {
    this.data = new Int32Array(cap);
  }
  push(x: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = x;
  }
  trimmed(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Distinct n-grams of every caption. Caption `c` has `length[c]` tokens; its distinct n-grams are
 * `uniq[orderStart[c * (maxOrder + 1)] .. orderStart[c * (maxOrder + 1) + maxOrder])` with counts in
 * `cnt`, its order-k n-grams (k = 0 for unigrams) starting at `orderStart[c * (maxOrder + 1) + k]`.
 */
export interface CaptionNgrams {
  maxOrder: number;
  numNgrams: number;
  numCaptions: number;
  length: Int32Array;
  orderStart: Int32Array;
  uniq: Int32Array;
  cnt: Int32Array;
}

/**
 * Collect the distinct n-grams (n = 1..maxOrder) with counts of token id sequences stored flat:
 * caption `c` is `tokens[tokStart[c] .. tokStart[c] + tokLen[c])`. Unigram ids are token ids.
 */
export function collectNgrams(
  tokens: Int32Array,
  tokStart: Int32Array,
  tokLen: Int32Array,
  vocabSize: number,
  maxOrder: number,
): CaptionNgrams {
  const table = new PairTable(16);
  let numNgrams = vocabSize;
  const next = (): number => numNgrams++;
  const numCaptions = tokStart.length;
  const orderStart = new Int32Array(numCaptions * (maxOrder + 1));
  const uniq = new IntList(1 << 16);
  const cnt = new IntList(1 << 16);
  let stamp = new Int32Array(Math.max(1024, vocabSize * 4));
  let slot = new Int32Array(stamp.length);
  let prev = new Int32Array(64);
  let cur = new Int32Array(64);
  for (let c = 0; c < numCaptions; c++) {
    const t0 = tokStart[c];
    const n = tokLen[c];
    const s = c + 1;
    if (prev.length < n) {
      prev = new Int32Array(n * 2);
      cur = new Int32Array(n * 2);
    }
    for (let k = 0; k < maxOrder; k++) {
      orderStart[c * (maxOrder + 1) + k] = uniq.length;
      const count = n - k;
      for (let i = 0; i < count; i++) {
        const g = k === 0 ? tokens[t0 + i] : table.get(prev[i], tokens[t0 + i + k], next);
        cur[i] = g;
        if (g >= stamp.length) {
          let len = stamp.length;
          while (len <= g) len *= 2;
          const st = new Int32Array(len);
          st.set(stamp);
          stamp = st;
          const sl = new Int32Array(len);
          sl.set(slot);
          slot = sl;
        }
        if (stamp[g] !== s) {
          stamp[g] = s;
          slot[g] = uniq.length;
          uniq.push(g);
          cnt.push(1);
        } else {
          cnt.data[slot[g]]++;
        }
      }
      const t = prev;
      prev = cur;
      cur = t;
    }
    orderStart[c * (maxOrder + 1) + maxOrder] = uniq.length;
  }
  return {
    maxOrder,
    numNgrams,
    numCaptions,
    length: tokLen,
    orderStart,
    uniq: uniq.trimmed(),
    cnt: cnt.trimmed(),
  };
}
