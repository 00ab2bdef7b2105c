/**
 * COCO captions (captions_train2017.json and friends) and Karpathy split files
 * (dataset_coco.json, dataset_flickr8k.json, dataset_flickr30k.json).
 */
import path from 'node:path';
import { expected, FormatError } from '../../errors.js';
import { Dataset, ManifestNode } from '../dataset.js';
import { toCaptionList } from '../text.js';
import type { DataItem } from '../types.js';
import { readJson } from '../../json.js';
import { optionsObject, pathOption, resolveImage } from './common.js';

export interface CocoOptions {
  /** captions_*.json: {images: [{id, file_name}], annotations: [{image_id, caption}]}. */
  annotations: string;
  /** Folder holding the images' file_name (e.g. train2017/). */
  images: string;
  /** Keep images that have no caption (they are skipped by the loader as empty_caption). Default false. */
  keepUncaptioned?: boolean;
}

interface Entry {
  id: string;
  file: string;
  captions: string[];
}

/** COCO captions: one item per image (images[] order), captions grouped by image_id. */
export function coco(options: CocoOptions): Dataset<DataItem> {
  const o = optionsObject(options, 'datasets.coco');
  const annotations = pathOption(o.annotations, 'coco annotations');
  const images = pathOption(o.images, 'coco images');
  const keep = o.keepUncaptioned ?? false;
  const load = async (): Promise<Entry[]> => {
    const json = await readJson(annotations, 'COCO annotations');
    const j = json as { images?: unknown; annotations?: unknown };
    if (!j || typeof j !== 'object' || !Array.isArray(j.images) || !Array.isArray(j.annotations)) {
      throw new FormatError(`Expected a COCO captions file with "images" and "annotations" arrays in ${annotations}`);
    }
    const byImage = new Map<string, string[]>();
    for (const a of j.annotations as unknown[]) {
      const ann = a as { image_id?: unknown; caption?: unknown } | null;
      if (!ann || (typeof ann.image_id !== 'number' && typeof ann.image_id !== 'string')) continue;
      if (typeof ann.caption !== 'string') continue;
      const key = String(ann.image_id);
      const list = byImage.get(key);
      if (list) list.push(ann.caption);
      else byImage.set(key, [ann.caption]);
    }
    const entries: Entry[] = [];
    for (const im of j.images as unknown[]) {
      const img = im as { id?: unknown; file_name?: unknown } | null;
      if (!img || (typeof img.id !== 'number' && typeof img.id !== 'string') || typeof img.file_name !== 'string') continue;
      const id = String(img.id);
      const captions = byImage.get(id) ?? [];
      if (captions.length === 0 && !keep) continue;
      entries.push({ id, file: img.file_name, captions });
    }
    return entries;
  };
  return new Dataset(new ManifestNode<Entry, DataItem>(load, (e) => ({
    id: e.id,
    image: resolveImage(images, e.file),
    captions: [...e.captions],
  })));
}

/** A Karpathy split; `'validation'` (Hugging Face's name) is the same as `'val'`. */
export type KarpathySplit = 'train' | 'val' | 'validation' | 'test' | 'restval' | 'all';

/** Split names as Hugging Face `datasets` spells them, mapped to the Karpathy files' own. */
const SPLIT_ALIASES: Readonly<Record<string, string>> = { validation: 'val' };

export interface KarpathyOptions {
  /** dataset_coco.json / dataset_flickr8k.json / dataset_flickr30k.json. */
  json: string;
  /** Image root: images are at images/filepath/filename (filepath is absent for Flickr). */
  images: string;
  /**
   * Which split: 'train' (includes 'restval' unless foldRestval is false), 'val' (also spelt
   * 'validation', as Hugging Face names it), 'test', 'restval' or 'all'. Default 'train'.
   */
  split?: KarpathySplit;
  /** Count restval images as train (the usual Karpathy setup). Default true. */
  foldRestval?: boolean;
}

/** Karpathy split files: images[].{filepath?, filename, split, sentences[].raw}. */
export function karpathy(options: KarpathyOptions): Dataset<DataItem> {
  const o = optionsObject(options, 'datasets.karpathy');
  const file = pathOption(o.json, 'karpathy json');
  const images = pathOption(o.images, 'karpathy images');
  const given: unknown = o.split ?? 'train';
  if (typeof given !== 'string' || !['train', 'val', 'validation', 'test', 'restval', 'all'].includes(given)) {
    expected("'train', 'val' (or 'validation'), 'test', 'restval' or 'all'", 'karpathy split', given);
  }
  const split = SPLIT_ALIASES[given] ?? given;
  const fold = o.foldRestval ?? true;
  const wanted = (s: unknown): boolean => {
    if (split === 'all') return true;
    if (split === 'train') return s === 'train' || (fold && s === 'restval');
    return s === split;
  };
  const load = async (): Promise<Entry[]> => {
    const json = await readJson(file, 'Karpathy split file');
    const j = json as { images?: unknown };
    if (!j || typeof j !== 'object' || !Array.isArray(j.images)) {
      throw new FormatError(`Expected a Karpathy split file with an "images" array in ${file}`);
    }
    const entries: Entry[] = [];
    for (const im of j.images as unknown[]) {
      const img = im as { filepath?: unknown; filename?: unknown; split?: unknown; sentences?: unknown; cocoid?: unknown; imgid?: unknown } | null;
      if (!img || typeof img.filename !== 'string' || !wanted(img.split)) continue;
      const rel = typeof img.filepath === 'string' && img.filepath ? path.join(img.filepath, img.filename) : img.filename;
      const idv = img.cocoid ?? img.imgid;
      const id = typeof idv === 'number' || typeof idv === 'string' ? String(idv) : rel;
      entries.push({ id, file: rel, captions: toCaptionList(img.sentences) });
    }
    return entries;
  };
  return new Dataset(new ManifestNode<Entry, DataItem>(load, (e) => ({
    id: e.id,
    image: resolveImage(images, e.file),
    captions: [...e.captions],
  })));
}
