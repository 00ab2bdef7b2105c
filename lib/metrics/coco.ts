/**
 * The COCO caption scorers of pycocoevalcap 1.2, on COCO-tokenized captions:
 * - Bleu(4), "closest" reference length, with its tiny/small smoothing constants;
 * - Rouge (ROUGE-L, beta 1.2, max precision and max recall over the references);
 * - Cider (pycocoevalcap's `Cider` scorer: n = 1..4, sigma = 6, tf-idf vectors with the document
 *   frequencies of the evaluated references, clipped similarity min(hyp, ref) * ref and the gaussian
 *   length penalty, i.e. the CIDEr-D form, times 10).
 * Each function reproduces the Python arithmetic in the same order, so values agree to ~1e-15.
 */
import { NgramTable, Vocab, type CaptionGrams } from './ngrams.js';
import { npMean, pySplit } from './pytext.js';

/** One image for the COCO scorers: its (tokenized) prediction and references. */
export interface CocoImage {
  hyp: string;
  refs: readonly string[];
}

export interface CorpusAndPerImage {
  corpus: number;
  perImage: Float64Array;
}

/** Prepared n-grams of every caption (Python `str.split()` tokens), shared by BLEU and CIDEr. */
export interface PreparedCorpus {
  hyps: CaptionGrams[];
  refs: CaptionGrams[][];
  numNgrams: number;
  maxOrder: number;
}

export function prepareNgrams(images: readonly CocoImage[], maxOrder = 4): PreparedCorpus {
  const vocab = new Vocab();
  const table = new NgramTable(maxOrder);
  const hyps: CaptionGrams[] = [];
  const refs: CaptionGrams[][] = [];
  for (const img of images) {
    hyps.push(table.grams(vocab.encode(pySplit(img.hyp))));
    refs.push(img.refs.map((r) => table.grams(vocab.encode(pySplit(r)))));
  }
  return { hyps, refs, numNgrams: table.size, maxOrder };
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
  const N = prep.numNgrams;
  const cnt = new Int32Array(N);
  const cntStamp = new Int32Array(N);
  const maxc = new Int32Array(N);
  const maxStamp = new Int32Array(N);
  let stamp = 0;
  const numImages = prep.hyps.length;
  const perImage: Float64Array[] = [];
  for (let k = 0; k < n; k++) perImage.push(new Float64Array(numImages));
  const totalGuess = new Float64Array(n);
  const totalCorrect = new Float64Array(n);
  let totalTest = 0;
  let totalRef = 0;
  const correct = new Float64Array(n);
  const guess = new Float64Array(n);

  for (let img = 0; img < numImages; img++) {
    const imgStamp = ++stamp;
    const refLens: number[] = [];
    for (const ref of prep.refs[img]) {
      refLens.push(ref.length);
      const rs = ++stamp;
      for (let k = 0; k < n; k++) {
        const ids = ref.byOrder[k];
        for (let i = 0; i < ids.length; i++) {
          const g = ids[i];
          if (cntStamp[g] !== rs) {
            cntStamp[g] = rs;
            cnt[g] = 0;
          }
          cnt[g]++;
        }
      }
      for (let k = 0; k < n; k++) {
        const ids = ref.byOrder[k];
        for (let i = 0; i < ids.length; i++) {
          const g = ids[i];
          if (maxStamp[g] !== imgStamp) {
            maxStamp[g] = imgStamp;
            maxc[g] = cnt[g];
          } else if (cnt[g] > maxc[g]) {
            maxc[g] = cnt[g];
          }
        }
      }
    }
    const hyp = prep.hyps[img];
    const testlen = hyp.length;
    const hs = ++stamp;
    for (let k = 0; k < n; k++) {
      const ids = hyp.byOrder[k];
      for (let i = 0; i < ids.length; i++) {
        const g = ids[i];
        if (cntStamp[g] !== hs) {
          cntStamp[g] = hs;
          cnt[g] = 0;
        }
        cnt[g]++;
      }
    }
    const seen = ++stamp;
    for (let k = 0; k < n; k++) {
      const ids = hyp.byOrder[k];
      let c = 0;
      for (let i = 0; i < ids.length; i++) {
        const g = ids[i];
        if (cntStamp[g] === seen) continue; // counted already (cntStamp reused as "seen" marker)
        const ref = maxStamp[g] === imgStamp ? maxc[g] : 0;
        c += Math.min(ref, cnt[g]);
        cntStamp[g] = seen;
      }
      correct[k] = c;
      guess[k] = Math.max(0, testlen - k);
    }
    // "closest" reference length: min over (|l - testlen|, l)
    let reflen = refLens[0];
    for (let r = 1; r < refLens.length; r++) {
      const l = refLens[r];
      const d = Math.abs(l - testlen);
      const bd = Math.abs(reflen - testlen);
      if (d < bd || (d === bd && l < reflen)) reflen = l;
    }
    totalTest += testlen;
    totalRef += reflen;
    let bleu = 1;
    for (let k = 0; k < n; k++) {
      totalGuess[k] += guess[k];
      totalCorrect[k] += correct[k];
      bleu *= (correct[k] + tiny) / (guess[k] + small);
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
  const N = prep.numNgrams;
  const numImages = prep.hyps.length;
  // document frequency over the references of the evaluated images
  const df = new Float64Array(N);
  const dfStamp = new Int32Array(N);
  for (let img = 0; img < numImages; img++) {
    const s = img + 1;
    for (const ref of prep.refs[img]) {
      for (let k = 0; k < n; k++) {
        const ids = ref.byOrder[k];
        for (let i = 0; i < ids.length; i++) {
          const g = ids[i];
          if (dfStamp[g] !== s) {
            dfStamp[g] = s;
            df[g]++;
          }
        }
      }
    }
  }
  const refLen = Math.log(numImages);
  // idf part (ref_len - log(max(1, df))) per n-gram, computed once
  const weight = new Float64Array(N);
  for (let g = 0; g < N; g++) weight[g] = refLen - Math.log(Math.max(1, df[g]));

  const tf = new Float64Array(N);
  const tfStamp = new Int32Array(N);
  const refVal = new Float64Array(N);
  const refStamp = new Int32Array(N);
  let stamp = 0;
  const twoSigma2 = 2 * sigma ** 2;

  // distinct n-grams of a caption in first-occurrence order, with their tf-idf values
  const distinct: number[][] = [];
  const values: number[][] = [];
  for (let k = 0; k < n; k++) {
    distinct.push([]);
    values.push([]);
  }
  const norm = new Float64Array(n);

  /** counts2vec: fills distinct/values/norm; returns the "length" (the number of bigrams, as in pycocoevalcap). */
  const vec = (cap: CaptionGrams): number => {
    const s = ++stamp;
    let length = 0;
    for (let k = 0; k < n; k++) {
      const d = distinct[k];
      d.length = 0;
      const ids = cap.byOrder[k];
      for (let i = 0; i < ids.length; i++) {
        const g = ids[i];
        if (tfStamp[g] !== s) {
          tfStamp[g] = s;
          tf[g] = 0;
          d.push(g);
        }
        tf[g]++;
      }
      const v = values[k];
      v.length = d.length;
      let nrm = 0;
      for (let j = 0; j < d.length; j++) {
        const g = d[j];
        const x = tf[g] * weight[g];
        v[j] = x;
        nrm += x ** 2;
        if (k === 1) length += tf[g];
      }
      norm[k] = Math.sqrt(nrm);
    }
    return length;
  };

  const perImage = new Float64Array(numImages);
  const hypDistinct: Int32Array[] = [];
  const hypValues: Float64Array[] = [];
  const hypNorm = new Float64Array(n);
  const score = new Float64Array(n);
  const val = new Float64Array(n);
  for (let img = 0; img < numImages; img++) {
    const hypLength = vec(prep.hyps[img]);
    for (let k = 0; k < n; k++) {
      hypDistinct[k] = Int32Array.from(distinct[k]);
      hypValues[k] = Float64Array.from(values[k]);
      hypNorm[k] = norm[k];
    }
    score.fill(0);
    const refs = prep.refs[img];
    for (const ref of refs) {
      const refLength = vec(ref);
      const rs = ++stamp;
      for (let k = 0; k < n; k++) {
        const d = distinct[k];
        const v = values[k];
        for (let j = 0; j < d.length; j++) {
          refVal[d[j]] = v[j];
          refStamp[d[j]] = rs;
        }
      }
      const delta = hypLength - refLength;
      const penalty = Math.E ** (-(delta ** 2) / twoSigma2);
      for (let k = 0; k < n; k++) {
        const hd = hypDistinct[k];
        const hv = hypValues[k];
        let x = 0;
        for (let j = 0; j < hd.length; j++) {
          const g = hd[j];
          const r = refStamp[g] === rs ? refVal[g] : 0;
          x += Math.min(hv[j], r) * r;
        }
        if (hypNorm[k] !== 0 && norm[k] !== 0) x /= hypNorm[k] * norm[k];
        val[k] = x * penalty;
      }
      for (let k = 0; k < n; k++) score[k] += val[k];
    }
    let mean = 0;
    for (let k = 0; k < n; k++) mean += score[k];
    mean /= n;
    mean /= refs.length;
    mean *= 10.0;
    perImage[img] = mean;
  }
  return { corpus: npMean(perImage), perImage };
}

// ---------------------------------------------------------------------------------------------
// ROUGE-L

/** pycocoevalcap `Rouge().compute_score`: ROUGE-L with beta = 1.2 on `split(" ")` tokens. */
export function cocoRouge(images: readonly CocoImage[], beta = 1.2): CorpusAndPerImage {
  const vocab = new Vocab();
  const perImage = new Float64Array(images.length);
  const beta2 = beta ** 2;
  let row = new Int32Array(64);
  const lcs = (a: Int32Array, b: Int32Array): number => {
    // my_lcs: `string` is the longer sequence, `sub` the shorter; only the length matters
    const [long, short] = a.length >= b.length ? [a, b] : [b, a];
    const m = short.length;
    if (m === 0) return 0;
    if (row.length < m + 1) row = new Int32Array(m + 1);
    row.fill(0, 0, m + 1);
    for (let i = 0; i < long.length; i++) {
      const x = long[i];
      let diag = 0; // lengths[i-1][j-1]
      for (let j = 1; j <= m; j++) {
        const up = row[j]; // lengths[i-1][j]
        const v = x === short[j - 1] ? diag + 1 : up > row[j - 1] ? up : row[j - 1];
        diag = up;
        row[j] = v;
      }
    }
    return row[m];
  };
  for (let img = 0; img < images.length; img++) {
    const { hyp, refs } = images[img];
    const c = vocab.encode(hyp.split(' '));
    let precMax = -Infinity;
    let recMax = -Infinity;
    for (const ref of refs) {
      const r = vocab.encode(ref.split(' '));
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
