// The decoding product kernel (native/models/thin_gemm_kernel.h): x [M, K] @ w [K, N] + bias for the few rows of a
// decoding step. Its contract is exact: every output element is the float32 sum over k in increasing order, each
// product and each sum rounded on its own, then plus the bias. So the tests emulate that in JS with Math.fround and
// compare bit for bit, and a row's bits cannot depend on the rows beside it (what keeps a dynamically batched
// request's caption equal to the one it gets alone).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { native, type RawTensor } from '../../lib/native.js';

const f32 = (shape: number[], data: Float32Array): RawTensor => ({ dtype: 'float32', shape, data });

/** Deterministic values of mixed sign and magnitude (a hash of i and the seed), exactly representable in float32. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = Math.imul(i + 1, 2654435761) ^ Math.imul(seed + 7, 40503);
    out[i] = ((h >>> 8) % 20001) / 10000 - 1; // [-1, 1]
    if (i % 7 === 3) out[i]! *= 37;
  }
  return out;
}

/** The kernel's arithmetic, rounded as float32 at every operation. */
function reference(x: Float32Array, w: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): Float32Array {
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = Math.fround(acc + Math.fround(x[m * K + k]! * w[k * N + n]!));
      out[m * N + n] = bias ? Math.fround(acc + bias[n]!) : acc;
    }
  }
  return out;
}

/** The nn.Linear-layout kernel's arithmetic (w [N, K]): 16 lanes, lane j summing k = j, j + 16, ... in order, the
 * lanes added 0 to 15, then the bias, everything rounded as float32. */
function referenceNK(x: Float32Array, w: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): Float32Array {
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const lanes = new Float32Array(16);
      for (let k = 0; k < K; k++) lanes[k % 16] = Math.fround(lanes[k % 16]! + Math.fround(x[m * K + k]! * w[n * K + k]!));
      let s = lanes[0]!;
      for (let j = 1; j < 16; j++) s = Math.fround(s + lanes[j]!);
      out[m * N + n] = bias ? Math.fround(s + bias[n]!) : s;
    }
  }
  return out;
}

/** One weight layout of the kernels: how w is shaped, the arithmetic it must equal, its row limit and test shapes. */
interface Layout {
  name: string;
  weightShape: (K: number, N: number) => number[];
  reference: typeof reference;
  maxRows: number;
  shapes: readonly (readonly [number, number, number])[];
  /** N for a drawn (K, N): the test hook reads a square weight as [K, N]. */
  fixN: (K: number, N: number) => number;
}

const layouts: Layout[] = [
  {
    name: 'Conv1D layout, w [K, N]: the sequential float32 sum',
    weightShape: (K, N) => [K, N],
    reference,
    maxRows: 32,
    // N = 64 is one tile; 65 and 130 leave narrow tails (as GPT-2's 50257); M = 5..9 mixes groups of four with the rest.
    shapes: [[1, 48, 64], [3, 48, 65], [4, 96, 130], [5, 17, 63], [8, 64, 192], [9, 33, 1], [32, 40, 70]],
    fixN: (_K, N) => N,
  },
  {
    name: 'nn.Linear layout, w [N, K]: the 16-lane float32 sums (K tails, column blocks of 1-4)',
    weightShape: (K, N) => [N, K],
    reference: referenceNK,
    maxRows: 16,
    shapes: [[1, 48, 64], [3, 17, 5], [4, 96, 130], [5, 15, 7], [8, 64, 30], [9, 33, 1], [16, 40, 70]],
    fixN: (K, N) => (N === K ? N + 1 : N),
  },
];

async function thin(layout: Layout, M: number, K: number, N: number, seed: number, withBias: boolean) {
  const x = values(M * K, seed);
  const w = values(K * N, seed + 1);
  const bias = withBias ? values(N, seed + 2) : null;
  const out = await native().testing.thinGemm(f32([M, K], x), f32(layout.weightShape(K, N), w), bias ? f32([N], bias) : null);
  return { x, w, bias, out: out.data as Float32Array, shape: out.shape };
}

describe('thin gemm (decoding products)', () => {
  for (const layout of layouts) {
    it(`${layout.name}: equal bit for bit, tails and row groups included`, async () => {
      for (const [M, K, N] of layout.shapes) {
        for (const withBias of [true, false]) {
          const r = await thin(layout, M, K, N, M * 100 + N, withBias);
          expect(r.shape).toEqual([M, N]);
          expect(Array.from(r.out)).toEqual(Array.from(layout.reference(r.x, r.w, r.bias, M, K, N)));
        }
      }
    });

    it(`property (${layout.name.split(',')[0]}): a row has the same bits whatever the other rows are and however many there are`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: layout.maxRows }), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 200 }), fc.nat(1000), async (M, K, N0, seed) => {
          const N = layout.fixN(K, N0);
          const all = await thin(layout, M, K, N, seed, true);
          const row = M - 1;
          const alone = await native().testing.thinGemm(f32([1, K], all.x.slice(row * K, (row + 1) * K)), f32(layout.weightShape(K, N), all.w), f32([N], all.bias!));
          expect(Array.from(alone.data as Float32Array)).toEqual(Array.from(all.out.slice(row * N, (row + 1) * N)));
          expect(Array.from(all.out)).toEqual(Array.from(layout.reference(all.x, all.w, all.bias, M, K, N)));
        }),
        { numRuns: 40 },
      );
    });
  }

  it('leaves batches of more than 32 rows (16 in nn.Linear layout) to BLAS', async () => {
    await expect(native().testing.thinGemm(f32([17, 4], new Float32Array(68)), f32([8, 4], new Float32Array(32)), null)).rejects.toThrow(
      /kernel does not apply/,
    );
    await expect(native().testing.thinGemm(f32([33, 4], new Float32Array(132)), f32([4, 8], new Float32Array(32)), null)).rejects.toThrow(
      /kernel does not apply/,
    );
  });

  it('TORCH_CAPTION_THIN_GEMM=0 turns the kernel off for the process (decoding keeps BLAS)', () => {
    const nativeJs = fileURLToPath(new URL('../../dist/lib/native.js', import.meta.url));
    const script = `const { native } = await import(${JSON.stringify(nativeJs)});
      const t = (shape) => ({ dtype: 'float32', shape, data: new Float32Array(shape[0] * shape[1]) });
      await native().testing.thinGemm(t([1, 4]), t([4, 8]), null).then(() => console.log('ran'), (e) => console.log(e.message));`;
    for (const [value, expected] of [['0', /kernel does not apply/], ['1', /^ran$/m]] as const) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, TORCH_CAPTION_THIN_GEMM: value }, timeout: 60_000 });
      expect(r.stdout).toMatch(expected);
    }
  });
});

describe('machine rates (the bench floor)', () => {
  it('measures a positive copy bandwidth and matmul rate', async () => {
    const r = await native().measureMachine();
    expect(r.copyGBps).toBeGreaterThan(0.1);
    expect(r.matmulGFLOPs).toBeGreaterThan(0.1);
    expect(Number.isInteger(r.threads) && r.threads >= 1).toBe(true);
  });
});
