/**
 * DataLoader: turns a Dataset into training batches {pixel_values, labels, ids, captions}.
 *
 * - Images decode in parallel (at most `concurrency` at once) while at most `prefetch` batches'
 *   worth of items are in flight; batches come out in dataset order whatever finishes first.
 * - A bad item (missing/unreadable/corrupt/empty/oversized image, no usable caption) is skipped and
 *   counted per reason; skipping is fatal only above `maxSkipRatio` of the items seen in an epoch.
 * - `state()` is the position after the last batch handed out; `resumeFrom: state` continues with
 *   exactly the batches that would have followed, jumping straight there when the dataset has random
 *   access and otherwise reading (not decoding) the items before it.
 */
import { promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { expected, InvalidArgumentError, TorchCaptionError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { buildLabels } from '../processing/index.js';
import type { BatchSource, IterationContext, StreamCursor } from './node.js';
import { hashInts, Rng, toSeed } from './random.js';
import { normalizeCaption } from './text.js';
import { isRawImage, type ImageInput, type ImagePreprocessor, type LabelTokenizer, type RawImage } from '../types.js';
import type { DataItem } from './types.js';

/** ImagePreprocessor (anything with ImageProcessor's preprocess) lives in lib/types.ts; re-exported under its old home. */
export type { ImagePreprocessor } from '../types.js';

export type CaptionSampling = 'random' | 'first' | 'all';

export interface LoaderStats {
  /** Items read from the dataset this epoch (good and bad). */
  seen: number;
  /** Items whose rows went out in batches. */
  yielded: number;
  /** Skipped items per reason. */
  skipped: Record<string, number>;
  /** Items fixed up rather than skipped, per fix ('invalid_utf8', 'control_chars', 'dropped_empty_caption'). */
  normalized: Record<string, number>;
  /** Items left in a final partial batch dropped by drop_last. */
  dropped: number;
  /** Up to 3 examples (id: message) per skip reason. */
  examples: Record<string, string[]>;
}

/** Where a loader is: JSON-serializable, for checkpoints. */
export interface LoaderState {
  version: 1;
  epoch: number;
  /** Items of this epoch consumed by the batches handed out so far. */
  index: number;
  /** Rows of item index-1 still to come (captionSampling 'all' splits an item across batches). */
  carry: number;
  /** Batches handed out this epoch. */
  batches: number;
  seed: number;
  captionSampling: CaptionSampling;
  stats: LoaderStats;
  /**
   * Where the dataset's stream stands at the resume position (index, or index - 1 while carry > 0), when
   * its source can say (DatasetNode.cursor: a WebDataset source names the tar shard and the samples into
   * it): a loader resumed from this state starts reading there instead of at the epoch's first item.
   */
  cursor?: StreamCursor;
}

export interface EpochReport {
  epoch: number;
  batches: number;
  stats: LoaderStats;
}

export interface BatchesOptions {
  /** Rows per batch. */
  batch_size: number;
  /** Label length cap passed to buildLabels (eos included). Default 64. */
  max_length?: number;
  /** Decodes, resizes and normalizes images (ImageProcessor or anything with its preprocess). */
  imageProcessor: ImagePreprocessor;
  /** Tokenizer for the labels (Tokenizer). */
  tokenizer: LabelTokenizer;
  /** Which caption(s) of an item become label rows: one at random (seeded), the first, or all. Default 'random'. */
  captionSampling?: CaptionSampling;
  /** Batches decoded ahead of the consumer. Default 2. */
  prefetch?: number;
  /** Images decoded at once. Default min(4, available cores). */
  concurrency?: number;
  /** Label value after eos: -100 (ignored by the loss, HF default) or 'eos'. Default -100. */
  padLabel?: -100 | 'eos';
  /** Drop the last partial batch of an epoch. Default false. */
  drop_last?: boolean;
  /** Seed for caption sampling (per epoch and position). Default 0. */
  seed?: number;
  /**
   * This dataset is rank `rank`'s strided shard of a larger one (items rank, rank+world, ...: Dataset.shard). Caption
   * draws then follow each item's position in the whole, so that the ranks together draw what one loader over the
   * whole would. Default: not a shard.
   */
  shardOf?: { rank: number; world: number };
  /** Epoch to start at (ignored with resumeFrom). Default 0. */
  epoch?: number;
  /** A state() from an earlier loader over the same dataset: continue right after it. */
  resumeFrom?: LoaderState;
  /** Largest tolerated fraction of skipped items in an epoch. Default 0.1. */
  maxSkipRatio?: number;
  /** Called at the end of each epoch with the counts. */
  onEpochEnd?: (report: EpochReport) => void | Promise<void>;
  /** Receives one summary line per epoch that skipped or fixed items. Default: console.warn when nothing else is given. */
  log?: (message: string) => void;
}

export interface Batch {
  /** float32 [B, 3, H, W]. */
  pixel_values: Tensor<'float32'>;
  /** int64 [B, T]: caption ids, eos appended, then padLabel. */
  labels: Tensor<'int64'>;
  /** Item id per row. */
  ids: string[];
  /** All reference captions of each row's item (normalized). */
  captions: string[][];
  /** The caption each label row was built from. */
  texts: string[];
}

/** Too many items of an epoch were skipped (see LoaderStats). */
export class DataQualityError extends TorchCaptionError {
  constructor(message: string, readonly stats: LoaderStats) {
    super(message);
  }
}

function emptyStats(): LoaderStats {
  return { seen: 0, yielded: 0, skipped: {}, normalized: {}, dropped: 0, examples: {} };
}

function cloneStats(s: LoaderStats): LoaderStats {
  return {
    seen: s.seen,
    yielded: s.yielded,
    skipped: { ...s.skipped },
    normalized: { ...s.normalized },
    dropped: s.dropped,
    examples: Object.fromEntries(Object.entries(s.examples).map(([k, v]) => [k, [...v]])),
  };
}

function totalSkipped(s: LoaderStats): number {
  let n = 0;
  for (const v of Object.values(s.skipped)) n += v;
  return n;
}

function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(', ');
}

/** Map a preprocess error to a skip reason. */
export function classifyImageError(err: unknown): string {
  const e = (err ?? {}) as { reason?: unknown; code?: unknown; message?: unknown };
  if (typeof e.reason === 'string' && e.reason) return e.reason;
  if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return 'missing_file';
  if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EISDIR') return 'unreadable_file';
  const msg = String(e.message ?? err);
  if (/pixel limit|limitInputPixels|at most \d+ pixels|too (large|big)|exceeds|dimensions? .*limit/i.test(msg)) return 'too_large';
  if (/ENOENT|no such file|does not exist|not found/i.test(msg)) return 'missing_file';
  if (/EACCES|permission/i.test(msg)) return 'unreadable_file';
  if (/empty|zero[- ]byte|0 bytes/i.test(msg)) return 'empty_file';
  return 'corrupt_image';
}

interface Good {
  ok: true;
  pixels: Float32Array;
  shape: readonly number[];
  captions: string[];
  fixes: string[];
}
interface Bad {
  ok: false;
  reason: string;
  detail: string;
  /** A configuration error (not a data problem): rethrown to the consumer. */
  fatal?: Error;
}
type Outcome = Good | Bad;

interface Pending {
  pos: number;
  id: string;
  outcome: Promise<Outcome>;
}

interface Row {
  pixels: Float32Array;
  id: string;
  captions: string[];
  text: string;
  first: boolean;
}

class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}

/** A raw image as an uncompressed TIFF: lossless, and the cheapest format to write and read back. */
export async function encodeRawImage(raw: RawImage): Promise<Buffer> {
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    .tiff({ compression: 'none' }).toBuffer();
}

function positiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) expected('a positive integer', name, value);
  return value;
}

const DEFAULT_MAX_LENGTH = 64;

export class DataLoader<T extends DataItem = DataItem> implements AsyncIterable<Batch> {
  readonly #dataset: BatchSource<T>;
  readonly #batchSize: number;
  readonly #maxLength: number;
  readonly #processor: ImagePreprocessor;
  readonly #tokenizer: LabelTokenizer;
  readonly #sampling: CaptionSampling;
  readonly #prefetch: number;
  readonly #concurrency: number;
  readonly #padLabel: -100 | 'eos';
  readonly #dropLast: boolean;
  readonly #seed: number;
  readonly #shard: { rank: number; world: number };
  readonly #maxSkipRatio: number;
  readonly #onEpochEnd: BatchesOptions['onEpochEnd'];
  readonly #log: BatchesOptions['log'];
  #epoch: number;
  #index = 0;
  #carry = 0;
  #batches = 0;
  #stats: LoaderStats = emptyStats();
  #lastEpochStats: LoaderStats | null = null;
  #running = false;
  #rawMode: 'probe' | 'pass' | 'encode' = 'probe';
  /** resumeFrom's cursor, for the first iteration only (the node checks it is for the position asked). */
  #resumeCursor: StreamCursor | undefined;

  constructor(dataset: BatchSource<T>, options: BatchesOptions) {
    if (options === null || typeof options !== 'object') expected('an options object', 'batches', options);
    this.#dataset = dataset;
    this.#batchSize = positiveInt(options.batch_size, 'batch_size');
    this.#maxLength = options.max_length === undefined ? DEFAULT_MAX_LENGTH : positiveInt(options.max_length, 'max_length');
    const proc = options.imageProcessor;
    if (proc === null || typeof proc !== 'object' || typeof proc.preprocess !== 'function') {
      expected('an object with preprocess(images)', 'imageProcessor', proc);
    }
    this.#processor = proc;
    const tok = options.tokenizer as { encode?: unknown } | null;
    if (tok === null || typeof tok !== 'object' || typeof tok.encode !== 'function') {
      expected('a tokenizer with encode(text)', 'tokenizer', options.tokenizer);
    }
    this.#tokenizer = options.tokenizer;
    const shard = options.shardOf ?? { rank: 0, world: 1 };
    if (!(Number.isInteger(shard.world) && shard.world >= 1 && Number.isInteger(shard.rank) && shard.rank >= 0 && shard.rank < shard.world)) {
      expected('{rank, world} with 0 <= rank < world', 'shardOf', shard);
    }
    this.#shard = { rank: shard.rank, world: shard.world };
    const sampling = options.captionSampling ?? 'random';
    if (sampling !== 'random' && sampling !== 'first' && sampling !== 'all') {
      expected("'random', 'first' or 'all'", 'captionSampling', sampling);
    }
    this.#sampling = sampling;
    this.#prefetch = options.prefetch === undefined ? 2 : positiveInt(options.prefetch, 'prefetch');
    this.#concurrency = options.concurrency === undefined ? Math.max(1, Math.min(4, availableParallelism()))
      : positiveInt(options.concurrency, 'concurrency');
    const pad = options.padLabel ?? -100;
    if (pad !== -100 && pad !== 'eos') expected("-100 or 'eos'", 'padLabel', pad);
    this.#padLabel = pad;
    if (options.drop_last !== undefined && typeof options.drop_last !== 'boolean') expected('a boolean', 'drop_last', options.drop_last);
    this.#dropLast = options.drop_last ?? false;
    const ratio = options.maxSkipRatio ?? 0.1;
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) expected('a number between 0 and 1', 'maxSkipRatio', ratio);
    this.#maxSkipRatio = ratio;
    if (options.onEpochEnd !== undefined && typeof options.onEpochEnd !== 'function') expected('a function', 'onEpochEnd', options.onEpochEnd);
    if (options.log !== undefined && typeof options.log !== 'function') expected('a function', 'log', options.log);
    this.#onEpochEnd = options.onEpochEnd;
    this.#log = options.log ?? (options.onEpochEnd ? undefined : (m: string) => console.warn(m));

    const r = options.resumeFrom;
    if (r !== undefined) {
      if (r === null || typeof r !== 'object' || r.version !== 1) expected('a LoaderState from state()', 'resumeFrom', r);
      if (options.seed !== undefined && toSeed(options.seed) !== toSeed(r.seed)) {
        throw new InvalidArgumentError(`Expected seed ${r.seed} (the resumed state's) for batches but received ${options.seed}`);
      }
      if (options.captionSampling !== undefined && options.captionSampling !== r.captionSampling) {
        throw new InvalidArgumentError(`Expected captionSampling '${r.captionSampling}' (the resumed state's) for batches but received '${options.captionSampling}'`);
      }
      if (r.captionSampling !== 'random' && r.captionSampling !== 'first' && r.captionSampling !== 'all') {
        expected("'random', 'first' or 'all'", 'resumeFrom.captionSampling', r.captionSampling);
      }
      this.#sampling = r.captionSampling;
      this.#seed = r.seed;
      this.#epoch = checkNonNeg(r.epoch, 'resumeFrom.epoch');
      this.#index = checkNonNeg(r.index, 'resumeFrom.index');
      this.#carry = checkNonNeg(r.carry, 'resumeFrom.carry');
      this.#batches = checkNonNeg(r.batches, 'resumeFrom.batches');
      this.#stats = r.stats ? cloneStats({ ...emptyStats(), ...r.stats }) : emptyStats();
      if (this.#carry > 0 && this.#index === 0) expected('carry 0 at index 0', 'resumeFrom', r);
      if (r.cursor !== undefined && (r.cursor === null || typeof r.cursor !== 'object' || Array.isArray(r.cursor))) {
        expected('a cursor object from state()', 'resumeFrom.cursor', r.cursor);
      }
      this.#resumeCursor = r.cursor;
    } else {
      const seed = options.seed ?? 0;
      if (typeof seed !== 'number' || !Number.isFinite(seed)) expected('a finite number', 'seed', seed);
      this.#seed = seed;
      this.#epoch = options.epoch === undefined ? 0 : checkNonNeg(options.epoch, 'epoch');
    }
  }

  /** The epoch the next iteration runs (or the one running). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Counts of the current epoch so far (a copy); all zeros again once an epoch has ended. */
  get stats(): LoaderStats {
    return cloneStats(this.#stats);
  }

  /**
   * Counts of the last epoch that ran to its end (a copy), also when that end threw a DataQualityError;
   * null before any epoch of this loader ended (it is not part of state(), so a resumed loader starts with null).
   */
  get lastEpochStats(): LoaderStats | null {
    return this.#lastEpochStats === null ? null : cloneStats(this.#lastEpochStats);
  }

  /** Position after the last batch handed out (JSON-serializable). */
  state(): LoaderState {
    const state: LoaderState = {
      version: 1,
      epoch: this.#epoch,
      index: this.#index,
      carry: this.#carry,
      batches: this.#batches,
      seed: this.#seed,
      captionSampling: this.#sampling,
      stats: cloneStats(this.#stats),
    };
    const cursor = this.#cursorAt(this.#resumePosition());
    if (cursor !== undefined) state.cursor = cursor;
    return state;
  }

  /** The first position the next iteration reads: the item whose rows are still due, else the next item. */
  #resumePosition(): number {
    return this.#carry > 0 ? this.#index - 1 : this.#index;
  }

  /** The source's cursor for a position of the current epoch (none at 0: nothing to skip there). */
  #cursorAt(position: number): StreamCursor | undefined {
    if (position === 0) return undefined;
    return this.#dataset.node.cursor?.({ epoch: this.#epoch }, position) ?? this.#resumeCursor;
  }

  /** Start epoch n from its beginning at the next iteration. */
  setEpoch(epoch: number): this {
    if (this.#running) throw new InvalidArgumentError('Expected no iteration in progress for setEpoch but received one');
    this.#epoch = checkNonNeg(epoch, 'epoch');
    this.#index = 0;
    this.#carry = 0;
    this.#batches = 0;
    this.#stats = emptyStats();
    this.#resumeCursor = undefined;
    return this;
  }

  /**
   * Batches in a full epoch when the dataset size is known (before skips; 'all' sampling counts
   * captions, which needs a pass over the items, so it gives undefined).
   */
  async numBatches(): Promise<number | undefined> {
    if (this.#sampling === 'all') return undefined;
    const n = await this.#dataset.size({ epoch: this.#epoch });
    if (n === undefined) return undefined;
    return this.#dropLast ? Math.floor(n / this.#batchSize) : Math.ceil(n / this.#batchSize);
  }

  /** One epoch of batches, from the current position; the next iteration runs the next epoch. */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.#run();
  }

  #skip(reason: string, detail: string): void {
    const s = this.#stats;
    s.skipped[reason] = (s.skipped[reason] ?? 0) + 1;
    const ex = (s.examples[reason] ??= []);
    if (ex.length < 3) ex.push(detail);
  }

  #qualityError(epoch: number, final: boolean): DataQualityError {
    const s = this.#stats;
    const skipped = totalSkipped(s);
    const [reason, count] = Object.entries(s.skipped).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0] ?? ['none', 0];
    const examples = (s.examples[reason] ?? []).join('; ');
    const pct = s.seen ? ((100 * skipped) / s.seen).toFixed(1) : '0';
    return new DataQualityError(
      `Skipped ${skipped} of ${s.seen} items (${pct}%) ${final ? 'in' : 'so far in'} epoch ${epoch}, more than maxSkipRatio ${this.#maxSkipRatio} allows; ` +
      `most common reason: ${reason} (${count}${examples ? `, e.g. ${examples}` : ''}); all reasons: ${formatCounts(s.skipped)}. ` +
      'Check the image paths/root and the files, or raise maxSkipRatio.',
      cloneStats(s),
    );
  }

  /** Validate an item and decode its image. Never rejects: configuration errors come back as `fatal`. */
  async #process(item: T, sem: Semaphore, cancelled: { value: boolean }): Promise<Outcome> {
    const bad = (reason: string, detail: string): Bad => ({ ok: false, reason, detail });
    if (item === null || typeof item !== 'object') return bad('bad_item', `item is ${item === null ? 'null' : typeof item}`);
    const id = String(item.id);
    if (typeof item.error === 'string' && item.error) return bad(item.error, id);
    const raw: unknown = item.captions;
    const caps: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
    const captions: string[] = [];
    const fixes = new Set<string>();
    for (const c of caps) {
      const n = normalizeCaption(c);
      n.fixes.forEach((f) => fixes.add(f));
      if (n.text !== null) captions.push(n.text);
    }
    if (captions.length === 0) return bad('empty_caption', id);
    if (captions.length < caps.length) fixes.add('dropped_empty_caption');
    const image: unknown = item.image;
    let input: ImageInput;
    if (typeof image === 'string') {
      if (image.length === 0) return bad('missing_file', `${id}: empty path`);
      try {
        const st = await fsp.stat(image);
        if (!st.isFile()) return bad('missing_file', `${image} (not a file)`);
        if (st.size === 0) return bad('empty_file', image);
      } catch (err) {
        return bad(classifyImageError(err), image);
      }
      input = image;
    } else if (image instanceof Uint8Array) {
      if (image.length === 0) return bad('empty_file', `${id}: zero bytes`);
      input = Buffer.isBuffer(image) ? image : Buffer.from(image.buffer, image.byteOffset, image.byteLength);
    } else if (isRawImage(image)) {
      const { width, height, channels } = image;
      const okDims = Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0
        && [1, 2, 3, 4].includes(channels);
      if (!okDims || image.data.length !== width * height * channels) {
        return bad('bad_image', `${id}: raw image ${width}x${height}x${channels} with ${image.data.length} bytes`);
      }
      input = image;
    } else {
      return bad('bad_item', `${id}: image is ${image === null ? 'null' : typeof image}`);
    }
    await sem.acquire();
    let t: Tensor;
    try {
      if (cancelled.value) return bad('cancelled', id);
      t = await this.#preprocess(input);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      return bad(classifyImageError(err), `${id}: ${msg.split('\n')[0]}`);
    } finally {
      sem.release();
    }
    if (!t || t.dtype !== 'float32' || !(t.data instanceof Float32Array)) {
      return { ok: false, reason: 'fatal', detail: '', fatal: new InvalidArgumentError(`Expected a float32 tensor from imageProcessor.preprocess but received ${t ? t.dtype : String(t)}`) };
    }
    const shape = t.shape.length === 4 ? t.shape.slice(1) : t.shape;
    if ((t.shape.length === 4 && t.shape[0] !== 1) || shape.length !== 3) {
      return { ok: false, reason: 'fatal', detail: '', fatal: new InvalidArgumentError(`Expected a [1, C, H, W] tensor from imageProcessor.preprocess of one image but received [${t.shape.join(', ')}]`) };
    }
    return { ok: true, pixels: t.data, shape, captions, fixes: [...fixes] };
  }

  /**
   * preprocess, with raw images TIFF-encoded for processors that do not take them: the first raw
   * image goes in as is; if the processor refuses it as an argument (InvalidArgumentError), this
   * loader encodes raw images losslessly from then on.
   */
  async #preprocess(input: ImageInput): Promise<Tensor> {
    if (!isRawImage(input) || this.#rawMode === 'pass') return this.#processor.preprocess(input);
    if (this.#rawMode === 'encode') return this.#processor.preprocess(await encodeRawImage(input));
    try {
      const t = await this.#processor.preprocess(input);
      this.#rawMode = 'pass';
      return t;
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      this.#rawMode = 'encode';
      return this.#processor.preprocess(await encodeRawImage(input));
    }
  }

  #rowsFor(out: Good, id: string, epoch: number, pos: number): Row[] {
    const caps = out.captions;
    let chosen: string[];
    if (this.#sampling === 'all') chosen = caps;
    else if (this.#sampling === 'first' || caps.length === 1) chosen = [caps[0]!];
    else chosen = [caps[new Rng(hashInts(toSeed(this.#seed), toSeed(epoch), pos * this.#shard.world + this.#shard.rank, 0xca9)).int(caps.length)]!];
    return chosen.map((text, k) => ({ pixels: out.pixels, id, captions: caps, text, first: k === 0 }));
  }

  #makeBatch(rows: Row[], shape: readonly number[]): Batch {
    const per = rows[0]!.pixels.length;
    const pix = new Float32Array(per * rows.length);
    rows.forEach((r, i) => pix.set(r.pixels, i * per));
    const texts = rows.map((r) => r.text);
    const { labels } = buildLabels(texts, this.#tokenizer, { max_length: this.#maxLength, appendEos: true, padLabel: this.#padLabel });
    return {
      pixel_values: Tensor.from(pix, [rows.length, ...shape]) as Tensor<'float32'>,
      labels,
      ids: rows.map((r) => r.id),
      captions: rows.map((r) => [...r.captions]),
      texts,
    };
  }

  async #endEpoch(epoch: number): Promise<void> {
    const stats = cloneStats(this.#stats);
    // Kept before the report and the quality check, so the counts stay readable whatever they throw.
    this.#lastEpochStats = cloneStats(stats);
    const report: EpochReport = { epoch, batches: this.#batches, stats };
    if (this.#onEpochEnd) await this.#onEpochEnd(report);
    const skipped = totalSkipped(stats);
    const fixed = Object.values(stats.normalized).reduce((a, b) => a + b, 0);
    if (this.#log && (skipped > 0 || fixed > 0)) {
      this.#log(`torch-caption data: epoch ${epoch}: ${stats.yielded} of ${stats.seen} items used, ${skipped} skipped` +
        (skipped ? ` (${formatCounts(stats.skipped)})` : '') + (fixed ? `, ${fixed} fixed (${formatCounts(stats.normalized)})` : '') +
        (stats.dropped ? `, ${stats.dropped} dropped by drop_last` : ''));
    }
    if (stats.seen > 0 && skipped / stats.seen > this.#maxSkipRatio) throw this.#qualityError(epoch, true);
    this.#epoch = epoch + 1;
    this.#index = 0;
    this.#carry = 0;
    this.#batches = 0;
    this.#stats = emptyStats();
  }

  async *#run(): AsyncGenerator<Batch, void, undefined> {
    if (this.#running) throw new InvalidArgumentError('Expected one iteration of a DataLoader at a time but received a second concurrent one');
    this.#running = true;
    const epoch = this.#epoch;
    const ctx: IterationContext = { epoch };
    const carryRows = this.#carry;
    const firstPos = this.#resumePosition();
    const cursor = this.#resumeCursor;
    this.#resumeCursor = undefined;
    const source = this.#dataset.node.stream(ctx, firstPos, cursor);
    let knownSize: number | undefined;
    try {
      knownSize = this.#maxSkipRatio < 1 ? await this.#dataset.node.size(ctx) : undefined;
    } catch (err) {
      this.#running = false;
      await source.return(undefined).catch(() => undefined);
      throw err;
    }
    const sem = new Semaphore(this.#concurrency);
    const cancelled = { value: false };
    const queue: Pending[] = [];
    const maxQueue = this.#prefetch * this.#batchSize;
    let nextPos = firstPos;
    let exhausted = false;
    let consumed = this.#index; // items of this epoch consumed into rows
    let pendingRows: Row[] = []; // rows of the last consumed item not yet placed in a batch
    let rows: Row[] = [];
    let shape: readonly number[] | undefined;

    const fill = async (): Promise<void> => {
      while (!exhausted && queue.length < maxQueue) {
        const r = await source.next();
        if (r.done) {
          exhausted = true;
          break;
        }
        const item = r.value;
        const id = item && typeof item === 'object' && item.id !== undefined && item.id !== null ? String(item.id) : `#${nextPos}`;
        queue.push({ pos: nextPos++, id, outcome: this.#process(item, sem, cancelled).catch((err: unknown): Bad => ({
          ok: false, reason: 'fatal', detail: '', fatal: err instanceof Error ? err : new Error(String(err)),
        })) });
      }
    };

    try {
      for (;;) {
        // Place leftover rows of the previous item first.
        while (pendingRows.length > 0 && rows.length < this.#batchSize) rows.push(pendingRows.shift()!);
        if (rows.length === this.#batchSize) {
          await fill(); // keep the decoders busy while the consumer works
          const batch = this.#makeBatch(rows, shape!);
          this.#stats.yielded += rows.filter((r) => r.first).length;
          this.#index = consumed;
          this.#carry = pendingRows.length;
          this.#batches++;
          rows = [];
          yield batch;
          continue;
        }
        await fill();
        const p = queue.shift();
        if (!p) break;
        const out = await p.outcome;
        const isCarry = carryRows > 0 && p.pos === firstPos;
        if (!isCarry) {
          this.#stats.seen++;
          consumed = p.pos + 1;
        }
        if (!out.ok) {
          if (out.fatal) throw out.fatal;
          if (isCarry) {
            // The item decoded before but not now (file changed): drop its remaining rows.
            continue;
          }
          this.#skip(out.reason, out.detail);
          const skipped = totalSkipped(this.#stats);
          const certain = knownSize !== undefined && skipped > this.#maxSkipRatio * knownSize;
          const hopeless = this.#maxSkipRatio < 1 && this.#stats.seen >= 100 && skipped === this.#stats.seen;
          if (certain || hopeless) throw this.#qualityError(epoch, false);
          continue;
        }
        if (shape === undefined) shape = out.shape;
        else if (out.shape.join() !== shape.join()) {
          throw new InvalidArgumentError(`Expected every image preprocessed to [${shape.join(', ')}] for a batch but received [${out.shape.join(', ')}] for item ${p.id}; set a fixed size on the image processor`);
        }
        let itemRows = this.#rowsFor(out, p.id, epoch, p.pos);
        if (isCarry) {
          itemRows = itemRows.slice(Math.max(0, itemRows.length - carryRows)).map((r) => ({ ...r, first: false }));
        } else {
          for (const f of out.fixes) this.#stats.normalized[f] = (this.#stats.normalized[f] ?? 0) + 1;
        }
        pendingRows = itemRows;
      }
      if (rows.length > 0) {
        if (this.#dropLast) {
          this.#stats.dropped += rows.filter((r) => r.first).length;
        } else {
          const batch = this.#makeBatch(rows, shape!);
          this.#stats.yielded += rows.filter((r) => r.first).length;
          this.#index = consumed;
          this.#carry = 0;
          this.#batches++;
          rows = [];
          yield batch;
        }
      }
      this.#index = consumed;
      this.#carry = 0;
      await this.#endEpoch(epoch);
    } finally {
      cancelled.value = true;
      this.#running = false;
      try {
        await source.return(undefined);
      } catch {
        // closing the source is best effort
      }
    }
  }
}

function checkNonNeg(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) expected('a non-negative integer', name, value);
  return value;
}
