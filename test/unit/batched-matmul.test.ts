// Attention's products (native/models/matmul.h): one cblas_sgemm per matrix on the operands' memory, and stacks of
// small matrices split over our own threads with OpenBLAS single-threaded meanwhile. OpenBLAS never splits the sum
// over k but does split a matrix's rows by its thread count, which moves rows in and out of its edge kernels, so
// the split products and both operands' gradients must equal bit for bit those of the same calls made one matrix
// at a time with OpenBLAS on one thread (whatever the partition: odd counts, several stacks at once), for
// head-transposed operands too. Split or not (TORCH_CAPTION_BMM_SPLIT=0) they must be torch::matmul's within
// float32 rounding (its CPU bmm takes other BLAS routes, gemv and a non-fused loop for small matrices) and the
// products computed in float64; and the BLAS's thread count must be back where it was once the stacks have ended.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { native, type RawTensor } from '../../lib/native.js';
import { floatBits, hashedValues } from '../helpers/values.js';

const tensor = (shape: number[], seed: number): RawTensor => ({ dtype: 'float32', shape, data: hashedValues(shape.reduce((a, b) => a * b, 1), seed, -1, 1) });
const bits = floatBits;

interface Case {
  batch: number[];
  m: number;
  k: number;
  n: number;
  /** b given as [..., n, k] and used transposed (q @ k^T). */
  transposeB: boolean;
}

type Products = { out: RawTensor; gradA: RawTensor; gradB: RawTensor; workers: number };

/** Our products (split where they would be), the same one matrix at a time on single-threaded OpenBLAS, and torch::matmul's. */
async function three({ batch, m, k, n, transposeB }: Case, seed: number) {
  const a = tensor([...batch, m, k], seed);
  const b = tensor(transposeB ? [...batch, n, k] : [...batch, k, n], seed + 1);
  const g = tensor([...batch, m, n], seed + 2);
  const split = await native().testing.batchedMatmul(a, b, g, transposeB, 'ours');
  const one = await native().testing.batchedMatmul(a, b, g, transposeB, 'single-threaded');
  process.env.TORCH_CAPTION_BMM_SPLIT = '0';
  const unsplit = await native().testing.batchedMatmul(a, b, g, transposeB, 'ours');
  delete process.env.TORCH_CAPTION_BMM_SPLIT;
  const torch = await native().testing.batchedMatmul(a, b, g, transposeB, 'torch');
  return { a, b, g, split, one, unsplit, torch };
}

/** A split stack has single-threaded BLAS's bits; one not split those of the unsplit path (one call per matrix). */
function expectBitsOfItsPath({ split, one, unsplit }: { split: Products; one: Products; unsplit: Products }) {
  expect(unsplit.workers).toBe(1);
  expectBitEqual(split, split.workers > 1 ? one : unsplit);
}

/** How many elements differ in their bits, and the first of them (a count rather than a diff of 10^5 numbers). */
function difference(x: RawTensor, y: RawTensor): { count: number; first: number } {
  const a = bits(x), b = bits(y);
  let count = 0, first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      count++;
      if (first < 0) first = i;
    }
  }
  return { count: count + Math.abs(a.length - b.length), first };
}

function expectBitEqual(ours: Products, reference: Products) {
  expect(ours.out.shape).toEqual(reference.out.shape);
  expect(ours.gradA.shape).toEqual(reference.gradA.shape);
  expect(ours.gradB.shape).toEqual(reference.gradB.shape);
  expect({ out: difference(ours.out, reference.out), gradA: difference(ours.gradA, reference.gradA), gradB: difference(ours.gradB, reference.gradB) }).toEqual({
    out: { count: 0, first: -1 },
    gradA: { count: 0, first: -1 },
    gradB: { count: 0, first: -1 },
  });
}

/** The products of a and b (b^T when transposeB) per matrix, in float64. */
function matmul64(a: RawTensor, b: RawTensor, { m, k, n, transposeB }: Case): Float64Array {
  const x = a.data as Float32Array, y = b.data as Float32Array;
  const count = x.length / (m * k);
  const out = new Float64Array(count * m * n);
  for (let c = 0; c < count; c++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += x[c * m * k + i * k + p]! * y[transposeB ? c * n * k + j * k + p : c * k * n + p * n + j]!;
        out[c * m * n + i * n + j] = s;
      }
  return out;
}

/** Largest difference relative to the operands' scale: k terms of magnitude <= 1 each. */
function expectClose(ours: Products, reference: Products, k: number, m: number, n: number) {
  for (const [key, terms] of [['out', k], ['gradA', n], ['gradB', m]] as const) {
    const x = ours[key].data as Float32Array, y = reference[key].data as Float32Array;
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    expect(worst, key).toBeLessThanOrEqual(terms * 2 ** -22);
  }
}

const blasThreads = () => native().buildInfo().blasThreads;
const before = blasThreads();

afterEach(() => {
  delete process.env.TORCH_CAPTION_BMM_SPLIT;
});

describe('attention products (batched matmul)', () => {
  // [name, case, split?]: split stacks run on min(BLAS threads, matrices) threads.
  const cases: Array<[string, Case, boolean]> = [
    ['scores, ViT heads (split, OpenBLAS single-threaded)', { batch: [2, 3], m: 197, k: 64, n: 197, transposeB: true }, true],
    ['probs @ v, ViT heads (split, OpenBLAS single-threaded)', { batch: [2, 3], m: 197, k: 197, n: 64, transposeB: false }, true],
    ['an odd number of matrices over the threads', { batch: [1, 5], m: 197, k: 64, n: 197, transposeB: true }, true],
    ['many small matrices (split, each below OpenBLAS threading)', { batch: [16, 6], m: 24, k: 64, n: 24, transposeB: true }, true],
    ['decoder cross-attention shapes', { batch: [8, 6], m: 24, k: 64, n: 197, transposeB: true }, true],
    ['too little work to split', { batch: [1, 2], m: 16, k: 8, n: 16, transposeB: false }, false],
    ['one matrix', { batch: [1, 1], m: 197, k: 64, n: 197, transposeB: true }, false],
    ['matrices large enough for OpenBLAS threads (not split)', { batch: [2, 1], m: 300, k: 256, n: 300, transposeB: true }, false],
  ];
  for (const [name, c, splits] of cases) {
    it(`${name}: the bits of its path, close to torch::matmul`, async () => {
      const r = await three(c, 11);
      const count = c.batch[0]! * c.batch[1]!;
      expect(r.split.workers).toBe(splits ? Math.min(before, count) : 1);
      expectBitsOfItsPath(r);
      expectClose(r.split, r.torch, c.k, c.m, c.n);
      expectClose(r.unsplit, r.torch, c.k, c.m, c.n);
      expect(blasThreads()).toBe(before);
    });
  }

  it('the products are those computed in float64', async () => {
    const c: Case = { batch: [2, 3], m: 197, k: 64, n: 197, transposeB: true };
    const { a, b, split } = await three(c, 5);
    const want = matmul64(a, b, c);
    const got = split.out.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it('two split stacks at once: both bit-equal, and the BLAS thread count restored after', async () => {
    const c: Case = { batch: [4, 3], m: 197, k: 64, n: 197, transposeB: true };
    const a = tensor([4, 3, 197, 64], 1), b = tensor([4, 3, 197, 64], 2), g = tensor([4, 3, 197, 197], 3);
    const runs = await Promise.all([1, 2, 3, 4].map(() => native().testing.batchedMatmul(a, b, g, c.transposeB, 'ours')));
    const one = await native().testing.batchedMatmul(a, b, g, c.transposeB, 'single-threaded');
    for (const r of runs) {
      expect(r.workers).toBe(Math.min(before, 12));
      expectBitEqual(r, one);
    }
    expect(blasThreads()).toBe(before);
  });

  it('property: for any stack of shapes, bit-equal to single-threaded BLAS and close to torch::matmul', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).map(([x, y]) => [x, y]),
          m: fc.integer({ min: 1, max: 130 }),
          k: fc.integer({ min: 1, max: 130 }),
          n: fc.integer({ min: 1, max: 130 }),
          transposeB: fc.boolean(),
        }),
        fc.integer({ min: 0, max: 1000 }),
        async (c, seed) => {
          const r = await three(c, seed);
          expectBitsOfItsPath(r);
          expectClose(r.split, r.torch, c.k, c.m, c.n);
        },
      ),
      { numRuns: 25 },
    );
    expect(blasThreads()).toBe(before);
  });
});
