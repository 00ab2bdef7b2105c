/** Small helpers shared by the metrics tests. */
import { bleu, wer } from '../../lib/metrics/index.js';
import { lists, type CaptionSet } from './load.js';

/** Corpus HF bleu and wer of a caption set. */
export function metricsOf(set: CaptionSet): { bleu: number; wer: number } {
  const { preds, refs } = lists(set);
  return { bleu: bleu(preds, refs).bleu, wer: wer(preds, refs) };
}

/** Deterministic pseudo-random generator (LCG), for shuffles in tests. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
