// The training loss (native/models/loss.h): token cross-entropy whose log-softmax rows are split over the BLAS's
// threads when libtorch's own pool has one. Each row is still ATen's kernel alone, so the loss and the gradient
// must equal F::cross_entropy's bit for bit, at sizes below and above the split (2^20 elements), with ignored
// (-100) labels and with label smoothing (computed here from the split log-probabilities); and both must be the cross-entropy computed independently in float64.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { native, type RawTensor } from '../../lib/native.js';
import { floatBits, hashedValues } from '../helpers/values.js';

/** Deterministic logits in [-5, 5]. */
const logits = (n: number, seed: number): Float32Array => hashedValues(n, seed, -5, 5);

function labels(rows: number, classes: number, seed: number, ignoreEvery: number): BigInt64Array {
  return BigInt64Array.from({ length: rows }, (_, r) => (ignoreEvery > 0 && r % ignoreEvery === 1 ? -100n : BigInt((r * 7919 + seed * 31) % classes)));
}

const tensor = (data: Float32Array, rows: number, classes: number): RawTensor => ({ dtype: 'float32', shape: [rows, classes], data });
const ids = (data: BigInt64Array): RawTensor => ({ dtype: 'int64', shape: [data.length], data });

/** Mean cross-entropy over the kept rows and its gradient, in float64. */
function crossEntropy64(x: Float32Array, y: BigInt64Array, classes: number): { loss: number; grad: Float64Array } {
  const rows = y.length;
  const kept = Array.from(y).filter((v) => v !== -100n).length;
  const grad = new Float64Array(rows * classes);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    if (y[r] === -100n) continue;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, x[r * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(x[r * classes + c]! - max);
    const lse = max + Math.log(sum);
    const t = Number(y[r]);
    loss += lse - x[r * classes + t]!;
    for (let c = 0; c < classes; c++) grad[r * classes + c] = (Math.exp(x[r * classes + c]! - lse) - (c === t ? 1 : 0)) / kept;
  }
  return { loss: loss / kept, grad };
}

async function both(rows: number, classes: number, seed: number, ignoreEvery: number, smoothing: number) {
  const x = tensor(logits(rows * classes, seed), rows, classes);
  const y = ids(labels(rows, classes, seed, ignoreEvery));
  const ours = await native().testing.crossEntropy(x, y, smoothing, false);
  const reference = await native().testing.crossEntropy(x, y, smoothing, true);
  return { x, y, ours, reference };
}

const bits = floatBits;

describe('training loss (cross-entropy)', () => {
  for (const [name, rows, classes] of [
    ['below the split', 24, 1000],
    ['above the split (the bench models: 192 tokens x 50257)', 192, 50257],
    ['above the split, rows not a multiple of the workers', 37, 40000],
  ] as const) {
    it(`equals F::cross_entropy bit for bit, ${name}`, async () => {
      const { x, y, ours, reference } = await both(rows, classes, 3, 5, 0);
      expect(ours.grad.shape).toEqual([rows, classes]);
      expect(bits(ours.loss)).toEqual(bits(reference.loss));
      expect(Buffer.compare(Buffer.from(bits(ours.grad).buffer), Buffer.from(bits(reference.grad).buffer))).toBe(0);
      // And it is the cross-entropy: an independent float64 computation agrees to float32 rounding.
      const want = crossEntropy64(x.data as Float32Array, y.data as BigInt64Array, classes);
      expect((ours.loss.data as Float32Array)[0]).toBeCloseTo(want.loss, 5);
      const g = ours.grad.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - want.grad[i]!));
      expect(worst).toBeLessThan(1e-7);
    });
  }

  it('with label smoothing (its own term, on the split log-probabilities) equals F::cross_entropy bit for bit', async () => {
    const { ours, reference } = await both(40, 30000, 9, 4, 0.1);
    expect(bits(ours.loss)).toEqual(bits(reference.loss));
    expect(Buffer.compare(Buffer.from(bits(ours.grad).buffer), Buffer.from(bits(reference.grad).buffer))).toBe(0);
  });

  it('property: any shape, any ignored rows, with or without smoothing, bit for bit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 48 }), fc.integer({ min: 2, max: 60000 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(0, 0.1), async (rows, classes, seed, ignoreEvery, smoothing) => {
          const { ours, reference } = await both(rows, classes, seed, ignoreEvery, smoothing);
          const a = ours.loss.data as Float32Array, b = reference.loss.data as Float32Array;
          // All rows ignored: both are NaN (0 / 0), as in PyTorch.
          if (Number.isNaN(b[0])) expect(Number.isNaN(a[0])).toBe(true);
          else expect(bits(ours.loss)).toEqual(bits(reference.loss));
          expect(Buffer.compare(Buffer.from(bits(ours.grad).buffer), Buffer.from(bits(reference.grad).buffer))).toBe(0);
        }),
      { numRuns: 12, seed: 17 },
    );
  });
});

describe('TORCH_CAPTION_LOSS_SPLIT=0', () => {
  it('keeps one chunk and the same bits', async () => {
    const split = await both(64, 30000, 5, 3, 0);
    process.env.TORCH_CAPTION_LOSS_SPLIT = '0';
    try {
      const one = await both(64, 30000, 5, 3, 0);
      expect(bits(one.ours.loss)).toEqual(bits(split.ours.loss));
      expect(Buffer.compare(Buffer.from(bits(one.ours.grad).buffer), Buffer.from(bits(split.ours.grad).buffer))).toBe(0);
    } finally {
      delete process.env.TORCH_CAPTION_LOSS_SPLIT;
    }
  });
});
