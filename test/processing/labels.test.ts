// buildLabels: EOS appended to every caption, only the padding after it masked, truncation keeps room for EOS;
// the wrapping convention (BERT / RoBERTa: start token dropped, end token kept); and the labels of the model
// fixtures reproduced exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { buildLabels, type LabelTokenizer, Tokenizer } from '../../lib/processing/index.js';
import { readSafetensors } from './helpers.js';

/** A toy tokenizer: one id per word (a=1, b=2, ...), eos = 9 (also a normal word "i" = 9 to test masking). */
const toy: LabelTokenizer = {
  eos_token_id: 9,
  encode: (text: string) => text.split(' ').filter(Boolean).map((w) => w.charCodeAt(0) - 96),
};

const rows = (t: ReturnType<typeof buildLabels>) => t.labels.toNested2D();

describe('buildLabels', () => {
  it('appends eos to every caption and masks only the padding after it', () => {
    const out = buildLabels(['a b c', 'a', 'i i'], toy);
    expect(out.labels.dtype).toBe('int64');
    expect(out.labels.shape).toEqual([3, 4]);
    expect(rows(out)).toEqual([
      [1, 2, 3, 9],
      [1, 9, -100, -100],
      [9, 9, 9, -100], // eos-valued tokens inside the caption and its own eos keep their labels
    ]);
    expect(out.lengths).toEqual([4, 2, 3]);
  });

  it("pads with eos for padLabel 'eos' (tutorial style)", () => {
    expect(rows(buildLabels(['a b', 'c'], toy, { padLabel: 'eos' }))).toEqual([
      [1, 2, 9],
      [3, 9, 9],
    ]);
  });

  it('truncates to max_length keeping room for eos', () => {
    const out = buildLabels(['a b c d e', 'a b'], toy, { max_length: 3 });
    expect(rows(out)).toEqual([
      [1, 2, 9],
      [1, 2, 9],
    ]);
    expect(out.lengths).toEqual([3, 3]);
    expect(rows(buildLabels(['a b c d e'], toy, { max_length: 1 }))).toEqual([[9]]);
  });

  it("pads every row to max_length with padding: 'max_length'", () => {
    expect(rows(buildLabels(['a'], toy, { max_length: 4, padding: 'max_length' }))).toEqual([[1, 9, -100, -100]]);
  });

  it('can leave eos out', () => {
    const out = buildLabels(['a b', 'c'], toy, { appendEos: false, max_length: 5 });
    expect(rows(out)).toEqual([
      [1, 2],
      [3, -100],
    ]);
    expect(out.lengths).toEqual([2, 1]);
  });

  it('handles empty captions and empty batches', () => {
    expect(rows(buildLabels(['', 'a'], toy))).toEqual([
      [9, -100],
      [1, 9],
    ]);
    expect(buildLabels([], toy).labels.shape).toEqual([0, 0]);
  });

  it('validates its arguments', () => {
    expect(() => buildLabels('a' as never, toy)).toThrow(/Expected an array of caption strings for captions/);
    expect(() => buildLabels(['a'], toy, { max_length: 0 })).toThrow(/max_length/);
    expect(() => buildLabels(['a'], toy, { padLabel: 0 as never })).toThrow(/padLabel/);
    expect(() => buildLabels([3 as never], toy)).toThrow(/captions\[0\]/);
    expect(() => buildLabels(['a'], { ...toy, eos_token_id: null })).toThrow(/eos/);
    expect(() => buildLabels(['a'], toy, { padding: 'max_length' })).toThrow(/max_length/);
  });
});

/** A toy wrapping tokenizer (BERT-like): encode(c) = [7, ...words, 8]; no eos. */
const wrapping = {
  eos_token_id: null,
  special_tokens_wrap: { start: [7], end: [8] },
  encode: (text: string) => [7, ...toy.encode(text), 8],
};

describe('buildLabels with a tokenizer that wraps texts in special tokens', () => {
  it('drops the start token, keeps the end token and appends nothing', () => {
    const out = buildLabels(['a b c', 'a', ''], wrapping);
    expect(rows(out)).toEqual([
      [1, 2, 3, 8],
      [1, 8, -100, -100],
      [8, -100, -100, -100],
    ]);
    expect(out.lengths).toEqual([4, 2, 1]);
  });

  it('truncates the caption, keeping its end token', () => {
    expect(rows(buildLabels(['a b c d e', 'a b'], wrapping, { max_length: 3 }))).toEqual([
      [1, 2, 8],
      [1, 2, 8],
    ]);
    expect(rows(buildLabels(['a b c'], wrapping, { max_length: 1 }))).toEqual([[8]]);
  });

  it("pads with the end token for padLabel 'eos', and leaves it out with appendEos: false", () => {
    expect(rows(buildLabels(['a b', 'c'], wrapping, { padLabel: 'eos' }))).toEqual([
      [1, 2, 8],
      [3, 8, 8],
    ]);
    expect(rows(buildLabels(['a b', 'c'], wrapping, { appendEos: false }))).toEqual([
      [1, 2],
      [3, -100],
    ]);
  });
});

describeWithFixtures('buildLabels reproduces the labels of the BERT and RoBERTa model fixtures', (root) => {
  for (const [model, end] of [['deit-bert-tiny', 102], ['clip-roberta-tiny', 2]] as const) {
    it(`${model}: encode(caption)[1:] (ends with ${end}), padding -100`, async () => {
      const tok = await Tokenizer.fromPretrained(join(root, 'models', model));
      const meta = JSON.parse(readFileSync(join(root, 'models', `${model}.cases.json`), 'utf8')) as { captions: string[]; captions2: string[]; token_ids: { eos_token_id: number } };
      expect(meta.token_ids.eos_token_id).toBe(end);
      const cases = readSafetensors(join(root, 'models', `${model}.cases.safetensors`));
      for (const [caps, key] of [[meta.captions, 'labels'], [meta.captions2, 'labels2']] as const) {
        const want = cases[key]!;
        const got = buildLabels(caps, tok);
        expect(got.labels.shape).toEqual(want.shape);
        expect(Array.from(got.labels.data as BigInt64Array)).toEqual(Array.from(want.data as BigInt64Array));
        // Row by row: encode(caption)[1:], then -100.
        const width = want.shape[1]!;
        caps.forEach((c, i) => {
          const row = tok.encode(c).slice(1);
          expect(row[row.length - 1]).toBe(end);
          expect(got.labels.toNested2D()[i]).toEqual([...row, ...new Array<number>(width - row.length).fill(-100)]);
        });
      }
    });
  }

  it('deit-bert-tiny: exact label rows of the first batch', async () => {
    const tok = await Tokenizer.fromPretrained(join(root, 'models', 'deit-bert-tiny'));
    const got = buildLabels(['a red circle above a red square', 'a yellow square'], tok);
    expect(rows(got)).toEqual([
      [1037, 2417, 4418, 2682, 1037, 2417, 2675, 102],
      [1037, 3756, 2675, 102, -100, -100, -100, -100],
    ]);
  });
});

describeWithFixtures('buildLabels reproduces the labels of the model fixtures', (root) => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromPretrained(join(root, 'models', 'vit-gpt2-tiny'));
  });

  for (const model of ['vit-gpt2-tiny', 'swin-gpt2-tiny']) {
    it(model, () => {
      const meta = JSON.parse(readFileSync(join(root, 'models', `${model}.cases.json`), 'utf8')) as { captions: string[]; captions2: string[] };
      const cases = readSafetensors(join(root, 'models', `${model}.cases.safetensors`));
      for (const [caps, key] of [[meta.captions, 'labels'], [meta.captions2, 'labels2']] as const) {
        const want = cases[key]!;
        const got = buildLabels(caps, tok);
        expect(got.labels.shape).toEqual(want.shape);
        expect(Array.from(got.labels.data as BigInt64Array)).toEqual(Array.from(want.data as BigInt64Array));
      }
    });
  }
});
