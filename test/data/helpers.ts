/**
 * Test helpers for lib/data: temp folders, test images made with sharp, and a small
 * processor/tokenizer pair.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Tensor } from '../../lib/tensor.js';
import type { ItemImage, ImagePreprocessor } from '../../lib/data/index.js';
import { isRawImage } from '../../lib/data/index.js';
import { ImageProcessor, Tokenizer } from '../../lib/processing/index.js';

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
  inputs: ItemImage[] = [];
  constructor(readonly size = 8, readonly limitInputPixels = 50_000_000) {}
  async preprocess(inputs: ItemImage | readonly ItemImage[]): Promise<Tensor> {
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

/** GPT-2's byte -> unicode table (printable bytes map to themselves, the rest to 256+). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const table: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(bs.includes(b) ? b : 256 + n++);
  return table;
}

let tokenizer: Promise<Tokenizer> | undefined;

/**
 * The real Tokenizer over a tiny byte-level GPT-2 vocabulary: the 256 byte tokens plus a few merges
 * for common caption words, <|endoftext|> = 256 as bos/eos (GPT-2 layout, no pad token).
 */
export function realTokenizer(): Promise<Tokenizer> {
  tokenizer ??= (async () => {
    const { dir } = tempDir('tc-tok-');
    const table = bytesToUnicode();
    const vocab: Record<string, number> = {};
    table.forEach((ch, i) => { vocab[ch] = i; });
    vocab['<|endoftext|>'] = 256;
    const merges: string[] = [];
    let next = 257;
    for (const word of ['\u0120a', '\u0120the', '\u0120of', 'ed', '\u0120small', '\u0120large']) {
      let cur = word[0]!;
      for (const ch of word.slice(1)) {
        merges.push(`${cur} ${ch}`);
        cur += ch;
        if (vocab[cur] === undefined) vocab[cur] = next++;
      }
    }
    writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
    writeFileSync(path.join(dir, 'merges.txt'), ['#version: 0.2', ...merges].join('\n') + '\n');
    return Tokenizer.fromPretrained(dir);
  })();
  return tokenizer;
}

/** The real ImageProcessor resizing to size x size (PIL-exact path). */
export function realProcessor(size = 8): ImageProcessor {
  return ImageProcessor.fromConfig({ size: { height: size, width: size } });
}

/** Wraps a processor, counting preprocess calls and recording the inputs. */
export class CountingProcessor {
  calls = 0;
  inputs: ItemImage[] = [];
  constructor(private readonly inner: ImagePreprocessor) {}
  preprocess(input: ItemImage | readonly ItemImage[]): Promise<Tensor> {
    this.calls++;
    this.inputs.push(...(Array.isArray(input) ? input : [input]));
    return this.inner.preprocess(input);
  }
}
