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

/** Open-addressing hash map (int32, int32) -> dense id; keys and value interleaved for locality. */
class PairTable {
  private slots: Int32Array; // [a, b, id, unused] per slot; a = -1 marks an empty slot
  private mask: number;
  private count = 0;

  constructor(capacityLog2 = 16) {
    const cap = 1 << capacityLog2;
    this.slots = new Int32Array(cap * 4).fill(-1);
    this.mask = cap - 1;
  }

  private static hash(a: number, b: number): number {
    const h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
    return h ^ (h >>> 15);
  }

  /** The id of (a, b), or `fresh` after storing it when the pair is new. */
  getOrInsert(a: number, b: number, fresh: number): number {
    const slots = this.slots;
    let h = PairTable.hash(a, b) & this.mask;
    for (;;) {
      const o = h << 2;
      const ka = slots[o];
      if (ka === -1) {
        slots[o] = a;
        slots[o + 1] = b;
        slots[o + 2] = fresh;
        if (++this.count * 2 > this.mask) this.grow();
        return fresh;
      }
      if (ka === a && slots[o + 1] === b) return slots[o + 2];
      h = (h + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    const slots = new Int32Array(cap * 4).fill(-1);
    const mask = cap - 1;
    for (let o = 0; o < old.length; o += 4) {
      const a = old[o];
      if (a === -1) continue;
      const b = old[o + 1];
      let h = PairTable.hash(a, b) & mask;
      while (slots[h << 2] !== -1) h = (h + 1) & mask;
      slots[h << 2] = a;
      slots[(h << 2) + 1] = b;
      slots[(h << 2) + 2] = old[o + 2];
    }
    this.slots = slots;
    this.mask = mask;
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
  const numCaptions = tokStart.length;
  // exact upper bounds: no growth checks in the loop
  let occurrences = 0;
  let longest = 0;
  for (let c = 0; c < numCaptions; c++) {
    const n = tokLen[c];
    if (n > longest) longest = n;
    for (let k = 0; k < maxOrder && k < n; k++) occurrences += n - k;
  }
  const table = new PairTable(16);
  let numNgrams = vocabSize; // unigram id = token id
  const orderStart = new Int32Array(numCaptions * (maxOrder + 1));
  const uniq = new Int32Array(occurrences);
  const cnt = new Int32Array(occurrences);
  const maxIds = vocabSize + occurrences;
  const stamp = new Int32Array(maxIds);
  const slot = new Int32Array(maxIds);
  let prev = new Int32Array(longest + 1);
  let cur = new Int32Array(longest + 1);
  let u = 0;
  for (let c = 0; c < numCaptions; c++) {
    const t0 = tokStart[c];
    const n = tokLen[c];
    const s = c + 1;
    const os = c * (maxOrder + 1);
    for (let k = 0; k < maxOrder; k++) {
      orderStart[os + k] = u;
      const count = n - k;
      for (let i = 0; i < count; i++) {
        let g: number;
        if (k === 0) {
          g = tokens[t0 + i];
        } else {
          g = table.getOrInsert(prev[i], tokens[t0 + i + k], numNgrams);
          if (g === numNgrams) numNgrams++;
        }
        cur[i] = g;
        if (stamp[g] !== s) {
          stamp[g] = s;
          slot[g] = u;
          uniq[u] = g;
          cnt[u] = 1;
          u++;
        } else {
          cnt[slot[g]]++;
        }
      }
      const t = prev;
      prev = cur;
      cur = t;
    }
    orderStart[os + maxOrder] = u;
  }
  return {
    maxOrder,
    numNgrams,
    numCaptions,
    length: tokLen,
    orderStart,
    uniq: uniq.subarray(0, u),
    cnt: cnt.subarray(0, u),
  };
}
