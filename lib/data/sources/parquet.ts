/**
 * Parquet files as exported from the Hugging Face hub: an image column holding encoded bytes (or
 * {bytes, path} structs, the `datasets` Image feature) and a text column. Read with hyparquet one
 * row group at a time (the next group is read ahead while the current one is consumed), so memory
 * holds at most two row groups, never the whole file.
 */
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { FormatError } from '../../errors.js';
import { Dataset, StreamNode } from '../dataset.js';
import { toCaptionList } from '../text.js';
import type { DataItem } from '../types.js';
import { optionalString, optionsObject, pathOption, resolveImage } from './common.js';

export interface ParquetOptions {
  /** Image column: bytes, or a {bytes, path} struct. Default 'image'. */
  imageColumn?: string;
  /** Caption column (string or list of strings). Default: the first of text, caption, captions, sentences, sentences_raw. */
  textColumn?: string;
  /** Id column. Default: id or image_id when present, else "<file name>#<row>". */
  idColumn?: string;
  /** Where {path}-only images resolve. Default: the Parquet file's folder. */
  imageRoot?: string;
}

interface Opened {
  file: AsyncBuffer;
  metadata: FileMetaData;
  columns: string[];
  imageColumn: string;
  textColumn: string;
  idColumn: string | undefined;
  groups: { start: number; end: number }[];
}

const TEXT_COLUMNS = ['text', 'caption', 'captions', 'sentences', 'sentences_raw'];
const ID_COLUMNS = ['id', 'image_id'];

/** A Parquet dataset (streams row groups; see ParquetOptions). */
export function parquet(file: string, options?: ParquetOptions): Dataset<DataItem> {
  pathOption(file, 'parquet path');
  const o = optionsObject(options, 'datasets.parquet');
  const imageColumn = optionalString(o.imageColumn, 'parquet imageColumn') ?? 'image';
  const textOpt = optionalString(o.textColumn, 'parquet textColumn');
  const idOpt = optionalString(o.idColumn, 'parquet idColumn');
  const root = o.imageRoot === undefined ? path.dirname(file) : pathOption(o.imageRoot, 'parquet imageRoot');
  const base = path.basename(file);
  let opening: Promise<Opened> | undefined;

  const open = (): Promise<Opened> => {
    opening ??= (async () => {
      let buf: AsyncBuffer;
      let metadata: FileMetaData;
      try {
        buf = await asyncBufferFromFile(file);
        metadata = await parquetMetadataAsync(buf);
      } catch (err) {
        const code = (err as { code?: string }).code;
        throw new FormatError(`Cannot read Parquet file ${file}: ${code ?? (err as Error).message}`, { cause: err });
      }
      const names = parquetSchema(metadata).children.map((c) => c.element.name);
      const pick = (explicit: string | undefined, candidates: readonly string[], what: string, required: boolean): string | undefined => {
        if (explicit !== undefined) {
          if (!names.includes(explicit)) throw new FormatError(`Expected a column "${explicit}" (${what}) in Parquet file ${file} but its columns are: ${names.join(', ')}`);
          return explicit;
        }
        const found = candidates.find((c) => names.includes(c));
        if (!found && required) throw new FormatError(`Expected a ${what} column (${candidates.join(', ')}) in Parquet file ${file} but its columns are: ${names.join(', ')}; set the option`);
        return found;
      };
      const img = pick(imageColumn, [], 'image', true)!;
      const text = pick(textOpt, TEXT_COLUMNS, 'text', true)!;
      const id = pick(idOpt, ID_COLUMNS, 'id', false);
      const groups: { start: number; end: number }[] = [];
      let start = 0;
      for (const g of metadata.row_groups) {
        const n = Number(g.num_rows);
        groups.push({ start, end: start + n });
        start += n;
      }
      return { file: buf, metadata, columns: [img, text, ...(id ? [id] : [])], imageColumn: img, textColumn: text, idColumn: id, groups };
    })();
    opening.catch(() => {
      opening = undefined;
    });
    return opening;
  };

  const readGroup = (f: Opened, g: { start: number; end: number }): Promise<Record<string, unknown>[]> =>
    parquetReadObjects({ file: f.file, metadata: f.metadata, columns: f.columns, rowStart: g.start, rowEnd: g.end, utf8: false })
      .catch((err: unknown) => {
        throw new FormatError(`Cannot decode rows ${g.start}-${g.end} of Parquet file ${file}: ${(err as Error).message}`, { cause: err });
      });

  const toItem = (f: Opened, row: Record<string, unknown>, rowIndex: number): DataItem => {
    const idv = f.idColumn ? row[f.idColumn] : undefined;
    const id = typeof idv === 'string' || typeof idv === 'number' || typeof idv === 'bigint' ? String(idv)
      : idv instanceof Uint8Array ? Buffer.from(idv).toString('utf8') : `${base}#${rowIndex}`;
    const captions = toCaptionList(row[f.textColumn]);
    const v = row[f.imageColumn];
    if (v instanceof Uint8Array) return { id, image: Buffer.from(v.buffer, v.byteOffset, v.byteLength), captions };
    if (typeof v === 'string' && v) return { id, image: resolveImage(root, v), captions };
    if (v && typeof v === 'object') {
      const s = v as { bytes?: unknown; path?: unknown };
      if (s.bytes instanceof Uint8Array && s.bytes.length > 0) {
        return { id, image: Buffer.from(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength), captions };
      }
      const p = s.path instanceof Uint8Array ? Buffer.from(s.path).toString('utf8') : s.path;
      if (typeof p === 'string' && p) return { id, image: resolveImage(root, p), captions };
      if (s.bytes instanceof Uint8Array) return { id, image: Buffer.alloc(0), captions }; // zero bytes: loader counts empty_file
    }
    return { id, image: '', captions, error: 'missing_image' };
  };

  return new Dataset(new StreamNode<DataItem>(
    async function* (start) {
      const f = await open();
      let gi = f.groups.findIndex((g) => g.end > start);
      if (gi < 0) return;
      let next: Promise<Record<string, unknown>[]> | undefined = readGroup(f, f.groups[gi]!);
      while (next) {
        const rows = await next;
        const g = f.groups[gi]!;
        gi++;
        next = gi < f.groups.length ? readGroup(f, f.groups[gi]!) : undefined; // read ahead
        next?.catch(() => undefined); // surfaced when awaited
        for (let k = Math.max(0, start - g.start); k < rows.length; k++) yield toItem(f, rows[k]!, g.start + k);
      }
    },
    async () => {
      const f = await open();
      return f.groups.length ? f.groups[f.groups.length - 1]!.end : 0;
    },
  ));
}
