import { describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { cocoTokenize, scoreCaptions, type CocoScores } from '../../lib/metrics/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { COCO_KEYS, loadCocoFormat, loadEdgeCases, loadMain, type CaptionSet } from './load.js';

const TOL = 1e-6; // README: BLEU-1..4, ROUGE_L and CIDEr within an absolute 1e-6, per image and corpus
const NO_METEOR = { metrics: ['Bleu', 'ROUGE_L', 'CIDEr'] as const };

/** Largest absolute difference from the expected corpus and per-image values. */
function maxError(scores: CocoScores<'Bleu' | 'ROUGE_L' | 'CIDEr'>, set: CaptionSet): number {
  const exp = set.expected.coco;
  let err = 0;
  for (const k of COCO_KEYS) {
    err = Math.max(err, Math.abs(scores[k] - exp.corpus[k]));
    for (const id of set.image_ids) {
      const got = scores.perImage?.[id]?.[k];
      expect(got, `${set.name} ${id} ${k}`).toBeTypeOf('number');
      err = Math.max(err, Math.abs((got as number) - exp.per_image[id][k]));
    }
  }
  return err;
}

describeWithFixtures('COCO metrics vs pycocoevalcap (fixtures/metrics)', (fixtures) => {
  const main = loadMain(fixtures);
  const edges = loadEdgeCases(fixtures);

  it('tokenizes every caption exactly like the fixture `tokenized` strings', () => {
    for (const set of [main, ...edges]) {
      for (const id of set.image_ids) {
        expect(cocoTokenize(set.refs[id]), `${set.name} refs ${id}`).toEqual(set.tokenized.refs[id]);
        expect(cocoTokenize(set.preds[id]), `${set.name} pred ${id}`).toBe(set.tokenized.preds[id]);
      }
    }
  });

  it('scores the tokenized captions within 1e-6 (corpus and per image)', () => {
    const s = scoreCaptions(main.tokenized.preds, main.tokenized.refs, { ...NO_METEOR, perImage: true, tokenize: false });
    expect(maxError(s, main)).toBeLessThan(TOL);
  });

  it('scores the raw captions (own PTB tokenizer) within 1e-6', () => {
    const s = scoreCaptions(main.preds, main.refs, { ...NO_METEOR, perImage: true });
    expect(maxError(s, main)).toBeLessThan(TOL);
    expect(s.Bleu_4).toBeCloseTo(0.741085628070101, 12);
    expect(s.CIDEr).toBeCloseTo(4.166548844499315, 12);
  });

  it('reads the COCO results and annotations files', () => {
    const { results, annotations } = loadCocoFormat(fixtures);
    const s = scoreCaptions(results as never, annotations as never, { ...NO_METEOR, perImage: true });
    expect(maxError(s, main)).toBeLessThan(TOL);
    expect(Object.keys(s.perImage ?? {}).sort()).toEqual([...main.image_ids].sort());
  });

  it('accepts aligned lists (ids are positions)', () => {
    const preds = main.image_ids.map((id) => main.preds[id]);
    const refs = main.image_ids.map((id) => main.refs[id]);
    const s = scoreCaptions(preds, refs, NO_METEOR);
    for (const k of COCO_KEYS) expect(Math.abs(s[k] - main.expected.coco.corpus[k])).toBeLessThan(TOL);
  });

  for (const set of edges) {
    it(`edge case ${set.name}`, () => {
      const s = scoreCaptions(set.preds, set.refs, { ...NO_METEOR, perImage: true });
      expect(maxError(s, set)).toBeLessThan(TOL);
      if (set.name === 'all_empty') for (const k of COCO_KEYS) expect(s[k]).toBe(0);
      if (set.name === 'single_image') expect(s.CIDEr).toBe(0);
      if (set.name === 'all_perfect') {
        expect(s.ROUGE_L).toBe(1);
        expect(s.CIDEr).toBeCloseTo(3.1025471491194225, 10);
      }
    });
  }

  it('returns the keys in COCOEvalCap order and leaves METEOR out without a jar', () => {
    const s = scoreCaptions(main.preds, main.refs, NO_METEOR);
    expect(Object.keys(s)).toEqual(['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr']);
    const only = scoreCaptions(main.preds, main.refs, { metrics: ['CIDEr'] });
    expect(Object.keys(only)).toEqual(['CIDEr']);
    expect(only.CIDEr).toBe(s.CIDEr);
  });
});

describe('scoreCaptions inputs', () => {
  const refs = { a: ['a dog runs on the grass', 'a brown dog running'], b: ['two cats sleep on a bed'] };

  it('accepts {id: caption}, {id: [caption]}, COCO results and Maps alike', () => {
    const base = scoreCaptions({ a: 'a dog runs', b: 'two cats on a bed' }, refs, NO_METEOR);
    const one = scoreCaptions({ a: ['a dog runs'], b: ['two cats on a bed'] }, refs, NO_METEOR);
    const coco = scoreCaptions(
      [
        { image_id: 'a', caption: 'a dog runs' },
        { image_id: 'b', caption: 'two cats on a bed' },
      ],
      { annotations: Object.entries(refs).flatMap(([id, rs]) => rs.map((caption) => ({ image_id: id, caption }))) },
      NO_METEOR,
    );
    const map = scoreCaptions(new Map([['a', 'a dog runs'], ['b', 'two cats on a bed']]), new Map(Object.entries(refs)), NO_METEOR);
    expect(one).toEqual(base);
    expect(coco).toEqual(base);
    expect(map).toEqual(base);
  });

  it('matches numeric COCO image ids with string map keys', () => {
    const s = scoreCaptions([{ image_id: 7, caption: 'a dog' }], { '7': ['a dog'] }, { ...NO_METEOR, perImage: true });
    expect(Object.keys(s.perImage ?? {})).toEqual(['7']);
  });

  it('ignores references of images that have no prediction (COCO evaluates the results file)', () => {
    const s = scoreCaptions({ a: 'a dog runs' }, { ...refs, c: ['something else'] }, { ...NO_METEOR, perImage: true });
    expect(Object.keys(s.perImage ?? {})).toEqual(['a']);
  });

  it('rejects bad inputs with InvalidArgumentError and a readable message', () => {
    expect(() => scoreCaptions({ x: 'a dog' }, refs, NO_METEOR)).toThrow(/image_id x/);
    expect(() => scoreCaptions({ x: 'a dog' }, refs, NO_METEOR)).toThrow(InvalidArgumentError);
    expect(() =>
      scoreCaptions(
        [
          { image_id: 'a', caption: 'one' },
          { image_id: 'a', caption: 'two' },
        ],
        refs,
        NO_METEOR,
      ),
    ).toThrow(/one prediction per image/);
    expect(() => scoreCaptions({ a: 'x' }, { a: [] }, NO_METEOR)).toThrow(/at least one reference/);
    expect(() => scoreCaptions(['a', 'b'], [['a']], NO_METEOR)).toThrow(/2 reference lists/);
    expect(() => scoreCaptions({}, refs, NO_METEOR)).toThrow(/at least one prediction/);
    expect(() => scoreCaptions({ a: 3 } as never, refs, NO_METEOR)).toThrow(/Expected a caption string/);
    expect(() => scoreCaptions({ a: 'x' }, refs, { metrics: ['SPICE' as never] })).toThrow(/options.metrics/);
    expect(() => scoreCaptions('a dog' as never, refs, NO_METEOR)).toThrow(InvalidArgumentError);
  });
});
