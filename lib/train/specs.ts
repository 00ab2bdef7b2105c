/**
 * JSON specs of datasets and models, as the train/eval commands read them from a config file:
 *
 *   dataset: {type: 'coco', annotations, images} | {type: 'karpathy', json, images, split?}
 *          | {type: 'jsonl' | 'csv' | 'parquet', file, ...options} | {type: 'folder', dir, ...options}
 *          | {type: 'webdataset', urls: path | URL | brace pattern | [...], ...options}
 *          | {type: 'synthetic', size?, seed?, imageSize?, maxShapes?, ...}
 *          with optional {take, skip} applied after the source;
 *   model:   {pretrained: dir} | {encoder: dir, decoder: dir} | {config: {...config.json} | 'tiny', seed?}.
 *
 * Relative paths resolve against the config file's folder.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, describe } from '../errors.js';
import { datasets, type Dataset } from '../data/index.js';
import type { DataItem } from '../data/types.js';
import { tinyConfig } from '../models/config.js';
import { VisionEncoderDecoder } from '../models/vision-encoder-decoder.js';
import { AutoModelForVision2Seq, imageSizeOf, type CaptionModel } from '../models/auto.js';
import { ImageProcessor } from '../processing/image-processor.js';
import { loadTokenizer, WordLevelTokenizer } from './demo-tokenizer.js';
import { nearestName } from './training-args.js';
import { RawImageSupport } from './raw-images.js';
import type { CaptionTokenizer } from '../types.js';

export type DatasetType = 'coco' | 'karpathy' | 'jsonl' | 'csv' | 'folder' | 'parquet' | 'webdataset' | 'synthetic';
const TYPES: readonly DatasetType[] = ['coco', 'karpathy', 'jsonl', 'csv', 'folder', 'parquet', 'webdataset', 'synthetic'];

export type DatasetSpec = { type: DatasetType; take?: number; skip?: number } & Record<string, unknown>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pathIn(base: string, v: unknown, key: string): string {
  if (typeof v !== 'string' || !v) throw new InvalidArgumentError(`Expected a path for ${key} but received ${describe(v)}`);
  return isAbsolute(v) ? v : resolve(base, v);
}

const isUrl = (v: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(v);
/** A WebDataset shard path, brace pattern or URL (what parseDataArgument reads as a webdataset). */
const isShardPattern = (v: string): boolean => /\.(tar|tgz|tar\.gz)(\?.*)?$/i.test(v);

/** WebDataset urls: local paths and brace patterns resolve against base, URLs stay as they are. */
function shardUrlsIn(base: string, v: unknown, key: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError(`Expected a shard path, URL or brace pattern (or a list of them) for ${key} but received ${describe(v)}`);
  return list.map((u: unknown, i) => (typeof u === 'string' && isUrl(u) ? u : pathIn(base, u, `${key}[${i}]`)));
}

/**
 * A dataset spec from the command line: inline JSON, a .json spec file, a manifest (.jsonl/.csv/.parquet), an
 * image folder, WebDataset shards (a .tar path, a brace pattern such as `shards/{00000..00099}.tar`, or an
 * http(s) URL of one), or 'synthetic'. Returns the spec and the folder its relative paths resolve against.
 */
export function parseDataArgument(arg: string, base = process.cwd()): { spec: DatasetSpec; base: string } {
  const text = arg.trim();
  const parse = (json: string, what: string): DatasetSpec => {
    try {
      return JSON.parse(json) as DatasetSpec;
    } catch (err) {
      throw new InvalidArgumentError(`Cannot parse the dataset spec ${what} as JSON: ${(err as Error).message}`);
    }
  };
  if (text.startsWith('{')) return { spec: parse(text, JSON.stringify(arg)), base };
  if (text === 'synthetic') return { spec: { type: 'synthetic' }, base };
  if (isShardPattern(text) && (isUrl(text) || text.includes('{'))) {
    return { spec: { type: 'webdataset', urls: isUrl(text) ? text : resolve(base, text) }, base };
  }
  const p = resolve(base, text);
  if (!existsSync(p)) {
    throw new InvalidArgumentError(`Expected a dataset spec (JSON, a .json spec file, a .jsonl/.csv/.parquet manifest, .tar shards, an image folder or 'synthetic') but ${p} does not exist`);
  }
  if (statSync(p).isDirectory()) return { spec: { type: 'folder', dir: p }, base };
  const ext = extname(p).toLowerCase();
  if (ext === '.jsonl') return { spec: { type: 'jsonl', file: p }, base };
  if (ext === '.csv' || ext === '.tsv') return { spec: { type: 'csv', file: p, ...(ext === '.tsv' ? { delimiter: '\t' } : {}) }, base };
  if (ext === '.parquet') return { spec: { type: 'parquet', file: p }, base };
  if (isShardPattern(p)) return { spec: { type: 'webdataset', urls: p }, base };
  if (ext === '.json') return { spec: parse(readFileSync(p, 'utf8'), p), base: dirname(p) };
  throw new InvalidArgumentError(`Cannot tell the dataset type of ${p} from its extension (use .jsonl, .csv, .parquet, .tar, a folder, or a JSON spec)`);
}

/** Build a Dataset from a spec (paths relative to `base`). */
export function datasetFromSpec(spec: unknown, base = process.cwd(), where = 'dataset'): Dataset<DataItem> {
  if (!isRecord(spec)) throw new InvalidArgumentError(`Expected a dataset spec object with a type for ${where} but received ${describe(spec)}`);
  const { type, take, skip, ...rest } = spec;
  if (typeof type !== 'string' || !(TYPES as readonly string[]).includes(type)) {
    const near = typeof type === 'string' ? nearestName(type, TYPES) : undefined;
    throw new InvalidArgumentError(`Expected one of ${TYPES.join(', ')} for ${where}.type but received ${describe(type)}${near ? `; did you mean '${near}'?` : ''}`);
  }
  let ds: Dataset<DataItem>;
  const opt = (keys: readonly string[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) {
      if (keys.includes(k)) continue;
      out[k] = k === 'imageRoot' ? pathIn(base, v, `${where}.${k}`) : v;
    }
    return out;
  };
  switch (type as DatasetType) {
    case 'coco':
      ds = datasets.coco({ ...(opt(['annotations', 'images']) as object), annotations: pathIn(base, rest.annotations, `${where}.annotations`), images: pathIn(base, rest.images, `${where}.images`) });
      break;
    case 'karpathy':
      ds = datasets.karpathy({ ...(opt(['json', 'images']) as object), json: pathIn(base, rest.json, `${where}.json`), images: pathIn(base, rest.images, `${where}.images`) });
      break;
    case 'jsonl':
      ds = datasets.jsonl(pathIn(base, rest.file, `${where}.file`), opt(['file']));
      break;
    case 'csv':
      ds = datasets.csv(pathIn(base, rest.file, `${where}.file`), opt(['file']));
      break;
    case 'parquet':
      ds = datasets.parquet(pathIn(base, rest.file, `${where}.file`), opt(['file']));
      break;
    case 'folder':
      ds = datasets.imageFolder(pathIn(base, rest.dir, `${where}.dir`), opt(['dir']));
      break;
    case 'webdataset':
      ds = datasets.webdataset(shardUrlsIn(base, rest.urls, `${where}.urls`), opt(['urls']));
      break;
    case 'synthetic':
      ds = datasets.synthetic(rest as Parameters<typeof datasets.synthetic>[0]);
      break;
  }
  if (skip !== undefined) {
    if (typeof skip !== 'number') throw new InvalidArgumentError(`Expected a number for ${where}.skip but received ${describe(skip)}`);
    ds = ds.skip(skip);
  }
  if (take !== undefined) {
    if (typeof take !== 'number') throw new InvalidArgumentError(`Expected a number for ${where}.take but received ${describe(take)}`);
    ds = ds.take(take);
  }
  return ds;
}

export type ModelSpec = { pretrained: string } | { encoder: string; decoder: string; seed?: number } | { config: Record<string, unknown> | 'tiny'; seed?: number; imageSize?: number };

export interface LoadedModel {
  model: CaptionModel;
  tokenizer: CaptionTokenizer;
  image_processor: RawImageSupport;
  /** What was built rather than loaded (printed by the CLI). */
  notes: string[];
}

/**
 * Load or build the model of a spec, with its tokenizer and image processor: from the model folder (pretrained),
 * the decoder/encoder folders, or given as `tokenizer` / `image_processor` folders. A model built from a config
 * without a tokenizer gets a word-level tokenizer over the training captions.
 */
export async function modelFromSpec(
  spec: unknown,
  opts: { base?: string; tokenizer?: unknown; image_processor?: unknown; captions?: () => AsyncIterable<string> | Iterable<string> } = {},
): Promise<LoadedModel> {
  const base = opts.base ?? process.cwd();
  if (!isRecord(spec)) throw new InvalidArgumentError(`Expected a model spec ({pretrained}, {encoder, decoder} or {config}) but received ${describe(spec)}`);
  const notes: string[] = [];
  let tokenizer: CaptionTokenizer | undefined;
  if (opts.tokenizer !== undefined) tokenizer = await loadTokenizer(pathIn(base, opts.tokenizer, 'tokenizer'));
  let processor: ImageProcessor | undefined;
  if (isRecord(opts.image_processor)) processor = ImageProcessor.fromConfig(opts.image_processor);
  else if (opts.image_processor !== undefined) processor = await ImageProcessor.fromPretrained(pathIn(base, opts.image_processor, 'image_processor'));

  let model: CaptionModel;
  if ('pretrained' in spec) {
    const dir = typeof spec.pretrained === 'string' && existsSync(resolve(base, spec.pretrained)) ? resolve(base, spec.pretrained) : String(spec.pretrained);
    model = await AutoModelForVision2Seq.fromPretrained(dir);
    tokenizer ??= await loadTokenizer(dir);
    processor ??= await ImageProcessor.fromPretrained(dir);
  } else if ('encoder' in spec || 'decoder' in spec) {
    const enc = pathIn(base, spec.encoder, 'model.encoder');
    const dec = pathIn(base, spec.decoder, 'model.decoder');
    model = await VisionEncoderDecoder.fromEncoderDecoderPretrained(enc, dec, { seed: typeof spec.seed === 'number' ? spec.seed : 0 });
    tokenizer ??= await loadTokenizer(dec);
    processor ??= await ImageProcessor.fromPretrained(enc);
  } else if ('config' in spec) {
    if (!tokenizer) {
      if (!opts.captions) throw new InvalidArgumentError('A model built from a config needs a tokenizer folder (tokenizer) or training captions to build one');
      const texts: string[] = [];
      for await (const t of opts.captions()) texts.push(t);
      tokenizer = WordLevelTokenizer.build(texts);
      notes.push(`built a word-level tokenizer of ${tokenizer.vocab_size} words from the training captions`);
    }
    const eos = tokenizer.eos_token_id!;
    let cfg: Record<string, unknown>;
    if (spec.config === 'tiny') {
      const imageSize = typeof spec.imageSize === 'number' ? spec.imageSize : 32;
      cfg = tinyConfig({ imageSize, vocabSize: Math.max(tokenizer.vocab_size, tokenizer.vocabSizeWithAddedTokens ?? 0) }) as unknown as Record<string, unknown>;
      cfg.decoder_start_token_id = tokenizer.bos_token_id ?? eos;
      cfg.pad_token_id = tokenizer.pad_token_id ?? eos;
      cfg.eos_token_id = eos;
      cfg.decoder = { ...(cfg.decoder as object), bos_token_id: tokenizer.bos_token_id ?? eos, eos_token_id: eos, pad_token_id: tokenizer.pad_token_id ?? eos };
    } else if (isRecord(spec.config)) {
      cfg = spec.config;
    } else {
      throw new InvalidArgumentError(`Expected a config.json object or 'tiny' for model.config but received ${describe(spec.config)}`);
    }
    model = await AutoModelForVision2Seq.fromConfig(cfg, { seed: typeof spec.seed === 'number' ? spec.seed : 0 });
    if (!processor) {
      const size = imageSizeOf(model);
      processor = ImageProcessor.fromConfig({ size: { height: size, width: size }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });
      notes.push(`image processor: resize to ${size}x${size}, normalize with mean/std 0.5`);
    }
  } else {
    throw new InvalidArgumentError(`Expected a model spec with pretrained, encoder + decoder, or config but received keys ${Object.keys(spec).join(', ') || '(none)'}`);
  }
  return { model, tokenizer: tokenizer!, image_processor: new RawImageSupport(processor!), notes };
}
