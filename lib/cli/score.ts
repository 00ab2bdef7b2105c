/**
 * `torch-caption score --predictions P.json --references R.json [--json] [--per-image] [--meteor-jar PATH]`
 *
 * COCO caption metrics as pycocoevalcap computes them. Predictions: COCO results `[{image_id, caption}]`
 * or `{id: caption}`; references: COCO annotations `{annotations: [{image_id, caption}]}` or
 * `{id: [captions]}`. Prints a table, or with --json one JSON object as the last stdout line.
 */
import type { Command } from 'commander';
import { readJson } from '../json.js';
import { scoreCaptions, type CocoScores, type PredictionsInput, type ReferencesInput } from '../metrics/index.js';
import { UsageError } from './common.js';

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
export async function runScore(opts: ScoreCliOptions, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<CocoScores> {
  const predictions = await readJsonArg(opts.predictions, '--predictions');
  const references = await readJsonArg(opts.references, '--references');
  const scores = scoreCaptions(predictions as PredictionsInput, references as ReferencesInput, {
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

export function registerScore(program: Command, io: { stdout?: (s: string) => void } = {}): void {
  program
    .command('score')
    .description(
      'COCO caption metrics as pycocoevalcap computes them: Bleu_1..4, ROUGE_L, CIDEr (and METEOR with a METEOR 1.5 jar and Java)',
    )
    .requiredOption('--predictions <file>', 'predictions JSON: COCO results [{image_id, caption}] or {id: caption}')
    .requiredOption('--references <file>', 'references JSON: COCO annotations {annotations: [{image_id, caption}]} or {id: [captions]}')
    .option('--json', 'print one JSON object with the scores (the last stdout line)')
    .option('--per-image', 'also report the scores of every image')
    .option('--meteor-jar <path>', 'METEOR 1.5 jar for COCO METEOR (needs Java; default: env METEOR_JAR)')
    .option('--tokenized', 'captions are already COCO-tokenized (skip the PTB tokenizer)')
    .action(async (opts: ScoreCliOptions) => {
      await runScore(opts, io.stdout ?? ((s) => process.stdout.write(s)));
    });
}
