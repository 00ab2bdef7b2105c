/**
 * Hugging Face `evaluate` flavours of BLEU, ROUGE and WER, with evaluate's argument and result names.
 *
 * - `bleu`: evaluate's "bleu" = tensorflow/nmt `compute_bleu` on sacrebleu 13a tokens.
 * - `rouge`: evaluate's "rouge" = Google's rouge_score (`score_multi` with several references). The
 *   aggregate is the **mean** of the per-example F-measures; evaluate's default `use_aggregator=True`
 *   reports a bootstrap median instead (random resampling, ~1e-3 away from the mean).
 * - `wer`: evaluate's "wer" = jiwer, Σ(S+D+I) / Σ(S+D+H).
 */
import { describe, InvalidArgumentError } from '../errors.js';
import { alignCaptions } from './inputs.js';
import { collectNgrams, IntList, Vocab } from './ngrams.js';
import { npMean, pyCollapseMultipleSpaces, pyStrip } from './pytext.js';
import { rougeTokenize, tokenize13a } from './tokenizers.js';

/** Predictions and references as evaluate takes them, or in any format `scoreCaptions` accepts. */
export type HfPredictions = readonly string[] | Readonly<Record<string, string>> | ReadonlyArray<{ image_id: string | number; caption: string }>;
export type HfReferences =
  | readonly (string | readonly string[])[]
  | Readonly<Record<string, string | readonly string[]>>
  | { annotations: ReadonlyArray<{ image_id: string | number; caption: string }> };

/** Align inputs: evaluate's parallel lists, or any keyed format (aligned by image id). */
export function alignHf(predictions: unknown, references: unknown): { predictions: string[]; references: string[][] } {
  const out = alignHfInner(predictions, references);
  if (out.predictions.length === 0) {
    throw new InvalidArgumentError('Expected at least one prediction for predictions but received none');
  }
  return out;
}

function alignHfInner(predictions: unknown, references: unknown): { predictions: string[]; references: string[][] } {
  if (Array.isArray(predictions) && predictions.every((p) => typeof p === 'string') && Array.isArray(references)) {
    if (predictions.length !== references.length) {
      throw new InvalidArgumentError(
        `Expected ${predictions.length} references (one entry per prediction) for references but received array of length ${references.length}`,
      );
    }
    const refs = references.map((r: unknown, i: number) => {
      if (typeof r === 'string') return [r];
      if (Array.isArray(r) && r.every((x) => typeof x === 'string')) return r as string[];
      throw new InvalidArgumentError(`Expected a string or a list of strings for references[${i}] but received ${describe(r)}`);
    });
    return { predictions: predictions as string[], references: refs };
  }
  const a = alignCaptions(predictions, references);
  return { predictions: a.predictions, references: a.references };
}

// ---------------------------------------------------------------------------------------------
// BLEU

export interface BleuOptions {
  /** Tokenizer applied to predictions and references (default: sacrebleu 13a). */
  tokenizer?: (text: string) => string[];
  /** Maximum n-gram order (default 4). */
  max_order?: number;
  /** Add-one smoothing as in nmt's compute_bleu (default false). */
  smooth?: boolean;
}

export interface BleuResult {
  bleu: number;
  precisions: number[];
  brevity_penalty: number;
  length_ratio: number;
  translation_length: number;
  reference_length: number;
}

/** evaluate's `bleu.compute(predictions, references)`. */
export function bleu(predictions: HfPredictions, references: HfReferences, options: BleuOptions = {}): BleuResult {
  const maxOrder = options.max_order ?? 4;
  if (!Number.isInteger(maxOrder) || maxOrder < 1) {
    throw new InvalidArgumentError(`Expected a positive integer for max_order but received ${describe(maxOrder)}`);
  }
  const tokenizer = options.tokenizer ?? tokenize13a;
  const smooth = options.smooth ?? false;
  const { predictions: preds, references: refs } = alignHf(predictions, references);
  // captions laid out per example: prediction, then its references
  const vocab = new Vocab();
  const flat = new IntList();
  const starts = new IntList();
  const lens = new IntList();
  const base: number[] = [];
  const add = (text: string): void => {
    const toks = tokenizer(text);
    starts.push(flat.length);
    lens.push(toks.length);
    for (const t of toks) flat.push(vocab.id(t));
  };
  preds.forEach((pred, i) => {
    base.push(starts.length);
    add(pred);
    for (const r of refs[i]) add(r);
  });
  base.push(starts.length);
  const g = collectNgrams(flat.trimmed(), starts.trimmed(), lens.trimmed(), vocab.size, maxOrder);
  const stride = maxOrder + 1;
  const merged = new Int32Array(g.numNgrams);
  const mergedStamp = new Int32Array(g.numNgrams);
  const matches = new Array<number>(maxOrder).fill(0);
  const possible = new Array<number>(maxOrder).fill(0);
  let referenceLength = 0;
  let translationLength = 0;
  for (let i = 0; i < preds.length; i++) {
    const s = i + 1;
    const h = base[i];
    let shortest = Infinity;
    for (let c = h + 1; c < base[i + 1]; c++) {
      shortest = Math.min(shortest, g.length[c]);
      for (let j = g.orderStart[c * stride], e = g.orderStart[c * stride + maxOrder]; j < e; j++) {
        const id = g.uniq[j];
        if (mergedStamp[id] !== s) {
          mergedStamp[id] = s;
          merged[id] = g.cnt[j];
        } else if (g.cnt[j] > merged[id]) {
          merged[id] = g.cnt[j];
        }
      }
    }
    referenceLength += shortest;
    const len = g.length[h];
    translationLength += len;
    for (let k = 0; k < maxOrder; k++) {
      for (let j = g.orderStart[h * stride + k], e = g.orderStart[h * stride + k + 1]; j < e; j++) {
        const id = g.uniq[j];
        if (mergedStamp[id] === s) matches[k] += Math.min(g.cnt[j], merged[id]);
      }
      const p = len - k;
      if (p > 0) possible[k] += p;
    }
  }
  const precisions = new Array<number>(maxOrder).fill(0);
  for (let i = 0; i < maxOrder; i++) {
    if (smooth) precisions[i] = (matches[i] + 1) / (possible[i] + 1);
    else precisions[i] = possible[i] > 0 ? matches[i] / possible[i] : 0.0;
  }
  let geoMean = 0;
  if (Math.min(...precisions) > 0) {
    let pLogSum = 0;
    for (const p of precisions) pLogSum += (1 / maxOrder) * Math.log(p);
    geoMean = Math.exp(pLogSum);
  }
  if (referenceLength === 0 || translationLength === 0) {
    // evaluate raises ZeroDivisionError here (ratio = 0 / 0 or exp(1 - 1 / 0))
    throw new InvalidArgumentError(
      `Expected at least one token in the predictions and in the references for bleu but received translation_length ${translationLength} and reference_length ${referenceLength} (BLEU is undefined; Hugging Face evaluate raises ZeroDivisionError)`,
    );
  }
  const ratio = translationLength / referenceLength;
  const bp = ratio > 1.0 ? 1.0 : Math.exp(1 - 1 / ratio);
  return {
    bleu: geoMean * bp,
    precisions,
    brevity_penalty: bp,
    length_ratio: ratio,
    translation_length: translationLength,
    reference_length: referenceLength,
  };
}

// ---------------------------------------------------------------------------------------------
// ROUGE

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export type RougeType = 'rouge1' | 'rouge2' | 'rougeL' | 'rougeLsum' | `rouge${number}`;

export interface RougeOptions {
  /** Default ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']. */
  rouge_types?: readonly RougeType[];
  /** Porter-stem tokens longer than 3 characters (rouge_score's stemmer, NLTK PorterStemmer). */
  use_stemmer?: boolean;
  /**
   * true (default): one number per type, the mean of the per-example F-measures (evaluate reports a
   * bootstrap median here; see docs/metrics.md). false: the per-example F-measures, as evaluate does.
   */
  use_aggregator?: boolean;
  /** Custom tokenizer (then `use_stemmer` is ignored, as in rouge_score). */
  tokenizer?: (text: string) => string[];
}

const ZERO: RougeScore = { precision: 0, recall: 0, fmeasure: 0 };

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0.0;
}

function ngramCounts(tokens: readonly string[], n: number, ids: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  const seq = tokens.map((t) => {
    let id = ids.get(t);
    if (id === undefined) {
      id = ids.size;
      ids.set(t, id);
    }
    return id;
  });
  for (let i = 0; i + n <= seq.length; i++) {
    const key = n === 1 ? String(seq[i]) : seq.slice(i, i + n).join(',');
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

function scoreNgrams(target: Map<string, number>, prediction: Map<string, number>): RougeScore {
  let inter = 0;
  let targetCount = 0;
  let predCount = 0;
  for (const [g, c] of target) {
    inter += Math.min(c, prediction.get(g) ?? 0);
    targetCount += c;
  }
  for (const c of prediction.values()) predCount += c;
  const precision = inter / Math.max(predCount, 1);
  const recall = inter / Math.max(targetCount, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array[] {
  const t: Int32Array[] = [];
  for (let i = 0; i <= ref.length; i++) t.push(new Int32Array(can.length + 1));
  for (let i = 1; i <= ref.length; i++) {
    const row = t[i];
    const prev = t[i - 1];
    for (let j = 1; j <= can.length; j++) {
      row[j] = ref[i - 1] === can[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], row[j - 1]);
    }
  }
  return t;
}

function scoreLcs(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return ZERO;
  const l = lcsTable(target, prediction)[target.length][prediction.length];
  const precision = l / prediction.length;
  const recall = l / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Indices into `ref` of one LCS with `can` (rouge_score `_backtrack_norec`). */
function lcsIndices(ref: readonly string[], can: readonly string[]): number[] {
  const t = lcsTable(ref, can);
  let i = ref.length;
  let j = can.length;
  const out: number[] = [];
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.unshift(i - 1);
      i--;
      j--;
    } else if (t[i][j - 1] > t[i - 1][j]) {
      j--;
    } else {
      i--;
    }
  }
  return out;
}

function scoreSummaryLcs(refSents: string[][], canSents: string[][]): RougeScore {
  if (refSents.length === 0 || canSents.length === 0) return ZERO;
  const m = refSents.reduce((a, s) => a + s.length, 0);
  const n = canSents.reduce((a, s) => a + s.length, 0);
  if (n === 0 || m === 0) return ZERO;
  const cntR = new Map<string, number>();
  const cntC = new Map<string, number>();
  for (const s of refSents) for (const t of s) cntR.set(t, (cntR.get(t) ?? 0) + 1);
  for (const s of canSents) for (const t of s) cntC.set(t, (cntC.get(t) ?? 0) + 1);
  let hits = 0;
  for (const r of refSents) {
    const union = new Set<number>();
    for (const c of canSents) for (const idx of lcsIndices(r, c)) union.add(idx);
    for (const idx of [...union].sort((a, b) => a - b)) {
      const t = r[idx];
      const cc = cntC.get(t) ?? 0;
      const cr = cntR.get(t) ?? 0;
      if (cc > 0 && cr > 0) {
        hits++;
        cntC.set(t, cc - 1);
        cntR.set(t, cr - 1);
      }
    }
  }
  const recall = hits / m;
  const precision = hits / n;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

function checkRougeTypes(types: readonly string[]): void {
  for (const t of types) {
    if (t === 'rougeL' || t === 'rougeLsum') continue;
    const m = /^rouge([0-9])$/.exec(t);
    if (m === null || Number(m[1]) <= 0) {
      throw new InvalidArgumentError(`Expected rouge1..rouge9, rougeL or rougeLsum for rouge_types but received ${describe(t)}`);
    }
  }
}

/**
 * rouge_score `RougeScorer.score_multi` for one prediction (`score` with one reference): for each
 * type, the scores against the reference with the highest F-measure (first one on ties).
 */
export function rougeScore(
  prediction: string,
  references: string | readonly string[],
  options: Omit<RougeOptions, 'use_aggregator'> = {},
): Record<string, RougeScore> {
  const types = options.rouge_types ?? ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];
  checkRougeTypes(types);
  const tokenize = options.tokenizer ?? ((s: string) => rougeTokenize(s, options.use_stemmer ?? false));
  const refs = typeof references === 'string' ? [references] : references;
  if (refs.length === 0) throw new InvalidArgumentError('Expected at least one reference for rouge references but received an empty list');
  const predTokens = tokenize(prediction);
  const sents = (s: string): string[][] => s.split('\n').filter((x) => x.length > 0).map(tokenize);
  const predSents = types.includes('rougeLsum') ? sents(prediction) : [];
  const best: Record<string, RougeScore> = {};
  const ids = new Map<string, number>();
  for (const ref of refs) {
    const refTokens = tokenize(ref);
    const refSents = types.includes('rougeLsum') ? sents(ref) : [];
    for (const type of types) {
      let s: RougeScore;
      if (type === 'rougeL') s = scoreLcs(refTokens, predTokens);
      else if (type === 'rougeLsum') s = scoreSummaryLcs(refSents, predSents);
      else {
        const n = Number(type.slice(5));
        s = scoreNgrams(ngramCounts(refTokens, n, ids), ngramCounts(predTokens, n, ids));
      }
      if (best[type] === undefined || s.fmeasure > best[type].fmeasure) best[type] = s;
    }
  }
  return best;
}

/**
 * evaluate's `rouge.compute(predictions, references)`. With the default `use_aggregator: true` each
 * type is the mean of the per-example F-measures (deterministic; evaluate bootstraps a median).
 */
export function rouge(predictions: HfPredictions, references: HfReferences, options: RougeOptions & { use_aggregator: false }): Record<string, number[]>;
export function rouge(predictions: HfPredictions, references: HfReferences, options?: RougeOptions): Record<string, number>;
export function rouge(
  predictions: HfPredictions,
  references: HfReferences,
  options: RougeOptions = {},
): Record<string, number> | Record<string, number[]> {
  const types = options.rouge_types ?? ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];
  const { predictions: preds, references: refs } = alignHf(predictions, references);
  const per: Record<string, number[]> = {};
  for (const t of types) per[t] = [];
  preds.forEach((p, i) => {
    const s = rougeScore(p, refs[i], options);
    for (const t of types) per[t].push(s[t].fmeasure);
  });
  if (options.use_aggregator === false) return per;
  const out: Record<string, number> = {};
  for (const t of types) out[t] = npMean(per[t]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// WER

/** jiwer's default word transform: collapse whitespace runs, strip, split on single spaces. */
export function werWords(text: string): string[] {
  return pyStrip(pyCollapseMultipleSpaces(text))
    .split(' ')
    .filter((w) => w.length > 0);
}

/** Word-level Levenshtein distance (substitutions + deletions + insertions). */
export function editDistance(ref: readonly string[], hyp: readonly string[]): number {
  const m = hyp.length;
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= ref.length; i++) {
    cur[0] = i;
    const r = ref[i - 1];
    for (let j = 1; j <= m; j++) {
      const sub = prev[j - 1] + (r === hyp[j - 1] ? 0 : 1);
      const del = prev[j] + 1;
      const ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
    [prev, cur] = [cur, prev];
  }
  return prev[m];
}

export interface WerOptions {
  /** Score all texts as one (evaluate's `concatenate_texts`); same value here. */
  concatenate_texts?: boolean;
}

/** Per-example WER counts: `edits` = S + D + I, `ref_words` = S + D + H. */
export function werCounts(prediction: string, reference: string): { edits: number; ref_words: number } {
  const r = werWords(reference);
  if (r.length === 0) {
    throw new InvalidArgumentError(
      `Expected a non-empty reference for wer but received ${describe(reference)} (jiwer rejects empty references)`,
    );
  }
  return { edits: editDistance(r, werWords(prediction)), ref_words: r.length };
}

/**
 * evaluate's `wer.compute(predictions, references)`: Σ(S+D+I) / Σ(S+D+H). With several references per
 * prediction the first one is used.
 */
export function wer(predictions: HfPredictions, references: HfReferences, _options: WerOptions = {}): number {
  const { predictions: preds, references: refs } = alignHf(predictions, references);
  let incorrect = 0;
  let total = 0;
  preds.forEach((p, i) => {
    const c = werCounts(p, refs[i][0]);
    incorrect += c.edits;
    total += c.ref_words;
  });
  if (total === 0) {
    throw new InvalidArgumentError('Expected at least one prediction for wer but received none');
  }
  return incorrect / total;
}
