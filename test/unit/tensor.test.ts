import { describe, expect, it } from 'vitest';
import { Tensor, stack } from '../../lib/tensor.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { native } from '../../lib/native.js';

describe('Tensor', () => {
  it('infers dtype from the typed array', () => {
    expect(Tensor.from(new Float32Array(6), [2, 3]).dtype).toBe('float32');
    expect(Tensor.from(new BigInt64Array(2), [2]).dtype).toBe('int64');
    expect(Tensor.from(new Int32Array(2), [1, 2]).dtype).toBe('int32');
    expect(Tensor.from(new Uint8Array(4), [4]).dtype).toBe('bool');
  });

  it('rejects bad shapes and data with readable errors', () => {
    expect(() => Tensor.from(new Float32Array(5), [2, 3])).toThrow(/Expected 6 elements for shape \[2, 3\] but received 5/);
    expect(() => Tensor.from(new Float32Array(2), [-1, -2])).toThrow(InvalidArgumentError);
    expect(() => Tensor.from([1, 2] as unknown as Float32Array, [2])).toThrow(/Expected a Float32Array/);
    expect(() => Tensor.from(new Float32Array(2), [2], 'int64')).toThrow(/BigInt64Array for dtype 'int64'/);
  });

  it('stacks and slices', () => {
    const a = Tensor.from(Float32Array.of(1, 2), [2]) as Tensor<'float32'>;
    const b = Tensor.from(Float32Array.of(3, 4), [2]) as Tensor<'float32'>;
    const s = stack([a, b]);
    expect(s.shape).toEqual([2, 2]);
    expect(s.slice0(1, 2).toArray()).toEqual([3, 4]);
    expect(Tensor.int64([[1, 2], [3, 4]]).toNested2D()).toEqual([[1, 2], [3, 4]]);
  });

  it('crosses the native boundary for every dtype and comes back equal', async () => {
    for (const [data, shape] of [
      [Float32Array.of(1.5, -2, 3), [3]],
      [BigInt64Array.of(1n, -2n, 3n, 2n ** 40n), [2, 2]],
      [Int32Array.of(7, 8), [2, 1]],
      [Uint8Array.of(1, 0, 1), [3]],
    ] as const) {
      const t = Tensor.from(data as never, shape);
      const zero = Tensor.zeros(shape, t.dtype);
      const r = await native().testing.addTensors({ dtype: t.dtype, shape: [...shape], data: t.data }, { dtype: zero.dtype, shape: [...shape], data: zero.data });
      expect(r.shape).toEqual(shape);
      expect(Array.from(r.data as ArrayLike<unknown>)).toEqual(Array.from(data as ArrayLike<unknown>));
    }
  });

  it('validates tensors at the native boundary', async () => {
    expect(() => native().testing.addTensors({ dtype: 'float32', shape: [3], data: new Float32Array(2) }, { dtype: 'float32', shape: [3], data: new Float32Array(3) }))
      .toThrow(/Expected 3 elements/);
    expect(() => native().testing.addTensors({ dtype: 'float64' as 'float32', shape: [1], data: new Float32Array(1) }, { dtype: 'float32', shape: [1], data: new Float32Array(1) }))
      .toThrow(/Expected dtype float32, int64, int32 or bool/);
  });
});
