/**
 * The COCO caption scorers of pycocoevalcap 1.2, on COCO-tokenized captions:
 * - Bleu(4), "closest" reference length, with its tiny/small smoothing constants;
 * - Rouge (ROUGE-L, beta 1.2, max precision and max recall over the references);
 * - Cider (pycocoevalcap's `Cider` scorer: n = 1..4, sigma = 6, tf-idf vectors with the document
 *   frequencies of the evaluated references, clipped similarity min(hyp, ref) * ref and the gaussian
 *   length penalty, i.e. the CIDEr-D form, times 10).
 * Each function reproduces the Python arithmetic in the same order, so values agree to ~1e-15.
 */
import { collectNgrams, IntList, Vocab, type CaptionNgrams } from './ngrams.js';
import { npMean, pySplit } from './pytext.js';

/** One image for the COCO scorers: its (tokenized) prediction and references, as strings. */
export interface CocoImage {
  hyp: string;
  refs: readonly string[];
}

/** One image as token lists (what `cocoTokenize` produces before joining). */
export interface TokenizedImage {
  hyp: readonly string[];
  refs: ReadonlyArray<readonly string[]>;
}

export interface CorpusAndPerImage {
  corpus: number;
  perImage: Float64Array;
}

/**
 * Everything the scorers need, computed once: caption `capBase[i]` is the prediction of image i and
 * `capBase[i] + 1 .. capBase[i + 1] - 1` are its references. `ngrams` holds the n-grams of the Python
 * `str.split()` tokens (BLEU, CIDEr); `tokens[rougeStart[c] ..][: rougeLen[c]]` are the
 * `str.split(" ")` tokens of caption c (ROUGE-L), usually the same ids.
 */
export interface PreparedCorpus {
  numImages: number;
  capBase: Int32Array;
  ngrams: CaptionNgrams;
  maxOrder: number;
  tokens: Int32Array;
  rougeStart: Int32Array;
  rougeLen: Int32Array;
}

const NOT_PLAIN = /[^\x21-\x7e ]|  |^ | $/;

/** Accumulates the token ids of the captions of a corpus. */
class CorpusBuilder {
  private readonly vocab = new Vocab();
  private readonly flat = new IntList(1 << 16);
  private readonly pyStart = new IntList(1024);
  private readonly pyLen = new IntList(1024);
  private readonly rStart = new IntList(1024);
  private readonly rLen = new IntList(1024);
  private readonly base = new IntList(1024);

  startImage(): void {
    this.base.push(this.pyStart.length);
  }

  private addList(toks: readonly string[]): number {
    const at = this.flat.length;
    for (let i = 0; i < toks.length; i++) this.flat.push(this.vocab.id(toks[i]));
    return at;
  }

  /** A caption whose split() and split(" ") tokens are both `toks` (rouge: `['']` when empty). */
  addPlain(toks: readonly string[]): void {
    const at = this.addList(toks);
    this.pyStart.push(at);
    this.pyLen.push(toks.length);
    if (toks.length === 0) {
      this.rStart.push(this.addList(['']));
      this.rLen.push(1);
    } else {
      this.rStart.push(at);
      this.rLen.push(toks.length);
    }
  }

  /** A tokenized caption string, split both ways as pycocoevalcap's scorers split it. */
  addString(s: string): void {
    if (s.length > 0 && !NOT_PLAIN.test(s)) {
      this.addPlain(s.split(' '));
      return;
    }
    const py = pySplit(s);
    const rouge = s.split(' ');
    this.pyStart.push(this.addList(py));
    this.pyLen.push(py.length);
    this.rStart.push(this.addList(rouge));
    this.rLen.push(rouge.length);
  }

  /** A caption given as tokens (joined by single spaces, as pycocoevalcap joins them). */
  addTokens(toks: readonly string[], plain: boolean): void {
    if (toks.length === 0) this.addPlain(toks);
    else if (plain) this.addPlain(toks);
    else {
      const joined = toks.join(' ');
      if (!NOT_PLAIN.test(joined)) this.addPlain(toks);
      else this.addString(joined);
    }
  }

  finish(maxOrder: number): PreparedCorpus {
    const numImages = this.base.length;
    this.base.push(this.pyStart.length);
    const tokens = this.flat.trimmed();
    const pyStart = this.pyStart.trimmed();
    const pyLen = this.pyLen.trimmed();
    return {
      numImages,
      capBase: this.base.trimmed(),
      ngrams: collectNgrams(tokens, pyStart, pyLen, this.vocab.size, maxOrder),
      maxOrder,
      tokens,
      rougeStart: this.rStart.trimmed(),
      rougeLen: this.rLen.trimmed(),
    };
  }
}

/** Prepare tokenized caption strings (pycocoevalcap's `gts`/`res` after PTBTokenizer). */
export function prepareCorpus(images: readonly CocoImage[], maxOrder = 4): PreparedCorpus {
  const b = new CorpusBuilder();
  for (const img of images) {
    b.startImage();
    b.addString(img.hyp);
    for (const r of img.refs) b.addString(r);
  }
  return b.finish(maxOrder);
}

/**
 * Prepare captions given as token lists. `plain` (optional, per image) promises that every token is
 * printable ASCII without spaces, which skips a check.
 */
export function prepareTokenized(images: readonly TokenizedImage[], maxOrder = 4, plain?: (i: number, caption: number) => boolean): PreparedCorpus {
  const b = new CorpusBuilder();
  images.forEach((img, i) => {
    b.startImage();
    b.addTokens(img.hyp, plain ? plain(i, 0) : false);
    img.refs.forEach((r, k) => b.addTokens(r, plain ? plain(i, k + 1) : false));
  });
  return b.finish(maxOrder);
}

// ---------------------------------------------------------------------------------------------
// BLEU

export interface CocoBleuResult {
  /** Bleu_1..Bleu_n corpus scores */
  corpus: number[];
  /** perImage[k][i]: Bleu_(k+1) of image i */
  perImage: Float64Array[];
}

/** pycocoevalcap `Bleu(n).compute_score` with option "closest". */
export function cocoBleu(prep: PreparedCorpus): CocoBleuResult {
  const n = prep.maxOrder;
  const small = 1e-9;
  const tiny = 1e-15;
  const { uniq, cnt, orderStart, length } = prep.ngrams;
  const N = prep.ngrams.numNgrams;
  const maxc = new Int32Array(N);
  const maxStamp = new Int32Array(N);
  const numImages = prep.numImages;
  const perImage: Float64Array[] = [];
  for (let k = 0; k < n; k++) perImage.push(new Float64Array(numImages));
  const totalGuess = new Float64Array(n);
  const totalCorrect = new Float64Array(n);
  let totalTest = 0;
  let totalRef = 0;
  const correct = new Float64Array(n);
  const stride = n + 1;

  for (let img = 0; img < numImages; img++) {
    const s = img + 1;
    const hypCap = prep.capBase[img];
    const end = prep.capBase[img + 1];
    const testlen = length[hypCap];
    // reference max counts, and the "closest" reference length: min over (|l - testlen|, l)
    let reflen = -1;
    for (let c = hypCap + 1; c < end; c++) {
      const l = length[c];
      if (reflen < 0) reflen = l;
      else {
        const d = Math.abs(l - testlen);
        const bd = Math.abs(reflen - testlen);
        if (d < bd || (d === bd && l < reflen)) reflen = l;
      }
      for (let j = orderStart[c * stride], e = orderStart[c * stride + n]; j < e; j++) {
        const g = uniq[j];
        if (maxStamp[g] !== s) {
          maxStamp[g] = s;
          maxc[g] = cnt[j];
        } else if (cnt[j] > maxc[g]) {
          maxc[g] = cnt[j];
        }
      }
    }
    for (let k = 0; k < n; k++) {
      let c = 0;
      for (let j = orderStart[hypCap * stride + k], e = orderStart[hypCap * stride + k + 1]; j < e; j++) {
        const g = uniq[j];
        if (maxStamp[g] === s) c += Math.min(maxc[g], cnt[j]);
      }
      correct[k] = c;
    }
    totalTest += testlen;
    totalRef += reflen;
    let bleu = 1;
    for (let k = 0; k < n; k++) {
      const guess = Math.max(0, testlen - k);
      totalGuess[k] += guess;
      totalCorrect[k] += correct[k];
      bleu *= (correct[k] + tiny) / (guess + small);
      perImage[k][img] = bleu ** (1 / (k + 1));
    }
    const ratio = (testlen + tiny) / (reflen + small);
    if (ratio < 1) {
      const bp = Math.exp(1 - 1 / ratio);
      for (let k = 0; k < n; k++) perImage[k][img] *= bp;
    }
  }

  const corpus: number[] = [];
  let bleu = 1;
  for (let k = 0; k < n; k++) {
    bleu *= (totalCorrect[k] + tiny) / (totalGuess[k] + small);
    corpus.push(bleu ** (1 / (k + 1)));
  }
  const ratio = (totalTest + tiny) / (totalRef + small);
  if (ratio < 1) {
    const bp = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < n; k++) corpus[k] *= bp;
  }
  return { corpus, perImage };
}

// ---------------------------------------------------------------------------------------------
// CIDEr

/** pycocoevalcap `Cider().compute_score` (n = 4, sigma = 6 by default). */
export function cocoCider(prep: PreparedCorpus, sigma = 6.0): CorpusAndPerImage {
  const n = prep.maxOrder;
  const stride = n + 1;
  const { uniq, cnt, orderStart } = prep.ngrams;
  const N = prep.ngrams.numNgrams;
  const numImages = prep.numImages;
  // document frequency over the references of the evaluated images
  const df = new Int32Array(N);
  const dfStamp = new Int32Array(N);
  for (let img = 0; img < numImages; img++) {
    const s = img + 1;
    for (let c = prep.capBase[img] + 1, end = prep.capBase[img + 1]; c < end; c++) {
      for (let j = orderStart[c * stride], e = orderStart[c * stride + n]; j < e; j++) {
        const g = uniq[j];
        if (dfStamp[g] !== s) {
          dfStamp[g] = s;
          df[g]++;
        }
      }
    }
  }
  const refLen = Math.log(numImages);
  // tf-idf weight (ref_len - log(max(1, df))) of every n-gram, computed once
  const weight = new Float64Array(N);
  for (let g = 0; g < N; g++) weight[g] = df[g] > 1 ? refLen - Math.log(df[g]) : refLen;

  const refVal = new Float64Array(N);
  const refStamp = new Int32Array(N);
  let stamp = 0;
  const twoSigma2 = 2 * sigma ** 2;
  const hypVal = new Float64Array(64);
  let hv = hypVal;
  const hypNorm = new Float64Array(n);
  const refNorm = new Float64Array(n);
  const score = new Float64Array(n);
  const val = new Float64Array(n);
  const perImage = new Float64Array(numImages);

  for (let img = 0; img < numImages; img++) {
    const h = prep.capBase[img];
    const hBase = orderStart[h * stride];
    const hEnd = orderStart[h * stride + n];
    if (hv.length < hEnd - hBase) hv = new Float64Array((hEnd - hBase) * 2);
    // counts2vec(hyp); "length" counts bigrams (pycocoevalcap's `if n == 1` on the order index)
    let hypLength = 0;
    for (let k = 0; k < n; k++) {
      let nrm = 0;
      for (let j = orderStart[h * stride + k], e = orderStart[h * stride + k + 1]; j < e; j++) {
        const x = cnt[j] * weight[uniq[j]];
        hv[j - hBase] = x;
        nrm += x ** 2;
        if (k === 1) hypLength += cnt[j];
      }
      hypNorm[k] = Math.sqrt(nrm);
    }
    score.fill(0);
    const end = prep.capBase[img + 1];
    for (let c = h + 1; c < end; c++) {
      const rs = ++stamp;
      let refLength = 0;
      for (let k = 0; k < n; k++) {
        let nrm = 0;
        for (let j = orderStart[c * stride + k], e = orderStart[c * stride + k + 1]; j < e; j++) {
          const g = uniq[j];
          const x = cnt[j] * weight[g];
          refVal[g] = x;
          refStamp[g] = rs;
          nrm += x ** 2;
          if (k === 1) refLength += cnt[j];
        }
        refNorm[k] = Math.sqrt(nrm);
      }
      const delta = hypLength - refLength;
      const penalty = Math.E ** (-(delta ** 2) / twoSigma2);
      for (let k = 0; k < n; k++) {
        let x = 0;
        for (let j = orderStart[h * stride + k], e = orderStart[h * stride + k + 1]; j < e; j++) {
          const g = uniq[j];
          if (refStamp[g] === rs) {
            const r = refVal[g];
            const v = hv[j - hBase];
            x += (v < r ? v : r) * r;
          }
        }
        if (hypNorm[k] !== 0 && refNorm[k] !== 0) x /= hypNorm[k] * refNorm[k];
        val[k] = x * penalty;
      }
      for (let k = 0; k < n; k++) score[k] += val[k];
    }
    let mean = 0;
    for (let k = 0; k < n; k++) mean += score[k];
    mean /= n;
    mean /= end - h - 1;
    mean *= 10.0;
    perImage[img] = mean;
  }
  return { corpus: npMean(perImage), perImage };
}

// ---------------------------------------------------------------------------------------------
// ROUGE-L

/** pycocoevalcap `Rouge().compute_score`: ROUGE-L with beta = 1.2 on `split(" ")` tokens. */
export function cocoRouge(prep: PreparedCorpus, beta = 1.2): CorpusAndPerImage {
  const perImage = new Float64Array(prep.numImages);
  const beta2 = beta ** 2;
  let row = new Int32Array(64);
  const lcs = (a: Int32Array, b: Int32Array): number => {
    // my_lcs: `string` is the longer sequence, `sub` the shorter; only the length matters
    const long = a.length >= b.length ? a : b;
    const short = a.length >= b.length ? b : a;
    const m = short.length;
    if (m === 0) return 0;
    if (row.length < m + 1) row = new Int32Array(m + 1);
    row.fill(0, 0, m + 1);
    for (let i = 0; i < long.length; i++) {
      const x = long[i];
      let diag = 0; // lengths[i-1][j-1]
      let left = 0; // lengths[i][j-1]
      for (let j = 1; j <= m; j++) {
        const up = row[j]; // lengths[i-1][j]
        const v = x === short[j - 1] ? diag + 1 : up > left ? up : left;
        diag = up;
        row[j] = v;
        left = v;
      }
    }
    return row[m];
  };
  const { tokens, rougeStart, rougeLen } = prep;
  for (let img = 0; img < prep.numImages; img++) {
    const h = prep.capBase[img];
    const c = tokens.subarray(rougeStart[h], rougeStart[h] + rougeLen[h]);
    let precMax = -Infinity;
    let recMax = -Infinity;
    for (let k = h + 1, end = prep.capBase[img + 1]; k < end; k++) {
      const r = tokens.subarray(rougeStart[k], rougeStart[k] + rougeLen[k]);
      const l = lcs(r, c);
      const prec = l / c.length;
      const rec = l / r.length;
      if (prec > precMax) precMax = prec;
      if (rec > recMax) recMax = rec;
    }
    perImage[img] =
      precMax !== 0 && recMax !== 0 ? ((1 + beta2) * precMax * recMax) / (recMax + beta2 * precMax) : 0.0;
  }
  return { corpus: npMean(perImage), perImage };
}
