/**
 * The on-disk cache of encoder outputs behind TrainingArguments.cache_encoder_outputs: the frozen vision tower's
 * last hidden state of each image, computed once and read back every epoch.
 *
 * Layout of the folder (output_dir/encoder_cache):
 * - states.bin: fixed-size slots, one per image, [tokens, width] values in float32 or bfloat16 (little endian).
 * - index.jsonl: one line per slot, `{"id", "slot", "hash"}`, appended after the slot's bytes are written, so a
 *   line never names a slot that is not there (a torn last line is ignored on open).
 * - meta.json: format, version, dtype, tokens, width.
 *
 * Rows are read with one positioned read each (FileHandle.read at slot * slotBytes) on libuv's thread pool,
 * from the same page cache a memory map would use; see docs/training.md for why this is not an mmap.
 * `hash` is the SHA-1 of the image's float32 pixel values: a later read of the same item with other pixels
 * (a random augmentation) is caught instead of silently training on a stale state.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, TorchCaptionError } from '../errors.js';
import { Tensor } from '../tensor.js';

export type EncoderCacheDType = 'float32' | 'bfloat16';

const FORMAT = 'torch-caption-encoder-cache';
const VERSION = 1;
const STATES = 'states.bin';
const INDEX = 'index.jsonl';
const META = 'meta.json';

interface Meta {
  format: string;
  version: number;
  dtype: EncoderCacheDType;
  tokens: number;
  width: number;
}

interface Entry {
  slot: number;
  hash: string;
}

/** float32 -> bfloat16 bits, rounding to nearest even as torch does (NaN stays a quiet NaN). */
export function toBFloat16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    dst[i] = (x & 0x7fffffff) > 0x7f800000 ? 0x7fc0 | ((x >>> 16) & 0x8000) : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return dst;
}

/** bfloat16 bits -> float32 (exact). */
export function fromBFloat16(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const u = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i]! << 16;
  return dst;
}

/** SHA-1 of each row's float32 pixel values ([B, ...] -> B hex digests). */
export function pixelHashes(pixels: Tensor): string[] {
  const n = pixels.shape[0]!;
  const data = pixels.data as Float32Array;
  const per = data.length / Math.max(1, n);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(createHash('sha1').update(new Uint8Array(data.buffer, data.byteOffset + i * per * 4, per * 4)).digest('hex'));
  }
  return out;
}

export class EncoderCache {
  readonly dir: string;
  readonly dtype: EncoderCacheDType;
  #meta: Meta | null;
  #index = new Map<string, Entry>();
  #slots = 0;
  #states: FileHandle | null = null;
  #log: FileHandle | null = null;

  private constructor(dir: string, dtype: EncoderCacheDType, meta: Meta | null) {
    this.dir = dir;
    this.dtype = dtype;
    this.#meta = meta;
  }

  /**
   * Open (or create) the cache in `dir`. A cache written with another dtype or by a newer format is started
   * afresh; `note` says so.
   */
  static async open(dir: string, opts: { dtype: EncoderCacheDType; note?: (line: string) => void }): Promise<EncoderCache> {
    if (opts.dtype !== 'float32' && opts.dtype !== 'bfloat16') throw new InvalidArgumentError(`Expected 'float32' or 'bfloat16' for the encoder cache dtype but received ${JSON.stringify(opts.dtype)}`);
    await mkdir(dir, { recursive: true });
    let meta: Meta | null = null;
    if (existsSync(join(dir, META))) {
      try {
        const m = JSON.parse(await readFile(join(dir, META), 'utf8')) as Meta;
        if (m.format === FORMAT && m.version === VERSION && m.dtype === opts.dtype && Number.isInteger(m.tokens) && Number.isInteger(m.width)) meta = m;
        else opts.note?.(`The encoder cache in ${dir} was written ${m.dtype !== opts.dtype ? `as ${String(m.dtype)}` : 'in another format'}; starting it afresh as ${opts.dtype}`);
      } catch {
        opts.note?.(`The encoder cache in ${dir} has an unreadable ${META}; starting it afresh`);
      }
    }
    const cache = new EncoderCache(dir, opts.dtype, meta);
    if (meta) await cache.#readIndex();
    else await cache.#reset(null);
    return cache;
  }

  /** Images cached. */
  get size(): number {
    return this.#index.size;
  }

  /** [tokens, width] of one image's states, once the first image was stored. */
  get shape(): [number, number] | null {
    return this.#meta ? [this.#meta.tokens, this.#meta.width] : null;
  }

  /** The pixel hash an id was cached with, or undefined. */
  hashOf(id: string): string | undefined {
    return this.#index.get(id)?.hash;
  }

  has(id: string): boolean {
    return this.#index.has(id);
  }

  get #bytesPerValue(): number {
    return this.dtype === 'float32' ? 4 : 2;
  }

  get #slotBytes(): number {
    return this.#meta!.tokens * this.#meta!.width * this.#bytesPerValue;
  }

  async #readIndex(): Promise<void> {
    const statesPath = join(this.dir, STATES);
    const size = existsSync(statesPath) ? (await open(statesPath, 'r').then(async (f) => { try { return (await f.stat()).size; } finally { await f.close(); } })) : 0;
    const complete = Math.floor(size / this.#slotBytes);
    const text = existsSync(join(this.dir, INDEX)) ? await readFile(join(this.dir, INDEX), 'utf8') : '';
    let max = -1;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let e: { id?: unknown; slot?: unknown; hash?: unknown };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue; // a torn last line
      }
      if (typeof e.id !== 'string' || typeof e.hash !== 'string' || !Number.isInteger(e.slot) || (e.slot as number) < 0 || (e.slot as number) >= complete) continue;
      this.#index.set(e.id, { slot: e.slot as number, hash: e.hash });
      max = Math.max(max, e.slot as number);
    }
    this.#slots = max + 1;
  }

  /** Empty the cache (kept dtype; the shape is set again by the next put, or now when given). */
  async clear(): Promise<void> {
    await this.#reset(null);
  }

  async #reset(shape: [number, number] | null): Promise<void> {
    await this.#closeFiles();
    await rm(join(this.dir, STATES), { force: true });
    await rm(join(this.dir, INDEX), { force: true });
    await rm(join(this.dir, META), { force: true });
    this.#index.clear();
    this.#slots = 0;
    this.#meta = null;
    if (shape) {
      this.#meta = { format: FORMAT, version: VERSION, dtype: this.dtype, tokens: shape[0], width: shape[1] };
      await writeFile(join(this.dir, META), JSON.stringify(this.#meta, null, 2) + '\n');
    }
  }

  async #files(): Promise<{ states: FileHandle; log: FileHandle }> {
    this.#states ??= await open(join(this.dir, STATES), existsSync(join(this.dir, STATES)) ? 'r+' : 'w+');
    this.#log ??= await open(join(this.dir, INDEX), 'a');
    return { states: this.#states, log: this.#log };
  }

  /**
   * Store the states of the rows whose ids are not cached yet. `states` is float32 [B, tokens, width], row i
   * belonging to ids[i] with pixel hash hashes[i]. A cache holding states of another shape is emptied first.
   */
  async put(ids: readonly string[], hashes: readonly string[], states: Tensor): Promise<number> {
    const [B, tokens, width] = states.shape as [number, number, number];
    if (states.dtype !== 'float32' || states.shape.length !== 3 || B !== ids.length || B !== hashes.length) {
      throw new TorchCaptionError(`encoder cache: expected float32 states [${ids.length}, N, D] but received ${states.toString()}`);
    }
    if (!this.#meta || this.#meta.tokens !== tokens || this.#meta.width !== width) await this.#reset([tokens, width]);
    const { states: f, log } = await this.#files();
    const per = tokens * width;
    const data = states.data as Float32Array;
    const lines: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < B; i++) {
      const id = ids[i]!;
      if (this.#index.has(id) || seen.has(id)) continue;
      seen.add(id);
      const row = data.subarray(i * per, (i + 1) * per);
      const bytes = this.dtype === 'float32'
        ? new Uint8Array(row.buffer, row.byteOffset, row.byteLength)
        : new Uint8Array(toBFloat16(row).buffer);
      const slot = this.#slots++;
      await f.write(bytes, 0, bytes.length, slot * this.#slotBytes);
      this.#index.set(id, { slot, hash: hashes[i]! });
      lines.push(JSON.stringify({ id, slot, hash: hashes[i] }) + '\n');
    }
    // The index lines go after their slots' bytes: a line never names a slot that was not written.
    if (lines.length) await log.write(lines.join(''));
    return lines.length;
  }

  /** The cached states of `ids` as float32 [ids.length, tokens, width]; every id must be cached. */
  async get(ids: readonly string[]): Promise<Tensor<'float32'>> {
    if (!this.#meta) throw new TorchCaptionError('encoder cache: get() before any states were stored');
    const { states: f } = await this.#files();
    const per = this.#meta.tokens * this.#meta.width;
    const out = new Float32Array(ids.length * per);
    const slotBytes = this.#slotBytes;
    const raw = this.dtype === 'float32' ? null : new Uint16Array(per);
    for (let i = 0; i < ids.length; i++) {
      const e = this.#index.get(ids[i]!);
      if (!e) throw new TorchCaptionError(`encoder cache: no states for item ${ids[i]}`);
      const target = raw ? new Uint8Array(raw.buffer) : new Uint8Array(out.buffer, i * per * 4, per * 4);
      const { bytesRead } = await f.read(target, 0, slotBytes, e.slot * slotBytes);
      if (bytesRead !== slotBytes) throw new TorchCaptionError(`encoder cache: ${join(this.dir, STATES)} is shorter than its index says (slot ${e.slot}); delete ${this.dir} to rebuild it`);
      if (raw) fromBFloat16(raw, out.subarray(i * per, (i + 1) * per));
    }
    return Tensor.from(out, [ids.length, this.#meta.tokens, this.#meta.width]) as Tensor<'float32'>;
  }

  /** Round float32 states through the cache's dtype (what get() would return for them). */
  roundTrip(states: Tensor): Float32Array {
    const data = states.data as Float32Array;
    return this.dtype === 'float32' ? data : fromBFloat16(toBFloat16(data));
  }

  async #closeFiles(): Promise<void> {
    const files = [this.#states, this.#log];
    this.#states = null;
    this.#log = null;
    for (const f of files) await f?.close();
  }

  async close(): Promise<void> {
    await this.#closeFiles();
  }
}
