/** Helpers for the processing tests: a minimal safetensors reader, temp folders, hand-made PNGs. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

export interface StTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | BigInt64Array | Uint8Array;
}

/** Read a .safetensors file (F32, I64, U8 only). */
export function readSafetensors(file: string): Record<string, StTensor> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, StTensor> = {};
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [s, e] = h.data_offsets;
    const bytes = buf.buffer.slice(buf.byteOffset + 8 + n + s, buf.byteOffset + 8 + n + e);
    const data = h.dtype === 'F32' ? new Float32Array(bytes) : h.dtype === 'I64' ? new BigInt64Array(bytes) : new Uint8Array(bytes);
    out[name] = { dtype: h.dtype, shape: h.shape, data };
  }
  return out;
}

export function tempDir(prefix = 'tc-proc-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A 16-bit grayscale PNG (colour type 0), which PIL opens as mode "I". */
export function png16Gray(width: number, height: number, values: readonly number[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16;
  ihdr[9] = 0;
  const stride = 1 + width * 2;
  const raw = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.writeUInt16BE(values[y * width + x]!, y * stride + 1 + x * 2);
  }
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}
