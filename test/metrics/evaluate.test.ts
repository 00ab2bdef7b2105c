import { describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { metricsOf } from './util.js';
import { bleu, rouge, rougeScore, tokenize13a, wer, werCounts } from '../../lib/metrics/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { loadEdgeCases, loadMain, lists, ROUGE_KEYS, type CaptionSet } from './load.js';

const TOL = 1e-9; // README: all HF flavours within an absolute 1e-9; lengths and edit counts exact

function checkSet(set: CaptionSet): void {
  const { preds, refs } = lists(set);
  const exp = set.expected.hf_evaluate;
  if ('error' in exp.bleu) {
    expect(() => bleu(preds, refs)).toThrow(InvalidArgumentError);
    expect(() => bleu(preds, refs)).toThrow(/ZeroDivisionError/);
  } else {
    const b = bleu(preds, refs);
    expect(Math.abs(b.bleu - exp.bleu.bleu)).toBeLessThan(TOL);
    b.precisions.forEach((p, k) => expect(Math.abs(p - (exp.bleu as { precisions: number[] }).precisions[k])).toBeLessThan(TOL));
    expect(Math.abs(b.brevity_penalty - exp.bleu.brevity_penalty)).toBeLessThan(TOL);
    expect(Math.abs(b.length_ratio - exp.bleu.length_ratio)).toBeLessThan(TOL);
    expect(b.translation_length).toBe(exp.bleu.translation_length);
    expect(b.reference_length).toBe(exp.bleu.reference_length);
  }
  const r = rouge(preds, refs);
  for (const k of ROUGE_KEYS) expect(Math.abs(r[k] - exp.rouge[k]), k).toBeLessThan(TOL);
  const perExample = rouge(preds, refs, { use_aggregator: false });
  set.image_ids.forEach((id, i) => {
    const s = rougeScore(set.preds[id], set.refs[id]);
    for (const k of ROUGE_KEYS) {
      const e = exp.rouge_per_image[id][k];
      expect(Math.abs(s[k].precision - e.precision), `${id} ${k} P`).toBeLessThan(TOL);
      expect(Math.abs(s[k].recall - e.recall), `${id} ${k} R`).toBeLessThan(TOL);
      expect(Math.abs(s[k].fmeasure - e.fmeasure), `${id} ${k} F`).toBeLessThan(TOL);
      expect(perExample[k][i]).toBe(s[k].fmeasure);
    }
    expect(werCounts(set.preds[id], set.refs[id][0])).toEqual(exp.wer_per_image[id]);
  });
  expect(Math.abs(wer(preds, refs) - exp.wer)).toBeLessThan(TOL);
}

describeWithFixtures('HF evaluate flavours vs evaluate (fixtures/metrics)', (fixtures) => {
  const main = loadMain(fixtures);
  it('bleu, rouge and wer on captions_eval', () => {
    checkSet(main);
    const m = metricsOf(main);
    expect(m.bleu).toBeCloseTo(0.6607505021932647, 12);
    expect(m.wer).toBeCloseTo(0.6668120366332315, 12);
  });
  for (const set of loadEdgeCases(fixtures)) {
    it(`edge case ${set.name}`, () => checkSet(set));
  }
  it('accepts keyed maps as well as evaluate-style lists', () => {
    const a = bleu(main.preds, main.refs);
    const b = bleu(...(Object.values(lists(main)) as [string[], string[][]]));
    expect(a).toEqual(b);
    expect(rouge(main.preds, main.refs)).toEqual(rouge(lists(main).preds, lists(main).refs));
  });
});

describe('HF evaluate flavours: behaviour', () => {
  it('tokenizes like sacrebleu 13a', () => {
    expect(tokenize13a('Hello, world. 3.5 1,000 a-b 3-4 "q" &amp; &lt;x&gt;')).toEqual([
      'Hello', ',', 'world', '.', '3.5', '1,000', 'a-b', '3', '-', '4', '"', 'q', '"', '&', '<', 'x', '>',
    ]);
    expect(tokenize13a('line-\nbreak <skipped> end')).toEqual(['linebreak', 'end']);
  });

  it('bleu with one reference per prediction, smoothing and max_order', () => {
    const r = bleu(['the cat sat on the mat'], ['the cat sat on the mat']);
    expect(r.bleu).toBe(1);
    expect(r.precisions).toEqual([1, 1, 1, 1]);
    const short = bleu(['the cat'], [['the cat sat on the mat']]);
    expect(short.bleu).toBe(0);
    expect(bleu(['the cat'], [['the cat sat on the mat']], { smooth: true }).bleu).toBeGreaterThan(0);
    expect(bleu(['the cat'], [['the cat sat']], { max_order: 2 }).precisions).toHaveLength(2);
    expect(() => bleu(['x'], [['y']], { max_order: 0 })).toThrow(InvalidArgumentError);
  });

  it('rouge: stemmer, custom types and the mean aggregate', () => {
    const plain = rouge(['the cats are running'], [['a cat runs']]);
    const stemmed = rouge(['the cats are running'], [['a cat runs']], { use_stemmer: true });
    expect(stemmed.rouge1).toBeGreaterThan(plain.rouge1);
    const r = rouge(['a b c', 'a b'], [['a b c'], ['c d']], { rouge_types: ['rouge1', 'rouge3'] });
    expect(Object.keys(r)).toEqual(['rouge1', 'rouge3']);
    expect(r.rouge1).toBeCloseTo((1 + 0) / 2, 15);
    expect(() => rouge(['a'], [['a']], { rouge_types: ['rougeX' as never] })).toThrow(InvalidArgumentError);
  });

  it('rougeLsum splits sentences on newlines', () => {
    const s = rougeScore('the cat sat\nthe dog ran', 'the dog ran\nthe cat sat');
    expect(s.rougeLsum.fmeasure).toBe(1);
    expect(s.rougeL.fmeasure).toBeLessThan(1);
  });

  it('wer follows jiwer: whitespace collapsed, case and punctuation sensitive, empty prediction = deletions', () => {
    expect(werCounts('a  dog.', ' a   Dog ')).toEqual({ edits: 1, ref_words: 2 });
    expect(werCounts('', 'a dog')).toEqual({ edits: 2, ref_words: 2 });
    expect(wer(['a b c', 'x'], ['a b d', 'x y'])).toBeCloseTo(2 / 5, 15);
    expect(() => wer(['a'], [''])).toThrow(InvalidArgumentError);
  });

  it('rejects mismatched lists', () => {
    expect(() => bleu(['a', 'b'], [['a']])).toThrow(/2 references/);
    expect(() => rouge([], [])).toThrow(/at least one prediction/);
  });
});
