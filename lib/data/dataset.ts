/**
 * Dataset: a lazy, streaming pipeline of items (sources -> map/filter/shuffle/take/skip/split/shard
 * -> batches). Nothing is read until the dataset is iterated; each iteration is one epoch.
 *
 * Every stage is a DatasetNode. A node can always stream its items from any position, and some can
 * also give random access (`access`) for one epoch: sources with an in-memory manifest (COCO,
 * Karpathy, CSV, image folder, arrays) and the synthetic set do, and map/shuffle/take/skip/split/
 * shard keep it, and so does filter (one pass finds the kept positions). Random access is what lets a
 * resumed loader jump straight to its position; streams (JSONL, Parquet, generators) get there by reading and dropping items without
 * decoding any image.
 */
import { expected, InvalidArgumentError } from '../errors.js';
import { hashInts, hashString, Rng, toSeed } from './random.js';
import type { DataItem } from './types.js';
import { DataLoader, type BatchesOptions } from './loader.js';
import type { BatchSource, DatasetNode, IterationContext, RandomAccess, StreamCursor } from './node.js';

// The node interfaces live in node.ts (shared with loader.ts); re-exported here, their old home.
export type { DatasetNode, IterationContext, RandomAccess, StreamCursor } from './node.js';

/** Streams items of a random-access view from `start`. */
async function* streamAccess<T>(access: RandomAccess<T>, start: number): AsyncGenerator<T, void, undefined> {
  for (let i = Math.max(0, start); i < access.length; i++) yield await access.get(i);
}

/** Base for nodes whose stream comes from random access when there is some. */
abstract class AccessNode<T> implements DatasetNode<T> {
  abstract access(ctx: IterationContext): Promise<RandomAccess<T> | null>;
  protected abstract streamNoAccess(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<T, void, undefined>;
  async size(ctx: IterationContext): Promise<number | undefined> {
    return (await this.access(ctx))?.length;
  }
  async *stream(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<T, void, undefined> {
    const acc = await this.access(ctx);
    if (acc) yield* streamAccess(acc, start);
    else yield* this.streamNoAccess(ctx, start, cursor);
  }
}

/** An array held in memory. */
export class ArrayNode<T> implements DatasetNode<T> {
  readonly #items: readonly T[];
  constructor(items: readonly T[]) {
    this.#items = items;
  }
  async access(): Promise<RandomAccess<T>> {
    const items = this.#items;
    return { length: items.length, get: async (i) => items[i]! };
  }
  async size(): Promise<number> {
    return this.#items.length;
  }
  async *stream(_ctx: IterationContext, start: number): AsyncGenerator<T, void, undefined> {
    for (let i = Math.max(0, start); i < this.#items.length; i++) yield this.#items[i]!;
  }
}

/**
 * A manifest loaded once on first use (entries are small records, not images), with each item
 * built on demand from its entry.
 */
export class ManifestNode<E, T> implements DatasetNode<T> {
  #loading: Promise<readonly E[]> | undefined;
  constructor(
    private readonly load: () => Promise<readonly E[]>,
    private readonly toItem: (entry: E, index: number) => T | Promise<T>,
  ) {}
  entries(): Promise<readonly E[]> {
    if (!this.#loading) {
      this.#loading = this.load();
      this.#loading.catch(() => {
        this.#loading = undefined; // a later attempt may succeed (file fixed); the error goes to the caller
      });
    }
    return this.#loading;
  }
  async access(): Promise<RandomAccess<T>> {
    const entries = await this.entries();
    return { length: entries.length, get: async (i) => this.toItem(entries[i]!, i) };
  }
  async size(): Promise<number> {
    return (await this.entries()).length;
  }
  async *stream(ctx: IterationContext, start: number): AsyncGenerator<T, void, undefined> {
    yield* streamAccess(await this.access(), start);
  }
}

/** A source that can only be streamed; `open(start)` yields items from position `start`. */
export class StreamNode<T> implements DatasetNode<T> {
  constructor(
    private readonly open: (start: number, ctx: IterationContext) => AsyncGenerator<T, void, undefined>,
    private readonly count?: (ctx: IterationContext) => Promise<number | undefined>,
  ) {}
  async access(): Promise<null> {
    return null;
  }
  async size(ctx: IterationContext): Promise<number | undefined> {
    return this.count?.(ctx);
  }
  stream(ctx: IterationContext, start: number): AsyncGenerator<T, void, undefined> {
    return this.open(Math.max(0, start), ctx);
  }
}

class MapNode<T, U> extends AccessNode<U> {
  constructor(private readonly parent: DatasetNode<T>, private readonly fn: (item: T, index: number) => U | Promise<U>) {
    super();
  }
  async access(ctx: IterationContext): Promise<RandomAccess<U> | null> {
    const acc = await this.parent.access(ctx);
    if (!acc) return null;
    return { length: acc.length, get: async (i) => this.fn(await acc.get(i), i) };
  }
  override async size(ctx: IterationContext): Promise<number | undefined> {
    return this.parent.size(ctx);
  }
  shard(rank: number, world: number): DatasetNode<U> | undefined {
    const share = this.parent.shard?.(rank, world);
    return share && new MapNode(share, this.fn);
  }
  cursor(ctx: IterationContext, position: number): StreamCursor | undefined {
    return this.parent.cursor?.(ctx, position);
  }
  protected async *streamNoAccess(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<U, void, undefined> {
    let i = start;
    for await (const item of this.parent.stream(ctx, start, cursor)) yield await this.fn(item, i++);
  }
}

/**
 * filter: with a random-access parent, one pass over the items computes the kept indices (as
 * `datasets.Dataset.filter` does), so the result keeps random access and a known size; the pass is
 * made once per epoch (a shuffled parent reorders the items) and shared by concurrent readers. Over a
 * stream the items are tested as they go by (no random access, unknown size).
 */
class FilterNode<T> implements DatasetNode<T> {
  #cache: { epoch: number; parent: RandomAccess<T>; indices: Promise<Int32Array> } | undefined;
  constructor(private readonly parent: DatasetNode<T>, private readonly fn: (item: T, index: number) => boolean | Promise<boolean>) {}
  shard(rank: number, world: number): DatasetNode<T> | undefined {
    const share = this.parent.shard?.(rank, world);
    return share && new FilterNode(share, this.fn);
  }
  async access(ctx: IterationContext): Promise<RandomAccess<T> | null> {
    const acc = await this.parent.access(ctx);
    if (!acc) return null;
    if (this.#cache?.epoch !== ctx.epoch || this.#cache.parent.length !== acc.length) {
      const indices = (async (): Promise<Int32Array> => {
        const idx: number[] = [];
        for (let i = 0; i < acc.length; i++) if (await this.fn(await acc.get(i), i)) idx.push(i);
        return Int32Array.from(idx);
      })();
      const entry = { epoch: ctx.epoch, parent: acc, indices };
      this.#cache = entry;
      indices.catch(() => {
        if (this.#cache === entry) this.#cache = undefined; // the predicate threw: a later read tries again
      });
    }
    const indices = await this.#cache.indices;
    return { length: indices.length, get: (i) => acc.get(indices[i]!) };
  }
  async size(ctx: IterationContext): Promise<number | undefined> {
    return (await this.access(ctx))?.length;
  }
  async *stream(ctx: IterationContext, start: number): AsyncGenerator<T, void, undefined> {
    const acc = await this.access(ctx);
    if (acc) {
      yield* streamAccess(acc, start);
      return;
    }
    let index = 0;
    let kept = 0;
    for await (const item of this.parent.stream(ctx, 0)) {
      if (await this.fn(item, index++)) {
        if (kept++ >= start) yield item;
      }
    }
  }
}

/**
 * with_transform / set_transform: a per-item function applied lazily, each time an item is read
 * (streamed or fetched by position). Keeps random access and size.
 */
class TransformNode<T, U> extends MapNode<T, U> {
  constructor(parent: DatasetNode<T>, fn: (item: T) => U | Promise<U>) {
    super(parent, (item) => fn(item));
  }
}

/**
 * Seeded buffer shuffle. Fill a buffer of `bufferSize`; for every further input, emit a random
 * buffer slot and put the input there; at the end drain the buffer in random order. With a random-
 * access parent the same algorithm runs over indices (cheap), so both paths give the same order.
 */
function* bufferShuffle<T>(input: Iterable<T>, bufferSize: number, rng: Rng): Generator<T, void, undefined> {
  const buf: T[] = [];
  for (const x of input) {
    if (buf.length < bufferSize) {
      buf.push(x);
      continue;
    }
    const j = rng.int(bufferSize);
    const out = buf[j]!;
    buf[j] = x;
    yield out;
  }
  while (buf.length > 0) {
    const j = rng.int(buf.length);
    const last = buf.length - 1;
    const out = buf[j]!;
    buf[j] = buf[last]!;
    buf.pop();
    yield out;
  }
}

function* range(n: number): Generator<number, void, undefined> {
  for (let i = 0; i < n; i++) yield i;
}

/** Buffer of a shuffle without buffer_size: all items with random access, else this many. */
const DEFAULT_STREAM_BUFFER = 1000;

class ShuffleNode<T> extends AccessNode<T> {
  #cache: { epoch: number; perm: Int32Array } | undefined;
  constructor(private readonly parent: DatasetNode<T>, private readonly seed: number, private readonly bufferSize: number | undefined) {
    super();
  }
  #rng(epoch: number): Rng {
    return new Rng(hashInts(toSeed(this.seed), toSeed(epoch), 0x5f3759df));
  }
  shard(rank: number, world: number): DatasetNode<T> | undefined {
    const share = this.parent.shard?.(rank, world);
    return share && new ShuffleNode(share, this.seed, this.bufferSize);
  }
  async access(ctx: IterationContext): Promise<RandomAccess<T> | null> {
    const acc = await this.parent.access(ctx);
    if (!acc) return null;
    if (this.#cache?.epoch !== ctx.epoch || this.#cache.perm.length !== acc.length) {
      const perm = new Int32Array(acc.length);
      let k = 0;
      for (const i of bufferShuffle(range(acc.length), this.bufferSize ?? Infinity, this.#rng(ctx.epoch))) perm[k++] = i;
      this.#cache = { epoch: ctx.epoch, perm };
    }
    const perm = this.#cache.perm;
    return { length: perm.length, get: (i) => acc.get(perm[i]!) };
  }
  protected async *streamNoAccess(ctx: IterationContext, start: number): AsyncGenerator<T, void, undefined> {
    const rng = this.#rng(ctx.epoch);
    const size = this.bufferSize ?? DEFAULT_STREAM_BUFFER;
    const buf: T[] = [];
    let emitted = 0;
    for await (const x of this.parent.stream(ctx, 0)) {
      if (buf.length < size) {
        buf.push(x);
        continue;
      }
      const j = rng.int(size);
      const out = buf[j]!;
      buf[j] = x;
      if (emitted++ >= start) yield out;
    }
    while (buf.length > 0) {
      const j = rng.int(buf.length);
      const out = buf[j]!;
      buf[j] = buf[buf.length - 1]!;
      buf.pop();
      if (emitted++ >= start) yield out;
    }
  }
  override async size(ctx: IterationContext): Promise<number | undefined> {
    return this.parent.size(ctx);
  }
}

class TakeNode<T> extends AccessNode<T> {
  constructor(private readonly parent: DatasetNode<T>, private readonly n: number) {
    super();
  }
  async access(ctx: IterationContext): Promise<RandomAccess<T> | null> {
    const acc = await this.parent.access(ctx);
    if (!acc) return null;
    return { length: Math.min(this.n, acc.length), get: (i) => acc.get(i) };
  }
  override async size(ctx: IterationContext): Promise<number | undefined> {
    const n = await this.parent.size(ctx);
    return n === undefined ? undefined : Math.min(n, this.n);
  }
  cursor(ctx: IterationContext, position: number): StreamCursor | undefined {
    return this.parent.cursor?.(ctx, position);
  }
  protected async *streamNoAccess(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<T, void, undefined> {
    let left = this.n - start;
    if (left <= 0) return;
    for await (const item of this.parent.stream(ctx, start, cursor)) {
      yield item;
      if (--left <= 0) return;
    }
  }
}

class SkipNode<T> extends AccessNode<T> {
  constructor(private readonly parent: DatasetNode<T>, private readonly n: number) {
    super();
  }
  async access(ctx: IterationContext): Promise<RandomAccess<T> | null> {
    const acc = await this.parent.access(ctx);
    if (!acc) return null;
    return { length: Math.max(0, acc.length - this.n), get: (i) => acc.get(i + this.n) };
  }
  override async size(ctx: IterationContext): Promise<number | undefined> {
    const n = await this.parent.size(ctx);
    return n === undefined ? undefined : Math.max(0, n - this.n);
  }
  cursor(ctx: IterationContext, position: number): StreamCursor | undefined {
    return this.parent.cursor?.(ctx, position + this.n);
  }
  protected streamNoAccess(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<T, void, undefined> {
    return this.parent.stream(ctx, start + this.n, cursor);
  }
}

class ShardNode<T> extends AccessNode<T> {
  constructor(private readonly parent: DatasetNode<T>, private readonly rank: number, private readonly world: number) {
    super();
  }
  #count(n: number): number {
    return n > this.rank ? Math.ceil((n - this.rank) / this.world) : 0;
  }
  async access(ctx: IterationContext): Promise<RandomAccess<T> | null> {
    const acc = await this.parent.access(ctx);
    if (!acc) return null;
    return { length: this.#count(acc.length), get: (i) => acc.get(i * this.world + this.rank) };
  }
  override async size(ctx: IterationContext): Promise<number | undefined> {
    const n = await this.parent.size(ctx);
    return n === undefined ? undefined : this.#count(n);
  }
  cursor(ctx: IterationContext, position: number): StreamCursor | undefined {
    return this.parent.cursor?.(ctx, position * this.world + this.rank);
  }
  protected async *streamNoAccess(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<T, void, undefined> {
    let k = 0;
    for await (const item of this.parent.stream(ctx, start * this.world + this.rank, cursor)) {
      if (k++ % this.world === 0) yield item;
    }
  }
}

/** Which side of a split an id falls on: a stable hash of (seed, id), independent of order. */
export function isTestId(id: string, seed: number, testSize: number): boolean {
  return hashString(id, hashInts(toSeed(seed), 0x51de)) / 4294967296 < testSize;
}

class SplitNode<T extends DataItem> extends AccessNode<T> {
  #cache: { epoch: number; indices: Int32Array } | undefined;
  constructor(
    private readonly parent: DatasetNode<T>,
    private readonly seed: number,
    private readonly testSize: number,
    private readonly wantTest: boolean,
  ) {
    super();
  }
  #keep(item: T): boolean {
    return isTestId(String(item.id), this.seed, this.testSize) === this.wantTest;
  }
  shard(rank: number, world: number): DatasetNode<T> | undefined {
    const share = this.parent.shard?.(rank, world);
    return share && new SplitNode(share, this.seed, this.testSize, this.wantTest);
  }
  async access(ctx: IterationContext): Promise<RandomAccess<T> | null> {
    const acc = await this.parent.access(ctx);
    if (!acc) return null;
    if (this.#cache?.epoch !== ctx.epoch) {
      // One pass over the items (ids only; images are not decoded) to index this side.
      const idx: number[] = [];
      for (let i = 0; i < acc.length; i++) if (this.#keep(await acc.get(i))) idx.push(i);
      this.#cache = { epoch: ctx.epoch, indices: Int32Array.from(idx) };
    }
    const indices = this.#cache.indices;
    return { length: indices.length, get: (i) => acc.get(indices[i]!) };
  }
  protected async *streamNoAccess(ctx: IterationContext, start: number): AsyncGenerator<T, void, undefined> {
    let kept = 0;
    for await (const item of this.parent.stream(ctx, 0)) {
      if (this.#keep(item) && kept++ >= start) yield item;
    }
  }
}

function checkCount(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    expected('a non-negative integer', name, value);
  }
  return value;
}

export interface ShuffleOptions {
  /** Seed of the order; each epoch reshuffles with (seed, epoch). Default 0. */
  seed?: number;
  /**
   * Items held in the shuffle buffer (HF IterableDataset.shuffle's buffer_size). Default: the whole
   * dataset (a uniform permutation) when it has random access, else 1000. With the same value, the
   * random-access and streaming paths give the same order.
   */
  buffer_size?: number;
}

export interface SplitOptions {
  /** Fraction of items (0..1) that go to the test side. Default 0.1. */
  test_size?: number;
  /** Seed of the hash that assigns ids to sides. Default 0. */
  seed?: number;
}

export interface IterateOptions {
  /** Epoch (decides shuffle orders); default the dataset's current epoch (setEpoch). */
  epoch?: number;
  /** First position to yield (0-based). */
  start?: number;
}

/**
 * A lazy, streaming dataset of items. Ops return new datasets and never mutate this one (except
 * setEpoch). Iterate with `for await`, or turn into training batches with `batches()`.
 */
export class Dataset<T extends DataItem = DataItem> implements AsyncIterable<T>, BatchSource<T> {
  readonly #base: DatasetNode<T>;
  #transformed: DatasetNode<T> | undefined;
  #epoch = 0;

  constructor(node: DatasetNode<T>) {
    if (node === null || typeof node !== 'object' || typeof node.stream !== 'function') {
      expected('a DatasetNode (access, stream, size)', 'Dataset', node);
    }
    this.#base = node;
  }

  /** The pipeline stage behind this dataset (with the set_transform function, when one is set). */
  get node(): DatasetNode<T> {
    return this.#transformed ?? this.#base;
  }

  /** An in-memory dataset over an array of items (random access). */
  static fromItems<T extends DataItem>(items: readonly T[]): Dataset<T> {
    if (!Array.isArray(items)) expected('an array of items', 'Dataset.fromItems', items);
    return new Dataset<T>(new ArrayNode<T>(items));
  }

  /**
   * A streaming dataset from a function returning a fresh (async) iterable per epoch. Resuming
   * skips items by iterating them.
   */
  static fromGenerator<T extends DataItem>(fn: (ctx: IterationContext) => AsyncIterable<T> | Iterable<T>): Dataset<T> {
    if (typeof fn !== 'function') expected('a function returning an iterable', 'Dataset.fromGenerator', fn);
    return new Dataset<T>(new StreamNode<T>(async function* (start, ctx) {
      let i = 0;
      for await (const item of fn(ctx)) if (i++ >= start) yield item;
    }));
  }

  /** The epoch iteration uses when none is given (shuffle orders depend on it). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Set the epoch for the next iterations (reshuffles); returns this. */
  setEpoch(epoch: number): this {
    this.#epoch = checkCount(epoch, 'epoch');
    return this;
  }

  /** Iterate the items of one epoch, from position `start`. */
  items(options: IterateOptions = {}): AsyncGenerator<T, void, undefined> {
    const epoch = options.epoch === undefined ? this.#epoch : checkCount(options.epoch, 'epoch');
    const start = options.start === undefined ? 0 : checkCount(options.start, 'start');
    return this.node.stream({ epoch }, start);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.items();
  }

  /** Collect items into an array (at most `limit`). */
  async toArray(options: IterateOptions & { limit?: number } = {}): Promise<T[]> {
    const limit = options.limit ?? Infinity;
    const out: T[] = [];
    if (limit <= 0) return out;
    for await (const item of this.items(options)) {
      out.push(item);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Number of items (HF `len(ds)`) when known without streaming them: undefined for streams (JSONL,
   * Parquet, generators) and anything derived from one. After filter on a dataset with random access,
   * the first call runs the filter pass.
   */
  size(options: { epoch?: number } = {}): Promise<number | undefined> {
    return this.node.size({ epoch: options.epoch ?? this.#epoch });
  }

  /** True when items can be fetched by position (resume jumps straight to its position). */
  async hasRandomAccess(): Promise<boolean> {
    return (await this.node.access({ epoch: this.#epoch })) !== null;
  }

  /** Item at position `index` of an epoch; needs random access (see hasRandomAccess). */
  async get(index: number, options: { epoch?: number } = {}): Promise<T> {
    checkCount(index, 'index');
    const acc = await this.node.access({ epoch: options.epoch ?? this.#epoch });
    if (!acc) throw new InvalidArgumentError('Expected a dataset with random access for get() but received a streaming one (a JSONL/Parquet/generator source, or an op over one); iterate it instead');
    if (index >= acc.length) throw new InvalidArgumentError(`Expected an index below ${acc.length} for get() but received ${index}`);
    return acc.get(index);
  }

  /** Transform each item (sync or async); keeps random access. */
  map<U extends DataItem = T>(fn: (item: T, index: number) => U | Promise<U>): Dataset<U> {
    if (typeof fn !== 'function') expected('a function', 'map', fn);
    return new Dataset<U>(new MapNode<T, U>(this.node, fn));
  }

  /**
   * Keep items for which fn returns true (`index` is the item's position in this dataset). On a dataset
   * with random access, the first read makes one pass over the items to find the kept positions, as
   * `datasets.Dataset.filter` does: the result keeps random access and its size (so a Trainer over it
   * needs no max_steps); images are not decoded unless fn does. On a stream the result streams.
   */
  filter(fn: (item: T, index: number) => boolean | Promise<boolean>): Dataset<T> {
    if (typeof fn !== 'function') expected('a function', 'filter', fn);
    return new Dataset<T>(new FilterNode<T>(this.node, fn));
  }

  /**
   * HF `Dataset.with_transform`: a new dataset whose items go through `fn` each time one is read
   * (iterated, fetched with get(), or batched by a loader), lazily: nothing is computed or cached ahead.
   * Unlike HF's, `fn` takes and returns one item (not a batch). As in HF, it replaces a transform set
   * with set_transform (the new one reads the items without it). Keeps random access and size.
   */
  with_transform<U extends DataItem = T>(fn: (item: T) => U | Promise<U>): Dataset<U> {
    if (typeof fn !== 'function') expected('a function', 'with_transform', fn);
    return new Dataset<U>(new TransformNode<T, U>(this.#base, fn));
  }

  /**
   * HF `Dataset.set_transform`: like with_transform, but in place (returns this); `null` removes the
   * transform. Items read from this dataset afterwards, and from datasets derived from it afterwards
   * (map, filter, shuffle, batches, ...), go through `fn`; the type of the items cannot change in place.
   */
  set_transform(fn: ((item: T) => T | Promise<T>) | null): this {
    if (fn === null) {
      this.#transformed = undefined;
      return this;
    }
    if (typeof fn !== 'function') expected('a function or null', 'set_transform', fn);
    this.#transformed = new TransformNode<T, T>(this.#base, fn);
    return this;
  }

  /**
   * Seeded buffer shuffle, reshuffled every epoch from (seed, epoch). A buffer at least as large as
   * the dataset gives a uniform permutation, which is the default with random access (the order is
   * computed over indices only); streams default to a 1000-item buffer.
   */
  shuffle(options: ShuffleOptions = {}): Dataset<T> {
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) expected('a finite number', 'shuffle seed', seed);
    const bufferSize = options.buffer_size;
    if (bufferSize !== undefined && (typeof bufferSize !== 'number' || !(bufferSize >= 1) || (bufferSize !== Infinity && !Number.isInteger(bufferSize)))) {
      expected('a positive integer (or Infinity)', 'shuffle buffer_size', bufferSize);
    }
    return new Dataset<T>(new ShuffleNode<T>(this.node, seed, bufferSize));
  }

  /** The first n items. */
  take(n: number): Dataset<T> {
    return new Dataset<T>(new TakeNode<T>(this.node, checkCount(n, 'take')));
  }

  /** All but the first n items. */
  skip(n: number): Dataset<T> {
    return new Dataset<T>(new SkipNode<T>(this.node, checkCount(n, 'skip')));
  }

  /**
   * Split into train and test by a seeded hash of each item's id: stable across runs, orders,
   * shards and added/removed items. `test_size` is a fraction, so the sizes are approximate.
   */
  split(options: SplitOptions = {}): { train: Dataset<T>; test: Dataset<T> } {
    const testSize = options.test_size ?? 0.1;
    if (typeof testSize !== 'number' || !(testSize >= 0 && testSize <= 1)) {
      expected('a fraction between 0 and 1', 'split test_size', testSize);
    }
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) expected('a finite number', 'split seed', seed);
    return {
      train: new Dataset<T>(new SplitNode<T>(this.node, seed, testSize, false)),
      test: new Dataset<T>(new SplitNode<T>(this.node, seed, testSize, true)),
    };
  }

  /**
   * Items i with i % worldSize === rank (in this dataset's order for the epoch). Shard after a
   * shuffle with the same seed on every rank: the ranks then cover each item exactly once.
   * A source that can split itself more cheaply does so instead (DatasetNode.shard: a WebDataset
   * source with at least worldSize tar files gives each rank whole files, file i to rank i % worldSize),
   * also under map/with_transform/filter/split/shuffle; the ranks still cover each item exactly once.
   */
  shard(rank: number, worldSize: number): Dataset<T> {
    checkCount(worldSize, 'shard worldSize');
    if (worldSize < 1) expected('a positive integer', 'shard worldSize', worldSize);
    checkCount(rank, 'shard rank');
    if (rank >= worldSize) expected(`an integer in [0, ${worldSize - 1}]`, 'shard rank', rank);
    return new Dataset<T>(this.node.shard?.(rank, worldSize) ?? new ShardNode<T>(this.node, rank, worldSize));
  }

  /** A loader of training batches ({pixel_values, labels, ids, captions}); see BatchesOptions. */
  batches(options: BatchesOptions): DataLoader<T> {
    return new DataLoader<T>(this, options);
  }
}
