import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bleu, cocoTokenize, meteor, rouge, scoreCaptions, wer } from '../../lib/metrics/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';

const COCO = { metrics: ['Bleu', 'ROUGE_L', 'CIDEr'] as const };
const KEYS = ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr'] as const;

const VOCAB = [
  'a', 'the', 'man', 'woman', 'dog', 'dogs', 'cat', 'riding', 'rides', 'wave', 'surfboard', 'on', 'top', 'of', 'in',
  'park', 'two', 'three', 'red', 'grey', 'bus', 'street', 'sofa', 'couch', 'is', 'are', 'sitting', 'children', 'child',
  'playing', 'frisbee', 'with', 'near', 'large', 'big', 'small', 'white', 'black-and-white', "doesn't", "it's", ',', '.',
];

/** Any Unicode: graphemes, any code points, lone surrogates, and caption-like words. */
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
      fc.constantFrom(' ', '.', "'", '-', '(', ')', '"', '&amp;', 'http://x.com/a', 'a@b.org', '\u00A0', '\n', '\r', '\u2028'),
    ),
    maxLength: 30,
  }),
  fc.array(fc.constantFrom(...VOCAB), { maxLength: 12 }).map((w) => w.join(' ')),
);

/** Caption-like text of at least `min` words. */
const words = (min: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...VOCAB.filter((w) => /^[a-z]+$/.test(w))), { minLength: min, maxLength: 14 }).map((w) => w.join(' '));

/** 1..6 images with 1..4 references each. */
const corpus = (text: fc.Arbitrary<string>) =>
  fc.array(fc.record({ pred: text, refs: fc.array(text, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 6 });

function toMaps(images: Array<{ pred: string; refs: string[] }>): { preds: Record<string, string>; refs: Record<string, string[]> } {
  const preds: Record<string, string> = {};
  const refs: Record<string, string[]> = {};
  images.forEach((im, i) => {
    preds[`img${i}`] = im.pred;
    refs[`img${i}`] = im.refs;
  });
  return { preds, refs };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('metric properties (fast-check)', () => {
  it('COCO scores are finite and in range on any Unicode input, and nothing throws', () => {
    fc.assert(
      fc.property(corpus(anyText), (images) => {
        const { preds, refs } = toMaps(images);
        const s = scoreCaptions(preds, refs, { ...COCO, perImage: true });
        for (const k of KEYS) {
          const vals = [s[k], ...Object.values(s.perImage ?? {}).map((p) => p[k])];
          for (const v of vals) {
            expect(Number.isFinite(v)).toBe(true);
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(k === 'CIDEr' ? 10 + 1e-9 : 1 + 1e-12);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('COCO tokenization never throws and yields clean space-separated tokens', () => {
    const dropped = new Set(["''", "'", '``', '`', '.', '?', '!', ',', ':', '-', '--', '...', ';']);
    fc.assert(
      fc.property(anyText, (t) => {
        const out = cocoTokenize(t);
        if (out.length > 0) {
          const toks = out.split(' ');
          for (const tok of toks) {
            expect(tok.length).toBeGreaterThan(0);
            expect(dropped.has(tok)).toBe(false);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('HF flavours: rouge and meteor never throw; bleu and wer throw only InvalidArgumentError', () => {
    fc.assert(
      fc.property(corpus(anyText), (images) => {
        const preds = images.map((i) => i.pred);
        const refs = images.map((i) => i.refs);
        const r = rouge(preds, refs);
        for (const v of Object.values(r)) expect(v >= 0 && v <= 1).toBe(true);
        const m = meteor(preds, refs).meteor;
        expect(m >= 0 && m <= 1).toBe(true);
        for (const f of [() => bleu(preds, refs).bleu, () => wer(preds, refs)]) {
          try {
            const v = f();
            expect(v).toBeGreaterThanOrEqual(0);
          } catch (e) {
            expect(e).toBeInstanceOf(InvalidArgumentError);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a prediction equal to a reference scores the maximum', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ ref: words(4), others: fc.array(words(1), { maxLength: 3 }), alt: words(1) }), { minLength: 1, maxLength: 5 }), (images) => {
        const preds: Record<string, string> = {};
        const refs: Record<string, string[]> = {};
        images.forEach((im, i) => {
          preds[i] = im.ref;
          refs[i] = [im.ref, ...im.others];
        });
        const s = scoreCaptions(preds, refs, { ...COCO, perImage: true });
        for (const p of Object.values(s.perImage ?? {})) {
          for (const k of ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4'] as const) expect(p[k]).toBeGreaterThan(1 - 1e-6);
          expect(p.ROUGE_L).toBe(1);
        }
        const P = images.map((im) => im.ref);
        const R = images.map((im) => [im.ref, ...im.others]);
        expect(bleu(P, R).bleu).toBeCloseTo(1, 12);
        for (const v of Object.values(rouge(P, R))) expect(v).toBe(1);
        expect(wer(P, R)).toBe(0);
        // METEOR: against a single reference, the reference itself beats any other prediction
        images.forEach((im) => {
          const perfect = meteor([im.ref], [im.ref]).meteor;
          expect(perfect).toBeGreaterThanOrEqual(meteor([im.alt], [im.ref]).meteor);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('permuting the images does not change corpus scores', () => {
    fc.assert(
      fc.property(corpus(fc.oneof(words(0), anyText)), fc.integer(), (images, seed) => {
        const perm = shuffled(images, seed);
        const a = toMaps(images);
        const b = toMaps(perm);
        // keys follow the order, so relabel: the same images under shuffled positions
        const sa = scoreCaptions(a.preds, a.refs, COCO);
        const sb = scoreCaptions(b.preds, b.refs, COCO);
        for (const k of KEYS) expect(Math.abs(sa[k] - sb[k])).toBeLessThan(1e-12);
        const P = (xs: typeof images) => xs.map((i) => i.pred);
        const R = (xs: typeof images) => xs.map((i) => i.refs);
        const ra = rouge(P(images), R(images));
        const rb = rouge(P(perm), R(perm));
        for (const k of Object.keys(ra)) expect(Math.abs(ra[k] - rb[k])).toBeLessThan(1e-12);
        expect(Math.abs(meteor(P(images), R(images)).meteor - meteor(P(perm), R(perm)).meteor)).toBeLessThan(1e-12);
        try {
          expect(bleu(P(perm), R(perm))).toEqual(bleu(P(images), R(images)));
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 100 },
    );
  });
});
