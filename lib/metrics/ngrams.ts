/**
 * Integer interning of tokens and n-grams for the COCO scorers. Every distinct token gets a dense id;
 * every distinct n-gram gets a dense id too, found from (id of its (n-1)-gram prefix, last token)
 * through one Map with a numeric key. Scorers then count with typed arrays indexed by n-gram id and
 * "stamp" arrays to reset them per image in O(1), instead of building string keys and dictionaries.
 */

const PAIR_SHIFT = 4194304; // 2^22: tokens ids below this form exact numeric pair keys (< 2^53)

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

  /** Ids of a list of tokens. */
  encode(tokens: readonly string[]): Int32Array {
    const out = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) out[i] = this.id(tokens[i]);
    return out;
  }
}

/** N-gram ids of one caption: `byOrder[k]` lists the ids of its (k+1)-grams in position order. */
export interface CaptionGrams {
  length: number;
  byOrder: Int32Array[];
}

export class NgramTable {
  /** token id -> unigram id (-1: none yet) */
  private uni = new Int32Array(1024).fill(-1);
  private readonly ext = new Map<number, number>();
  private readonly extStr = new Map<string, number>();
  size = 0;

  constructor(readonly maxOrder: number) {}

  private unigram(tok: number): number {
    if (tok >= this.uni.length) {
      let len = this.uni.length;
      while (len <= tok) len *= 2;
      const bigger = new Int32Array(len).fill(-1);
      bigger.set(this.uni);
      this.uni = bigger;
    }
    let id = this.uni[tok];
    if (id < 0) {
      id = this.size++;
      this.uni[tok] = id;
    }
    return id;
  }

  private extend(prefix: number, tok: number): number {
    if (tok < PAIR_SHIFT && prefix < 2147483648) {
      const key = prefix * PAIR_SHIFT + tok;
      let id = this.ext.get(key);
      if (id === undefined) {
        id = this.size++;
        this.ext.set(key, id);
      }
      return id;
    }
    const key = `${prefix}:${tok}`;
    let id = this.extStr.get(key);
    if (id === undefined) {
      id = this.size++;
      this.extStr.set(key, id);
    }
    return id;
  }

  /** All n-grams (n = 1..maxOrder) of a token id sequence. */
  grams(tokens: Int32Array): CaptionGrams {
    const len = tokens.length;
    const byOrder: Int32Array[] = [];
    let prev: Int32Array | null = null;
    for (let k = 0; k < this.maxOrder; k++) {
      const count = Math.max(0, len - k);
      const ids = new Int32Array(count);
      if (k === 0) {
        for (let i = 0; i < count; i++) ids[i] = this.unigram(tokens[i]);
      } else {
        for (let i = 0; i < count; i++) ids[i] = this.extend((prev as Int32Array)[i], tokens[i + k]);
      }
      byOrder.push(ids);
      prev = ids;
    }
    return { length: len, byOrder };
  }
}
