/** safetensors files from JS: read (memory-mapped, validated natively) and write (atomic). */
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

export async function readSafetensors(path: string): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> | null }> {
  const { tensors, metadata } = await native().readSafetensors(path);
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = Tensor.from(t.data, t.shape);
  return { tensors: out, metadata };
}

export async function readSafetensorsHeader(path: string): Promise<{ name: string; dtype: string; shape: number[]; offsets: [number, number] }[]> {
  return native().readSafetensorsHeader(path);
}

export async function writeSafetensors(path: string, tensors: Record<string, Tensor>, metadata: Record<string, string> | null = null): Promise<void> {
  const raw: Record<string, { dtype: Tensor['dtype']; shape: number[]; data: Tensor['data'] }> = {};
  for (const [k, t] of Object.entries(tensors)) raw[k] = { dtype: t.dtype, shape: [...t.shape], data: t.data };
  await native().writeSafetensors(path, raw, metadata);
}
