/**
 * `torch-caption score --predictions P.json --references R.json [--json] [--per-image] [--meteor-jar PATH]`
 *
 * COCO caption metrics as pycocoevalcap computes them. Predictions: COCO results `[{image_id, caption}]`
 * or `{id: caption}`; references: COCO annotations `{annotations: [{image_id, caption}]}` (captions_val2014.json),
 * a Karpathy split file `{images: [{cocoid | imgid, sentences: [{raw}]}]}` (dataset_coco.json, all splits:
 * images without a prediction are ignored) or `{id: [captions]}`; stderr says which one was read. Prints a
 * table, or with --json one JSON object as the last stdout line.
 */
import type { Command } from 'commander';
import { readJson } from '../json.js';
import { scoreCaptions, type CocoScores, type PredictionsInput, type ReferencesInput } from '../metrics/index.js';
import { UsageError } from './common.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a references file holds, and the references in a form scoreCaptions takes. */
export interface ReferencesFile {
  /** 'karpathy' (dataset_coco.json style), 'coco' (captions_val2014.json style), 'map' ({id: [captions]}) or 'list'. */
  format: 'karpathy' | 'coco' | 'map' | 'list';
  /** A one-line description for stderr. */
  description: string;
  references: ReferencesInput;
}

function isKarpathy(j: unknown): j is { images: unknown[] } {
  return isRecord(j) && !Array.isArray(j.annotations) && Array.isArray(j.images)
    && j.images.some((im) => isRecord(im) && Array.isArray(im.sentences));
}

/** One Karpathy sentence: its raw text, else its tokens joined. */
function sentenceText(s: unknown): string | null {
  if (typeof s === 'string') return s;
  if (!isRecord(s)) return null;
  if (typeof s.raw === 'string') return s.raw;
  if (Array.isArray(s.tokens) && s.tokens.every((t) => typeof t === 'string')) return s.tokens.join(' ');
  return null;
}

/**
 * Tell the format of a parsed references file and bring a Karpathy split file to `{id: [captions]}`: the id
 * is `cocoid` (COCO), else `imgid` (Flickr), as datasets.karpathy and `torch-caption eval` name the images.
 */
export function readReferencesFile(json: unknown): ReferencesFile {
  if (isKarpathy(json)) {
    const byId: Record<string, string[]> = {};
    let captions = 0;
    json.images.forEach((im, i) => {
      if (!isRecord(im)) throw new UsageError(`Expected an image object for images[${i}] of the Karpathy split file but received ${JSON.stringify(im)}`);
      const idv = im.cocoid ?? im.imgid;
      const id = typeof idv === 'number' || typeof idv === 'string' ? String(idv) : typeof im.filename === 'string' ? im.filename : null;
      if (id === null) throw new UsageError(`Expected a cocoid, imgid or filename for images[${i}] of the Karpathy split file`);
      const sents = (Array.isArray(im.sentences) ? im.sentences : []).map(sentenceText).filter((t): t is string => t !== null);
      (byId[id] ??= []).push(...sents);
      captions += sents.length;
    });
    const dataset: unknown = (json as { dataset?: unknown }).dataset;
    const name = typeof dataset === 'string' ? ` of ${dataset}` : '';
    return {
      format: 'karpathy',
      description: `a Karpathy split file${name} (dataset_coco.json style): ${Object.keys(byId).length} images, ${captions} captions, all splits (images without a prediction are ignored)`,
      references: byId,
    };
  }
  const anns = isRecord(json) && Array.isArray(json.annotations) ? json.annotations
    : Array.isArray(json) && json.length > 0 && json.every((x) => isRecord(x) && 'image_id' in x) ? json : null;
  if (anns !== null) {
    const images = new Set(anns.map((a) => (isRecord(a) ? String(a.image_id) : '')));
    return {
      format: 'coco',
      description: `COCO annotations (captions_val2014.json style): ${images.size} images, ${anns.length} captions`,
      references: json as ReferencesInput,
    };
  }
  if (Array.isArray(json)) return { format: 'list', description: `a list of ${json.length} reference lists (aligned with the predictions)`, references: json as ReferencesInput };
  return {
    format: 'map',
    description: `a map {id: [captions]}${isRecord(json) ? ` of ${Object.keys(json).length} images` : ''}`,
    references: json as ReferencesInput,
  };
}

interface ScoreCliOptions {
  predictions: string;
  references: string;
  json?: boolean;
  perImage?: boolean;
  meteorJar?: string;
  tokenized?: boolean;
}

/** readJson, with a file that cannot be read reported as bad usage (exit 2) rather than a failed job. */
async function readJsonArg(path: string, flag: string): Promise<unknown> {
  try {
    return await readJson(path, `the ${flag} file`);
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if (!cause?.code) throw err; // it was read but does not parse: FormatError
    throw new UsageError(
      `Expected a readable JSON file for ${flag} but received ${JSON.stringify(path)} (${cause.code === 'ENOENT' ? 'no such file' : cause.message})`,
    );
  }
}

const fmt = (x: number | undefined): string => (x === undefined ? '' : x.toFixed(4));

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n') + '\n';
}

/** Run the score command; returns the scores (for tests) after printing them. */
export async function runScore(
  opts: ScoreCliOptions,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<CocoScores> {
  const predictions = await readJsonArg(opts.predictions, '--predictions');
  const refs = readReferencesFile(await readJsonArg(opts.references, '--references'));
  err(`torch-caption score: --references ${opts.references}: ${refs.description}\n`);
  const scores = scoreCaptions(predictions as PredictionsInput, refs.references, {
    perImage: opts.perImage === true,
    meteorJar: opts.meteorJar,
    tokenize: opts.tokenized !== true,
  });
  const keys = Object.keys(scores).filter((k) => k !== 'perImage') as Array<keyof CocoScores & string>;
  if (opts.json) {
    out(JSON.stringify(scores) + '\n');
    return scores;
  }
  const per = scores.perImage ?? {};
  const ids = Object.keys(per);
  if (opts.perImage && ids.length > 0) {
    const rows = [['image_id', ...keys]];
    for (const id of ids) {
      const s = per[id] as Record<string, number>;
      rows.push([id, ...keys.map((k) => fmt(s[k]))]);
    }
    out(table(rows));
    out('\n');
  }
  const corpus = scores as unknown as Record<string, number>;
  out(table([['metric', 'score'], ...keys.map((k) => [k, fmt(corpus[k])])]));
  return scores;
}

export function registerScore(program: Command, io: { stdout?: (s: string) => void; stderr?: (s: string) => void } = {}): void {
  program
    .command('score')
    .description(
      'COCO caption metrics as pycocoevalcap computes them: Bleu_1..4, ROUGE_L, CIDEr (and METEOR with a METEOR 1.5 jar and Java)',
    )
    .requiredOption('--predictions <file>', 'predictions JSON: COCO results [{image_id, caption}] or {id: caption}')
    .requiredOption('--references <file>', 'references JSON: COCO annotations (captions_val2014.json), a Karpathy split file (dataset_coco.json) or {id: [captions]}')
    .option('--json', 'print one JSON object with the scores (the last stdout line)')
    .option('--per-image', 'also report the scores of every image')
    .option('--meteor-jar <path>', 'METEOR 1.5 jar for COCO METEOR (needs Java; default: env METEOR_JAR)')
    .option('--tokenized', 'captions are already COCO-tokenized (skip the PTB tokenizer)')
    .action(async (opts: ScoreCliOptions) => {
      await runScore(opts, io.stdout ?? ((s) => process.stdout.write(s)), io.stderr ?? ((s) => process.stderr.write(s)));
    });
}
