/**
 * WebDataset shards: tar files in which a sample is the run of consecutive members sharing a key
 * (`000123.jpg`, `000123.txt`, `000123.json`), as LAION, CC3M and CC12M are distributed (img2dataset's
 * output). Shards are local paths, brace patterns (`shards/{00000..00123}.tar`) or http(s) URLs, read
 * one after the other as streams: a member is read only when the consumer asks for its sample, so memory
 * holds one sample at a time, never a shard.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import braces from 'braces';
import tar from 'tar-stream';
import { expected, FormatError, InvalidArgumentError } from '../../errors.js';
import { Dataset } from '../dataset.js';
import type { DatasetNode, IterationContext, RandomAccess, StreamCursor } from '../node.js';
import { hashInts, Rng, toSeed } from '../random.js';
import { decodeUtf8, toCaptionList } from '../text.js';
import type { DataItem } from '../types.js';
import { optionalString, optionsObject } from './common.js';

export interface WebDatasetOptions {
  /** Member extensions that hold the image, in order of preference (lower case, no dot). Default jpg, jpeg, png, webp. */
  imageExtensions?: readonly string[];
  /**
   * Field of the `.json` member that holds the caption(s) (a string or a list of strings). Default: the first
   * present of caption, text, captions, sentences. Setting it also prefers the `.json` member over `.txt`.
   */
  textField?: string;
  /**
   * A shard that does not exist or answers an HTTP error: false (default) throws a FormatError naming it; true
   * logs it, counts it as one item with error 'missing_shard' (the loader skips and counts it) and goes on.
   */
  skipMissingShards?: boolean;
  /** Read the shards in a new seeded order every epoch (from shardSeed and the epoch). Default false: as listed. */
  shuffleShards?: boolean;
  /** Seed of the shard order when shuffleShards is on. Default 0. */
  shardSeed?: number;
  /** Largest member read into memory; a sample with a larger image/txt/json member gets error 'too_large'. Default 64 MiB. */
  maxMemberBytes?: number;
  /** Headers for http(s) shards, e.g. `{ Authorization: 'Bearer hf_...' }` for a gated Hugging Face dataset. */
  headers?: Readonly<Record<string, string>>;
  /** Receives a line for each shard that is missing (with skipMissingShards) or ends early. Default console.warn. */
  log?: (message: string) => void;
}

interface Config {
  readonly imageExtensions: readonly string[];
  readonly textField: string | undefined;
  readonly skipMissingShards: boolean;
  readonly shuffleShards: boolean;
  readonly shardSeed: number;
  readonly maxMemberBytes: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly log: (message: string) => void;
}

/** A member of a tar being extracted: its header and a stream of its bytes (tar-stream does not export the type). */
type TarMember = tar.Extract extends AsyncIterable<infer M> ? M : never;

/** One tar file: where it is, and the name that prefixes its samples' ids. */
interface Shard {
  readonly url: string;
  readonly name: string;
  /** A .tar.gz / .tgz: gunzipped on the way to the tar parser. */
  readonly gzip: boolean;
}

const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp'];
const TEXT_FIELDS = ['caption', 'text', 'captions', 'sentences'];
const DEFAULT_MAX_MEMBER_BYTES = 64 * 1024 * 1024;
/** Largest range a brace pattern may expand to (braces' default, 1000, is below LAION's 231k shards). */
const MAX_SHARDS = 1_000_000;
/** Epochs whose shard start positions are kept for cursors (the current one and a few before it). */
const RECORDED_EPOCHS = 4;

const isHttp = (url: string): boolean => /^https?:\/\//i.test(url);

/** A WebDataset: tar shards of samples grouped by key (see WebDatasetOptions and docs/data.md). */
export function webdataset(urls: string | readonly string[], options?: WebDatasetOptions): Dataset<DataItem> {
  const shards = expandShards(urls).map(toShard);
  return new Dataset(new WebDatasetNode(shards, readConfig(optionsObject(options, 'datasets.webdataset'))));
}

/** The shard list: each entry brace-expanded (`{000..009}` keeps its zero padding), in order. */
function expandShards(urls: string | readonly string[]): string[] {
  const list = typeof urls === 'string' ? [urls] : urls;
  if (!Array.isArray(list) || list.length === 0) expected('a shard path, URL or brace pattern, or a non-empty list of them', 'datasets.webdataset urls', urls);
  const out: string[] = [];
  for (const u of list as readonly unknown[]) {
    if (typeof u !== 'string' || u.length === 0) expected('a non-empty string', 'datasets.webdataset urls entry', u);
    // WebDataset's `pipe:cmd` would run a shell command: refused, like schemes fetch cannot read.
    const scheme = /^(pipe):|^([a-z][a-z0-9+.-]*):\/\//i.exec(u)?.slice(1).find((x) => x !== undefined)?.toLowerCase();
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https' && scheme !== 'file') {
      throw new InvalidArgumentError(`Expected a local path or an http(s) URL for datasets.webdataset urls but received ${u} (${scheme}: is not supported; use a presigned https URL or a mounted path)`);
    }
    let expanded: string[];
    try {
      expanded = braces(u, { expand: true, rangeLimit: MAX_SHARDS });
    } catch (err) {
      throw new InvalidArgumentError(`Expected a brace pattern of at most ${MAX_SHARDS} shards for datasets.webdataset urls but ${u} does not expand: ${(err as Error).message}`);
    }
    for (const url of expanded) out.push(url); // no spread: lists can be long
  }
  return out;
}

function toShard(url: string): Shard {
  const file = isHttp(url) ? decodeURIComponent(new URL(url).pathname) : url.startsWith('file://') ? fileURLToPath(url) : url;
  const base = path.posix.basename(file.split(path.sep).join('/'));
  return { url, name: base.replace(/\.(tar|tar\.gz|tgz)$/i, ''), gzip: /\.(tar\.gz|tgz)$/i.test(base) };
}

function readConfig(o: WebDatasetOptions): Config {
  const exts = o.imageExtensions ?? IMAGE_EXTENSIONS;
  if (!Array.isArray(exts) || exts.length === 0 || !exts.every((e) => typeof e === 'string' && e.replace(/^\./, '').length > 0)) {
    expected('a non-empty list of extensions', 'webdataset imageExtensions', exts);
  }
  for (const key of ['skipMissingShards', 'shuffleShards'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') expected('a boolean', `webdataset ${key}`, o[key]);
  }
  const seed = o.shardSeed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) expected('a finite number', 'webdataset shardSeed', seed);
  const maxBytes = o.maxMemberBytes ?? DEFAULT_MAX_MEMBER_BYTES;
  if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1) expected('a positive integer', 'webdataset maxMemberBytes', maxBytes);
  const headers = o.headers ?? {};
  if (headers === null || typeof headers !== 'object' || !Object.values(headers).every((v) => typeof v === 'string')) {
    expected('an object of header strings', 'webdataset headers', headers);
  }
  if (o.log !== undefined && typeof o.log !== 'function') expected('a function', 'webdataset log', o.log);
  return {
    imageExtensions: exts.map((e) => e.replace(/^\./, '').toLowerCase()),
    textField: optionalString(o.textField, 'webdataset textField'),
    skipMissingShards: o.skipMissingShards ?? false,
    shuffleShards: o.shuffleShards ?? false,
    shardSeed: seed,
    maxMemberBytes: maxBytes,
    headers,
    log: o.log ?? ((m: string) => console.warn(m)),
  };
}

// ------------------------------------------------------------------------------------------- the node

/** What WebDatasetNode.cursor returns: the shard (in the epoch's order) and the items of it before the position. */
// A type literal, not an interface: it must fit StreamCursor's index signature.
type WebDatasetCursor = {
  webdataset: 1;
  /** The stream position this cursor is for. */
  position: number;
  /** Index of the shard in this epoch's order (shards.length: past the last one). */
  shard: number;
  /** Length of the shard list, and the shard's URL: a resume checks it reads the same list. */
  shards: number;
  url: string | null;
  /** Items of that shard before the position. */
  skip: number;
};

function isWebDatasetCursor(c: StreamCursor | undefined): c is StreamCursor & WebDatasetCursor {
  if (c === undefined || c.webdataset !== 1) return false;
  const ints = [c.position, c.shard, c.shards, c.skip];
  return ints.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0) && (typeof c.url === 'string' || c.url === null);
}

/**
 * The stream of a shard list. Positions are items in the epoch's shard order; the node records where each
 * shard started as it streams (one number per shard and epoch), which is what its cursors are made of.
 */
class WebDatasetNode implements DatasetNode<DataItem> {
  /** epoch -> position of the first item of each shard of that epoch's order, as far as streamed (sparse). */
  readonly #starts = new Map<number, (number | undefined)[]>();
  /** The last epoch's shard order (state() asks for a cursor after every batch). */
  #orderCache: { epoch: number; order: readonly Shard[] } | undefined;

  constructor(private readonly shards: readonly Shard[], private readonly cfg: Config) {}

  async access(): Promise<RandomAccess<DataItem> | null> {
    return null;
  }

  async size(): Promise<number | undefined> {
    return undefined; // the sample count of a tar is known only by reading it
  }

  /** Whole files per rank (file i to rank i % world) when each rank gets at least one; else the generic striding. */
  shard(rank: number, world: number): DatasetNode<DataItem> | undefined {
    if (this.shards.length < world) return undefined;
    return new WebDatasetNode(this.shards.filter((_, i) => i % world === rank), this.cfg);
  }

  cursor(ctx: IterationContext, position: number): StreamCursor | undefined {
    const starts = this.#starts.get(ctx.epoch);
    if (!starts) return undefined;
    for (let k = starts.length - 1; k >= 0; k--) {
      const start = starts[k];
      if (start === undefined || start > position) continue;
      const order = this.#order(ctx.epoch);
      const cursor: WebDatasetCursor = { webdataset: 1, position, shard: k, shards: order.length, url: order[k]?.url ?? null, skip: position - start };
      return cursor;
    }
    return undefined;
  }

  async *stream(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<DataItem, void, undefined> {
    const order = this.#order(ctx.epoch);
    const from = this.#seek(ctx, start, cursor, order);
    const starts = this.#record(ctx.epoch);
    let pos = from.position;
    for (let k = from.shard; k < order.length; k++) {
      starts[k] = pos;
      for await (const item of shardItems(order[k]!, this.cfg, () => pos < start)) {
        pos++;
        if (item) yield item;
      }
    }
    starts[order.length] = pos; // the end, so that a cursor there opens no shard
  }

  /** This epoch's shard order: as listed, or a seeded permutation per epoch. */
  #order(epoch: number): readonly Shard[] {
    if (!this.cfg.shuffleShards) return this.shards;
    if (this.#orderCache?.epoch === epoch) return this.#orderCache.order;
    const order = [...this.shards];
    const rng = new Rng(hashInts(toSeed(this.cfg.shardSeed), toSeed(epoch), 0x7a45));
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    this.#orderCache = { epoch, order };
    return order;
  }

  /** Where to start reading for `start`: the cursor's shard, else the latest recorded shard start at or before it, else the first shard. */
  #seek(ctx: IterationContext, start: number, given: StreamCursor | undefined, order: readonly Shard[]): { shard: number; position: number } {
    const c = isWebDatasetCursor(given) && given.position === start ? given : this.cursor(ctx, start);
    if (!isWebDatasetCursor(c) || c.skip > start) return { shard: 0, position: 0 };
    if (c.shards !== order.length || c.url !== (order[c.shard]?.url ?? null)) {
      throw new InvalidArgumentError(`Expected the WebDataset shards of the saved loader state (${c.shards} shards, shard ${c.shard} = ${c.url ?? 'the end'}) ` +
        `but this dataset has ${order.length} shards with shard ${c.shard} = ${order[c.shard]?.url ?? 'none'} in epoch ${ctx.epoch}; ` +
        'resume with the same urls, shuffleShards, shardSeed and rank/world, or start the epoch afresh (no resumeFrom)');
    }
    return { shard: c.shard, position: start - c.skip };
  }

  #record(epoch: number): (number | undefined)[] {
    let starts = this.#starts.get(epoch);
    if (!starts) {
      starts = [];
      this.#starts.set(epoch, starts);
      for (const old of this.#starts.keys()) if (this.#starts.size > RECORDED_EPOCHS && old !== epoch) this.#starts.delete(old);
    }
    return starts;
  }
}

// ------------------------------------------------------------------------------------------- one shard

/** A shard's bytes as a stream, or a message saying why it is missing (no file, HTTP error status, no connection). */
async function openShard(shard: Shard, cfg: Config, abort: AbortController): Promise<Readable | string> {
  if (isHttp(shard.url)) {
    let res: Response;
    try {
      res = await fetch(shard.url, { headers: cfg.headers, signal: abort.signal });
    } catch (err) {
      return `cannot be fetched (${(err as Error).message}${(err as { cause?: { code?: string } }).cause?.code ? `: ${(err as { cause: { code: string } }).cause.code}` : ''})`;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      return `answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    }
    return res.body ? Readable.fromWeb(res.body as WebReadableStream<Uint8Array>) : Readable.from([]);
  }
  const file = shard.url.startsWith('file://') ? fileURLToPath(shard.url) : shard.url;
  try {
    const handle = await fsp.open(file, 'r');
    return handle.createReadStream(); // closes the handle when it ends or is destroyed
  } catch (err) {
    return `cannot be read (${(err as { code?: string }).code ?? (err as Error).message})`;
  }
}

function missingShard(shard: Shard, why: string, dry: boolean, cfg: Config): DataItem | null {
  if (!cfg.skipMissingShards) {
    throw new FormatError(`WebDataset shard ${shard.url} ${why}: check the path, URL or brace pattern` +
      `${isHttp(shard.url) ? ' (and the headers option for a gated dataset)' : ''}, or pass skipMissingShards: true to count it as missing_shard and go on`);
  }
  if (dry) return null; // logged when that position was first read
  cfg.log(`torch-caption data: WebDataset shard ${shard.url} ${why}; skipped (counted as missing_shard)`);
  return { id: shard.url, image: '', captions: [], error: 'missing_shard' };
}

/** The members of one sample read so far: the buffered ones by extension. */
interface Sample {
  readonly key: string;
  /** Before the resume position: members are drained, not buffered, and no item is built. */
  readonly dry: boolean;
  readonly members: Map<string, Buffer>;
  tooLarge: boolean;
}

/**
 * The samples of one shard in order, one per key; `dry()` is asked as each sample starts, and a dry sample
 * comes out as null (a position the stream counts without building an item). A shard that ends early
 * (truncated, corrupt header, read error) ends with one 'corrupt_shard' item and a log line; the sample
 * being read then is lost with the rest of the shard.
 */
async function* shardItems(shard: Shard, cfg: Config, dry: () => boolean): AsyncGenerator<DataItem | null, void, undefined> {
  const abort = new AbortController();
  const source = await openShard(shard, cfg, abort);
  if (typeof source === 'string') {
    yield missingShard(shard, source, dry(), cfg);
    return;
  }
  const { extract, close } = tarParser(source, shard.gzip, abort);
  let member = 0;
  let where = 'before its first member';
  let current: Sample | undefined;
  try {
    for await (const entry of extract) {
      member++;
      const parts = memberParts(entry.header);
      if (!parts) {
        await drain(entry);
        continue;
      }
      if (current && current.key !== parts.key) {
        yield toItem(current, shard, cfg);
        current = undefined;
      }
      current ??= { key: parts.key, dry: dry(), members: new Map(), tooLarge: false };
      where = `in member ${member} (${entry.header.name})`;
      await readMember(entry, parts.ext, current, cfg);
      where = `after member ${member} (${entry.header.name})`;
    }
  } catch (err) {
    // The marker takes the position of the sample being read (which is lost), or the next one.
    yield corruptShard(shard, member, where, err, current?.dry ?? dry(), cfg);
    return;
  } finally {
    close();
  }
  if (current) yield toItem(current, shard, cfg);
}

/**
 * The tar parser fed from a shard's bytes (gunzipped for .tar.gz). Piped, so the file or socket is read only
 * as fast as members are consumed; a read error ends the parse with that error. `close` releases everything.
 */
function tarParser(source: Readable, gzip: boolean, abort: AbortController): { extract: tar.Extract; close: () => void } {
  const extract = tar.extract();
  const input = gzip ? source.pipe(createGunzip()) : source;
  const fail = (err: Error): void => {
    extract.destroy(err);
  };
  source.on('error', fail);
  if (input !== source) input.on('error', fail);
  input.pipe(extract);
  const close = (): void => {
    abort.abort(); // an http body still arriving
    source.destroy();
    if (input !== source) input.destroy();
    extract.destroy();
  };
  return { extract, close };
}

function corruptShard(shard: Shard, member: number, where: string, err: unknown, dry: boolean, cfg: Config): DataItem | null {
  if (dry) return null; // logged when that position was first read
  cfg.log(`torch-caption data: WebDataset shard ${shard.url} ends early ${where}: ${(err as Error).message ?? String(err)}; ` +
    'the rest of the shard is skipped (counted as corrupt_shard)');
  return { id: `${shard.url}#${member}`, image: '', captions: [], error: 'corrupt_shard' };
}

/**
 * WebDataset's split of a member name: key = the path up to the first dot of the basename, extension = the
 * rest, lower-cased. Null for members that belong to no sample (not a regular file, no extension, a dot file).
 */
function memberParts(header: tar.Header): { key: string; ext: string } | null {
  const type = header.type ?? 'file';
  if (type !== 'file' && type !== 'contiguous-file') return null;
  const m = /^((?:.*\/|)[^./][^.]*)\.([^/]*)$/.exec(header.name);
  return m ? { key: m[1]!, ext: m[2]!.toLowerCase() } : null;
}

/** Buffer a member the item needs (first one per extension wins); drain anything else. */
async function readMember(entry: TarMember, ext: string, sample: Sample, cfg: Config): Promise<void> {
  const wanted = !sample.dry && !sample.members.has(ext) && (ext === 'txt' || ext === 'json' || cfg.imageExtensions.includes(ext));
  if (!wanted) return drain(entry);
  if ((entry.header.size ?? 0) > cfg.maxMemberBytes) {
    sample.tooLarge = true;
    return drain(entry);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer); // tar-stream hands out Buffers
  sample.members.set(ext, Buffer.concat(chunks));
}

async function drain(entry: TarMember): Promise<void> {
  for await (const _ of entry) {
    // discard: the extractor moves to the next member only once this one is read
  }
}

/** The item of a finished sample (null when dry): image bytes and captions, or the error that makes the loader skip it. */
function toItem(sample: Sample, shard: Shard, cfg: Config): DataItem | null {
  if (sample.dry) return null;
  const id = `${shard.name}/${sample.key}`;
  if (sample.tooLarge) return { id, image: '', captions: [], error: 'too_large' };
  const ext = cfg.imageExtensions.find((e) => sample.members.has(e));
  if (ext === undefined) return { id, image: '', captions: [], error: 'missing_image' };
  const captions = captionsOf(sample, cfg);
  if (typeof captions === 'string') return { id, image: '', captions: [], error: captions };
  return { id, image: sample.members.get(ext)!, captions };
}

/**
 * The captions of a sample: the whole `.txt` (trimmed), else the `.json`'s text field; with textField set
 * the `.json` comes first. A string is the skip reason (no caption member, unparsable JSON).
 */
function captionsOf(sample: Sample, cfg: Config): string[] | string {
  const txt = sample.members.get('txt');
  const json = sample.members.get('json');
  const fromTxt = (): string[] | undefined => (txt ? [decodeUtf8(txt).trim()] : undefined);
  const fromJson = (): string[] | string | undefined => (json ? jsonCaptions(json, cfg.textField) : undefined);
  const found = cfg.textField === undefined ? fromTxt() ?? fromJson() : withFallback(fromJson(), fromTxt);
  return found ?? 'missing_caption';
}

/** The json's answer unless it has no caption field, in which case the fallback's. */
function withFallback(first: string[] | string | undefined, fallback: () => string[] | undefined): string[] | string | undefined {
  return first === undefined || first === 'missing_caption' ? fallback() ?? first : first;
}

function jsonCaptions(bytes: Buffer, field: string | undefined): string[] | string {
  let obj: unknown;
  try {
    obj = JSON.parse(decodeUtf8(bytes));
  } catch {
    return 'bad_caption_json';
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'bad_caption_json';
  const rec = obj as Record<string, unknown>;
  const key = field ?? TEXT_FIELDS.find((k) => rec[k] !== undefined && rec[k] !== null);
  const value = key === undefined ? undefined : rec[key];
  return value === undefined || value === null ? 'missing_caption' : toCaptionList(value);
}
