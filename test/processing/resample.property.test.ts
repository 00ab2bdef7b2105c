// Property tests of the native Pillow-exact resampler (native/image/resample.cc) and its binding.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { nativeProcessing } from '../../lib/processing/native-image.js';

const addon = nativeProcessing();

const imageArb = fc
  .record({ w: fc.integer({ min: 1, max: 40 }), h: fc.integer({ min: 1, max: 40 }), seed: fc.integer() })
  .map(({ w, h, seed }) => {
    const data = new Uint8Array(w * h * 3);
    let s = seed >>> 0;
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = s >>> 24;
    }
    return { w, h, data };
  });
const sizeArb = fc.integer({ min: 1, max: 48 });
const filterArb = fc.integer({ min: 0, max: 5 });

describe('resampler properties', () => {
  it('stays within [0, 255] (as the un-normalized float output too) and matches the scalar reference loops', async () => {
    await fc.assert(
      fc.asyncProperty(imageArb, sizeArb, sizeArb, filterArb, async (img, ow, oh, filter) => {
        const out = await addon.resampleRgb(img.data, img.w, img.h, ow, oh, filter);
        const ref = await addon.resampleRgbReference(img.data, img.w, img.h, ow, oh, filter);
        expect(out.length).toBe(ow * oh * 3);
        expect(Buffer.from(out).equals(Buffer.from(ref))).toBe(true);
        const raw = await addon.preprocessRgb(img.data, img.w, img.h, {
          outWidth: ow, outHeight: oh, filter, doRescale: false, rescaleFactor: 1, doNormalize: false, mean: [0, 0, 0], std: [1, 1, 1],
        });
        const bad = raw.findIndex((v, i) => !(v >= 0 && v <= 255 && Number.isInteger(v)) || v !== out[(i % (ow * oh)) * 3 + Math.floor(i / (ow * oh))]);
        expect(bad).toBe(-1);
      }),
      { numRuns: 300 },
    );
  });

  it('is the identity when the size does not change (any filter)', async () => {
    await fc.assert(
      fc.asyncProperty(imageArb, filterArb, async (img, filter) => {
        const out = await addon.resampleRgb(img.data, img.w, img.h, img.w, img.h, filter);
        expect(Buffer.from(out).equals(Buffer.from(img.data))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps a constant image constant (any size, any filter)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), sizeArb, sizeArb, filterArb,
        fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })),
        async (w, h, ow, oh, filter, rgb) => {
          const src = new Uint8Array(w * h * 3);
          for (let i = 0; i < w * h; i++) src.set(rgb, i * 3);
          const out = await addon.resampleRgb(src, w, h, ow, oh, filter);
          const bad = out.findIndex((v, i) => v !== rgb[i % 3]);
          expect(bad).toBe(-1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reproduces hand-computed Pillow results', async () => {
    const row = (vals: number[]) => Uint8Array.from(vals.flatMap((v) => [v, v, v]));
    const gray = (out: Uint8Array) => Array.from(out).filter((_, i) => i % 3 === 0);
    // BOX 4 -> 2: plain averages, rounded half up in fixed point.
    expect(gray(await addon.resampleRgb(row([0, 101, 200, 255]), 4, 1, 2, 1, 4))).toEqual([51, 228]);
    // BILINEAR 4 -> 2: support 2, taps [3/7, 3/7, 1/7] on pixels 0..2 and [1/7, 3/7, 3/7] on pixels 1..3.
    expect(gray(await addon.resampleRgb(row([0, 100, 200, 255]), 4, 1, 2, 1, 2))).toEqual([71, 209]);
    // NEAREST 4 -> 2 samples source pixels 0.5 * scale + k * scale -> indices 1 and 3.
    expect(gray(await addon.resampleRgb(row([10, 20, 30, 40]), 4, 1, 2, 1, 0))).toEqual([20, 40]);
    // NEAREST upsampling 2 -> 5: x = floor((k + 0.5) * 0.4) -> 0.2, 0.6, 1.0, 1.4, 1.8 -> 0 0 1 1 1.
    expect(gray(await addon.resampleRgb(row([10, 20]), 2, 1, 5, 1, 0))).toEqual([10, 10, 20, 20, 20]);
  });
});

describe('binding argument checks', () => {
  const opts = { outWidth: 2, outHeight: 2, filter: 2, doRescale: true, rescaleFactor: 1 / 255, doNormalize: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as const;

  it('throws InvalidArgumentErrors (TypeErrors before the classes crossed the boundary) in the "Expected X for Y but received Z" format', () => {
    expect(() => addon.preprocessRgb('x' as never, 1, 1, opts)).toThrow(/^Expected a Uint8Array \(or Buffer\) of interleaved RGB bytes for rgb but received string "x"$/);
    expect(() => addon.preprocessRgb(new Uint8Array(5), 2, 1, opts)).toThrow('Expected a Uint8Array of length 6 (2x1x3) for rgb but received Uint8Array of length 5');
    expect(() => addon.preprocessRgb(new Uint8Array(3), 1.5, 1, opts)).toThrow('Expected a positive integer for width but received number 1.5');
    expect(() => addon.preprocessRgb(new Uint8Array(3), 1, 1, { ...opts, filter: 9 })).toThrow(/PIL resampling filter 0\.\.5 for opts\.filter but received number 9/);
    expect(() => addon.preprocessRgb(new Uint8Array(3), 1, 1, { ...opts, mean: [1, 2] as never })).toThrow(/for opts\.mean but received array of length 2/);
    expect(() => addon.preprocessRgb(new Uint8Array(3), 1, 1, opts, new Float32Array(3))).toThrow(RangeError);
    expect(() => addon.resampleRgb(new Uint8Array(3), 1, 1, 0, 1, 2)).toThrow(InvalidArgumentError);
  });

  it('writes into a caller buffer at an offset', async () => {
    const out = new Float32Array(20).fill(7);
    const r = await addon.preprocessRgb(new Uint8Array(12).fill(255), 2, 2, { ...opts, outWidth: 2, outHeight: 2 }, out, 4);
    expect(r).toBe(out);
    expect(Array.from(out.subarray(0, 4))).toEqual([7, 7, 7, 7]);
    expect(Array.from(out.subarray(4, 16))).toEqual(new Array(12).fill(1));
    expect(Array.from(out.subarray(16))).toEqual([7, 7, 7, 7]);
  });
});
