/**
 * JSONL and CSV manifests, and image folders with caption sidecars.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse/sync';
import { expected, FormatError } from '../../errors.js';
import { Dataset, ManifestNode, StreamNode } from '../dataset.js';
import { decodeUtf8, toCaptionList } from '../text.js';
import type { DataItem, ItemImage } from '../types.js';
import { optionalString, optionsObject, pathOption, readText, resolveImage } from './common.js';

export interface JsonlOptions {
  /** Folder relative image paths resolve against. Default: the JSONL file's folder. */
  imageRoot?: string;
  /** Key of the image path. Default: the first present of image, file_name, image_path, filepath, path, file. */
  imageField?: string;
  /** Key of the captions (a string or an array). Default: the first present of captions, caption, text, sentences. */
  captionField?: string;
  /** Key of the id. Default: id, then image_id, then the image path. */
  idField?: string;
}

const IMAGE_KEYS = ['image', 'file_name', 'image_path', 'filepath', 'path', 'file'];
const CAPTION_KEYS = ['captions', 'caption', 'text', 'sentences'];
const ID_KEYS = ['id', 'image_id'];

function firstKey(obj: Record<string, unknown>, explicit: string | undefined, keys: readonly string[]): unknown {
  if (explicit !== undefined) return obj[explicit];
  for (const k of keys) if (obj[k] !== undefined && obj[k] !== null) return obj[k];
  return undefined;
}

/**
 * A JSON Lines manifest, one item per non-blank line: `{"image": "a.jpg", "captions": ["..."]}`
 * (see JsonlOptions for the accepted keys). Streams the file; a line that is not a JSON object
 * becomes an item with error 'bad_manifest_line' (the loader skips and counts it).
 */
export function jsonl(file: string, options?: JsonlOptions): Dataset<DataItem> {
  pathOption(file, 'jsonl path');
  const o = optionsObject(options, 'datasets.jsonl');
  const root = o.imageRoot === undefined ? path.dirname(file) : pathOption(o.imageRoot, 'jsonl imageRoot');
  const imageField = optionalString(o.imageField, 'jsonl imageField');
  const captionField = optionalString(o.captionField, 'jsonl captionField');
  const idField = optionalString(o.idField, 'jsonl idField');
  const base = path.basename(file);

  const toItem = (line: string, lineNo: number): DataItem => {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      return { id: `${base}:${lineNo}`, image: '', captions: [], error: 'bad_manifest_line' };
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      return { id: `${base}:${lineNo}`, image: '', captions: [], error: 'bad_manifest_line' };
    }
    const rec = obj as Record<string, unknown>;
    const img = firstKey(rec, imageField, IMAGE_KEYS);
    const imgPath = typeof img === 'string' ? img
      : img && typeof img === 'object' && typeof (img as { path?: unknown }).path === 'string' ? (img as { path: string }).path : undefined;
    const idv = firstKey(rec, idField, ID_KEYS);
    const id = typeof idv === 'string' || typeof idv === 'number' ? String(idv) : imgPath ?? `${base}:${lineNo}`;
    if (imgPath === undefined || imgPath === '') return { id, image: '', captions: [], error: 'bad_manifest_line' };
    return { id, image: resolveImage(root, imgPath), captions: toCaptionList(firstKey(rec, captionField, CAPTION_KEYS)) };
  };

  return new Dataset(new StreamNode<DataItem>(async function* (start) {
    let input;
    try {
      await fsp.access(file);
      input = createReadStream(file, { encoding: 'utf8' });
    } catch (err) {
      throw new FormatError(`Cannot read JSONL manifest ${file} (${(err as { code?: string }).code ?? 'error'})`, { cause: err });
    }
    const lines = createInterface({ input, crlfDelay: Infinity });
    try {
      let lineNo = 0;
      let index = 0;
      for await (const raw of lines) {
        lineNo++;
        const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
        if (line.trim() === '') continue;
        if (index++ < start) continue; // skipped lines are not even parsed
        yield toItem(line, lineNo);
      }
    } finally {
      lines.close();
      input.destroy();
    }
  }));
}

export interface CsvOptions {
  /** Column with the image path. Default 'image'. */
  imageColumn?: string;
  /** Column with the caption. Default 'caption'. */
  captionColumn?: string;
  /** Column with an id. Default: the image path. */
  idColumn?: string;
  /** Folder relative image paths resolve against. Default: the CSV file's folder. */
  imageRoot?: string;
  /** Field delimiter. Default ','. */
  delimiter?: string;
  /** Splits one caption cell into several captions; null keeps cells whole. Default '|'. */
  captionSeparator?: string | null;
}

interface CsvEntry {
  id: string;
  image: string;
  captions: string[];
}

/**
 * A CSV manifest with a header row. Rows that name the same image are grouped into one item (in
 * order of first appearance, anywhere in the file), and a caption cell may hold several captions
 * separated by `captionSeparator` ('|'). The manifest text is read once and kept (not the images),
 * which gives random access.
 */
export function csv(file: string, options?: CsvOptions): Dataset<DataItem> {
  pathOption(file, 'csv path');
  const o = optionsObject(options, 'datasets.csv');
  const imageColumn = optionalString(o.imageColumn, 'csv imageColumn') ?? 'image';
  const captionColumn = optionalString(o.captionColumn, 'csv captionColumn') ?? 'caption';
  const idColumn = optionalString(o.idColumn, 'csv idColumn');
  const root = o.imageRoot === undefined ? path.dirname(file) : pathOption(o.imageRoot, 'csv imageRoot');
  const delimiter = optionalString(o.delimiter, 'csv delimiter') ?? ',';
  const sep = o.captionSeparator === undefined ? '|' : o.captionSeparator;
  if (sep !== null && (typeof sep !== 'string' || sep.length === 0)) expected('a non-empty string or null', 'csv captionSeparator', sep);

  const load = async (): Promise<CsvEntry[]> => {
    const text = await readText(file, 'CSV manifest');
    let records: Record<string, string>[];
    try {
      records = parseCsv(text, {
        columns: (header: string[]) => header.map((h) => h.trim()),
        bom: true,
        delimiter,
        skip_empty_lines: true,
        relax_column_count: true,
        relax_quotes: true,
      }) as Record<string, string>[];
    } catch (err) {
      throw new FormatError(`Expected a CSV file with a header row in ${file} but it does not parse: ${(err as Error).message}`, { cause: err });
    }
    if (records.length > 0) {
      const cols = Object.keys(records[0]!);
      for (const c of [imageColumn, captionColumn, ...(idColumn ? [idColumn] : [])]) {
        if (!cols.includes(c)) {
          throw new FormatError(`Expected a column "${c}" in CSV manifest ${file} but its columns are: ${cols.join(', ')}`);
        }
      }
    }
    const byImage = new Map<string, CsvEntry>();
    for (const rec of records) {
      const image = (rec[imageColumn] ?? '').trim();
      if (!image) continue;
      const cell = rec[captionColumn] ?? '';
      const caps = sep === null ? [cell] : cell.split(sep);
      let e = byImage.get(image);
      if (!e) {
        const id = idColumn ? (rec[idColumn] ?? '').trim() || image : image;
        e = { id, image, captions: [] };
        byImage.set(image, e);
      }
      e.captions.push(...caps);
    }
    return [...byImage.values()];
  };
  return new Dataset(new ManifestNode<CsvEntry, DataItem>(load, (e) => ({
    id: e.id,
    image: resolveImage(root, e.image),
    captions: [...e.captions],
  })));
}

export interface ImageFolderOptions {
  /** Look in sub-folders too. Default true. */
  recursive?: boolean;
  /** Image file extensions (lower case, with dot). Default .jpg .jpeg .png .webp .gif .tif .tiff .avif .bmp. */
  extensions?: readonly string[];
}

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp'];

async function listImages(dir: string, recursive: boolean, exts: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      throw new FormatError(`Cannot read image folder ${d} (${(err as { code?: string }).code ?? 'error'})`, { cause: err });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(p);
      } else if (exts.has(path.extname(e.name).toLowerCase())) {
        out.push(p);
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * A folder of images with captions in same-name .txt files (photo.jpg -> photo.txt, one caption per
 * line). Files are listed once, sorted by path; captions are read when an item is fetched. An image
 * without a .txt gets no captions (the loader skips it as empty_caption).
 */
export function imageFolder(dir: string, options?: ImageFolderOptions): Dataset<DataItem> {
  pathOption(dir, 'imageFolder dir');
  const o = optionsObject(options, 'datasets.imageFolder');
  const recursive = o.recursive ?? true;
  const exts = new Set((o.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase()));
  const toItem = async (file: string): Promise<DataItem> => {
    const rel = path.relative(dir, file);
    const id = rel.slice(0, rel.length - path.extname(rel).length).split(path.sep).join('/');
    const txt = file.slice(0, file.length - path.extname(file).length) + '.txt';
    let captions: string[] = [];
    try {
      captions = decodeUtf8(await fsp.readFile(txt)).split(/\r?\n/).filter((line) => line.trim() !== '');
    } catch {
      captions = [];
    }
    const image: ItemImage = file;
    return { id, image, captions };
  };
  return new Dataset(new ManifestNode<string, DataItem>(() => listImages(dir, recursive, exts), toItem));
}
