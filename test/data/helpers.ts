/**
 * Test helpers for lib/data: temp folders, test images made with sharp, and a small
 * processor/tokenizer pair.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Tensor } from '../../lib/tensor.js';
import type { ImageInput } from '../../lib/data/index.js';
import { isRawImage } from '../../lib/data/index.js';

export function tempDir(prefix = 'tc-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small solid-colour image, encoded. */
export async function solidImage(
  width: number, height: number, rgb: [number, number, number], format: 'png' | 'jpeg' = 'png',
): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 90 }).toBuffer();
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG whose header claims width x height (the data is tiny): trips any pixel limit cheaply. */
export async function hugeHeaderPng(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await solidImage(4, 4, [0, 0, 0]));
  // IHDR chunk: length(4) 'IHDR'(4) width(4) height(4) ... crc over type+data at offset 29
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/**
 * A minimal image processor for loader tests: decodes with sharp (EXIF-rotated, to sRGB, alpha
 * removed), resizes to size x size and scales to [0, 1]; throws on anything sharp cannot read.
 */
export class TestProcessor {
  calls = 0;
  inputs: ImageInput[] = [];
  constructor(readonly size = 8, readonly limitInputPixels = 50_000_000) {}
  async preprocess(inputs: ImageInput | ImageInput[]): Promise<Tensor> {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const out = new Float32Array(list.length * 3 * this.size * this.size);
    let k = 0;
    for (const input of list) {
      this.calls++;
      this.inputs.push(input);
      const img = isRawImage(input)
        ? sharp(input.data, { raw: { width: input.width, height: input.height, channels: input.channels } })
        : sharp(input as string | Buffer, { limitInputPixels: this.limitInputPixels, failOn: 'warning' });
      const { data } = await img.rotate().toColourspace('srgb').removeAlpha()
        .resize(this.size, this.size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
      const hw = this.size * this.size;
      for (let i = 0; i < hw; i++) for (let c = 0; c < 3; c++) out[k + c * hw + i] = data[i * 3 + c]! / 255;
      k += 3 * hw;
    }
    return Tensor.from(out, [list.length, 3, this.size, this.size]);
  }
}

/** Word-level tokenizer with ids from a hash of the word (same ids in every instance; eos = pad = 0 as for GPT-2). */
export class TestTokenizer {
  readonly eos_token_id = 0;
  readonly pad_token_id = 0;
  readonly bos_token_id = 0;
  encode(text: string): number[] {
    return text.split(' ').filter(Boolean).map((w) => {
      let h = 0x811c9dc5;
      for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
      return ((h >>> 0) % 5000) + 1;
    });
  }
}

/** Rows of a 2-D int64 tensor as number arrays. */
export function rows(t: Tensor): number[][] {
  return t.toNested2D();
}

/** Drain an async iterable into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
