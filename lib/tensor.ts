/**
 * Host tensors: a typed array plus a shape and a dtype. This is what crosses the N-API boundary
 * (native code wraps `data` without copying where it can) and what the public API returns.
 */
import { expected, InvalidArgumentError } from './errors.js';

export type DType = 'float32' | 'int64' | 'int32' | 'bool';

export interface TypedArrayFor {
  float32: Float32Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

const DTYPE_OF_CTOR = new Map<unknown, DType>([
  [Float32Array, 'float32'],
  [BigInt64Array, 'int64'],
  [Int32Array, 'int32'],
  [Uint8Array, 'bool'],
]);

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayFor[D];

  private constructor(data: TypedArrayFor[D], shape: readonly number[], dtype: D) {
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
  }

  /**
   * Wrap a typed array (not copied). The dtype follows the array type: Float32Array -> float32,
   * BigInt64Array -> int64, Int32Array -> int32, Uint8Array -> bool (or pass dtype 'bool' explicitly).
   */
  static from<A extends TensorData>(data: A, shape: readonly number[], dtype?: DType): Tensor {
    const inferred = DTYPE_OF_CTOR.get(data?.constructor);
    if (inferred === undefined) {
      expected('a Float32Array, BigInt64Array, Int32Array or Uint8Array', 'Tensor data', data);
    }
    if (dtype !== undefined && dtype !== inferred) {
      throw new InvalidArgumentError(
        `Expected a ${ctorName(dtype)} for dtype '${dtype}' but received ${data.constructor.name}`,
      );
    }
    validateShape(shape);
    if (numel(shape) !== data.length) {
      throw new InvalidArgumentError(
        `Expected ${numel(shape)} elements for shape [${shape.join(', ')}] but received ${data.length}`,
      );
    }
    return new Tensor(data as never, shape, inferred);
  }

  /** A tensor filled with zeros. */
  static zeros<D extends DType>(shape: readonly number[], dtype: D): Tensor<D> {
    validateShape(shape);
    const n = numel(shape);
    const data = (dtype === 'float32' ? new Float32Array(n)
      : dtype === 'int64' ? new BigInt64Array(n)
        : dtype === 'int32' ? new Int32Array(n) : new Uint8Array(n)) as TypedArrayFor[D];
    return new Tensor(data, shape, dtype);
  }

  /** int64 tensor from nested or flat JS numbers (token ids, labels). */
  static int64(rows: readonly (readonly number[])[] | readonly number[], shape?: readonly number[]): Tensor<'int64'> {
    const flat = (rows as readonly unknown[]).flat() as number[];
    const s = shape ?? (Array.isArray(rows[0]) ? [rows.length, (rows[0] as number[]).length] : [flat.length]);
    const data = BigInt64Array.from(flat, (v) => BigInt(v));
    return Tensor.from(data, s) as Tensor<'int64'>;
  }

  get size(): number {
    return this.data.length;
  }

  /** Plain JS numbers (int64 converted with Number()). */
  toArray(): number[] {
    return Array.from(this.data as ArrayLike<number | bigint>, (v) => Number(v));
  }

  /** Rows of a 2-D tensor as number arrays. */
  toNested2D(): number[][] {
    if (this.shape.length !== 2) throw new InvalidArgumentError(`Expected a 2-D tensor but received shape [${this.shape.join(', ')}]`);
    const [r, c] = this.shape as [number, number];
    const flat = this.toArray();
    return Array.from({ length: r }, (_, i) => flat.slice(i * c, (i + 1) * c));
  }

  /** A view of rows [start, end) along the first axis (shares memory). */
  slice0(start: number, end: number): Tensor<D> {
    const row = numel(this.shape.slice(1));
    const data = this.data.subarray(start * row, end * row) as TypedArrayFor[D];
    return new Tensor(data, [end - start, ...this.shape.slice(1)], this.dtype);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}])`;
  }
}

function ctorName(dtype: DType): string {
  return dtype === 'float32' ? 'Float32Array' : dtype === 'int64' ? 'BigInt64Array' : dtype === 'int32' ? 'Int32Array' : 'Uint8Array';
}

function validateShape(shape: readonly number[]): void {
  if (!Array.isArray(shape)) expected('an array of non-negative integers', 'shape', shape);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) expected('an array of non-negative integers', 'shape', shape);
  }
}

/** Stack equal-shaped tensors along a new first axis (copies). */
export function stack(tensors: readonly Tensor<'float32'>[]): Tensor<'float32'> {
  if (tensors.length === 0) throw new InvalidArgumentError('Expected at least one tensor to stack but received none');
  const shape = tensors[0]!.shape;
  const per = tensors[0]!.size;
  const out = new Float32Array(per * tensors.length);
  tensors.forEach((t, i) => {
    if (t.shape.join() !== shape.join()) {
      throw new InvalidArgumentError(`Expected shape [${shape.join(', ')}] for tensor ${i} but received [${t.shape.join(', ')}]`);
    }
    out.set(t.data, i * per);
  });
  return Tensor.from(out, [tensors.length, ...shape]) as Tensor<'float32'>;
}
