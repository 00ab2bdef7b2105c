/** Typed readers for the metrics fixtures (../shared/fixtures/metrics). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BleuResult } from '../../lib/metrics/evaluate.js';
import type { MeteorAlignment } from '../../lib/metrics/meteor.js';

export type CocoKey = 'Bleu_1' | 'Bleu_2' | 'Bleu_3' | 'Bleu_4' | 'ROUGE_L' | 'CIDEr';
export const COCO_KEYS: readonly CocoKey[] = ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr'];
export type RougeKey = 'rouge1' | 'rouge2' | 'rougeL' | 'rougeLsum';
export const ROUGE_KEYS: readonly RougeKey[] = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];

export interface PRF {
  precision: number;
  recall: number;
  fmeasure: number;
}

export interface HfExpected {
  bleu: BleuResult | { error: string };
  rouge: Record<RougeKey, number>;
  wer: number;
  rouge_per_image: Record<string, Record<RougeKey, PRF>>;
  wer_per_image: Record<string, { edits: number; ref_words: number }>;
}

export interface CaptionSet {
  name: string;
  image_ids: string[];
  refs: Record<string, string[]>;
  preds: Record<string, string>;
  tokenized: { refs: Record<string, string[]>; preds: Record<string, string> };
  expected: {
    coco: { corpus: Record<CocoKey, number>; per_image: Record<string, Record<CocoKey, number>> };
    hf_evaluate: HfExpected;
  };
}

export interface MeteorPerImage extends Omit<MeteorAlignment, 'score'> {
  wordnet30: number;
  per_ref_wordnet30: number[];
  best_ref: number;
}

export interface MeteorBlock {
  corpus: { wordnet30: number };
  per_image: Record<string, MeteorPerImage>;
  tokens: { refs: Record<string, string[][]>; preds: Record<string, string[]> };
}

export interface MeteorExpected extends MeteorBlock {
  edge_cases: Record<string, MeteorBlock>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

export function loadMain(fixtures: string): CaptionSet {
  return { name: 'captions_eval', ...readJson<Omit<CaptionSet, 'name'>>(join(fixtures, 'metrics', 'captions_eval.json')) };
}

export function loadEdgeCases(fixtures: string): CaptionSet[] {
  return readJson<{ cases: CaptionSet[] }>(join(fixtures, 'metrics', 'edge_cases.json')).cases;
}

export function loadMeteor(fixtures: string): MeteorExpected {
  return readJson<MeteorExpected>(join(fixtures, 'metrics', 'meteor_expected.json'));
}

export function loadCocoFormat(fixtures: string): { results: unknown; annotations: unknown } {
  return {
    results: readJson<unknown>(join(fixtures, 'metrics', 'coco_results.json')),
    annotations: readJson<unknown>(join(fixtures, 'metrics', 'coco_refs.json')),
  };
}

/** Lists in image_ids order. */
export function lists(set: Pick<CaptionSet, 'image_ids' | 'refs' | 'preds'>): { preds: string[]; refs: string[][] } {
  return { preds: set.image_ids.map((id) => set.preds[id]), refs: set.image_ids.map((id) => set.refs[id]) };
}
