// Element-wise comparisons for the golden tests.
import { expect } from 'vitest';
import type { Tensor } from '../../lib/tensor.js';

/** The largest |a[i] - b[i]| (the lengths must agree). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Max over elements of |a-b| - (atol + rtol*|b|); <= 0 means within tolerance. */
export function excess(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number, skip?: (i: number) => boolean): number {
  expect(a.length).toBe(b.length);
  let worst = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (skip?.(i)) continue;
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!)));
  }
  return worst;
}

/** Rows `rows` of a [V, ...] tensor (1-D: its elements), as the fixtures store vocabulary-sized tensors. */
export function pickRows(t: Tensor, rows: number[]): Float32Array {
  const e = t.shape.length > 1 ? t.size / t.shape[0]! : 1;
  const out = new Float32Array(rows.length * e);
  rows.forEach((r, i) => out.set((t.data as Float32Array).subarray(r * e, (r + 1) * e), i * e));
  return out;
}
