/** `torch-caption caption --model DIR [--num-beams N] [--max-length N] [--json] [--fail-fast] IMAGE...` */
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { extname, isAbsolute, join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { glob, isDynamicPattern } from 'tinyglobby';
import { pipeline, type ImageToTextPipeline } from '../pipeline.js';
import { EXIT_FAILED, errorMessage, parsePositiveInt, printJson, UsageError } from './common.js';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif']);

/**
 * Expand the command's image arguments into files, in order: a file is itself, a folder gives its images
 * (by extension, sorted), and a glob gives the files it matches, sorted (tinyglobby/picomatch syntax:
 * `*`, `?`, `**`, character classes `img_[0-3].jpg`, braces `{a,b}/*.jpg`, `{1..9}`). An existing path is
 * taken literally even when it looks like a glob. A glob that matches nothing is reported through `warn`
 * (the other arguments still count); a plain path that does not exist is a UsageError.
 */
export async function expandImages(args: string[], warn: (message: string) => void = () => {}): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    const s = await stat(a).catch(() => null);
    if (!s && isDynamicPattern(a)) {
      const found = await glob(a, { onlyFiles: true, expandDirectories: false, absolute: isAbsolute(a), dot: true });
      if (found.length === 0) warn(`no file matches ${a}`);
      out.push(...found.sort());
      continue;
    }
    if (!s) throw new UsageError(`No such image or folder: ${a}`);
    if (s.isDirectory()) {
      for (const f of (await readdir(a)).sort()) if (IMAGE_EXT.has(extname(f).toLowerCase())) out.push(join(a, f));
    } else {
      out.push(a);
    }
  }
  return out;
}

type GenOptions = NonNullable<Parameters<ImageToTextPipeline>[1]>;

interface BatchResult {
  captions: { file: string; caption: string }[];
  failed: { file: string; reason: string }[];
}

function firstLine(err: unknown): string {
  return errorMessage(err).split('\n')[0]!;
}

/**
 * Caption one batch. When it fails, each image is decoded alone to find the bad ones, and the rest are
 * captioned without them: one corrupt file must not cost the other images of its batch. A failure that no
 * single image explains (the model, the options) is rethrown.
 */
async function captionBatch(captioner: ImageToTextPipeline, files: string[], gen: GenOptions): Promise<BatchResult> {
  let batchError: unknown;
  try {
    const out = await captioner(files, gen);
    return { captions: files.map((file, j) => ({ file, caption: out[j]!.generated_text })), failed: [] };
  } catch (err) {
    batchError = err;
  }
  const good: string[] = [];
  const failed: BatchResult['failed'] = [];
  for (const file of files) {
    try {
      await captioner.imageProcessor.preprocess(file);
      good.push(file);
    } catch (err) {
      failed.push({ file, reason: firstLine(err) });
    }
  }
  if (failed.length === 0) throw batchError;
  const out = good.length ? await captioner(good, gen) : [];
  return { captions: good.map((file, j) => ({ file, caption: out[j]!.generated_text })), failed };
}

/** "Cannot decode image /a/b.jpg: premature end" -> "cannot decode: premature end" (the path is printed once). */
function reasonFor(file: string, reason: string): string {
  const prefix = `Cannot decode image ${file}: `;
  return reason.startsWith(prefix) ? `cannot decode: ${reason.slice(prefix.length)}` : reason;
}

export function registerCaption(program: Command): void {
  program
    .command('caption')
    .description('caption images with a model folder (config.json + model.safetensors + tokenizer + preprocessor)')
    .requiredOption('--model <dir>', 'model folder or Hugging Face hub id')
    .option('--num-beams <n>', 'beam width (1 = greedy)', (v) => parsePositiveInt(v, '--num-beams'))
    .option('--max-length <n>', 'maximum caption length in tokens, start token included', (v) => parsePositiveInt(v, '--max-length'))
    .option('--batch-size <n>', 'images per batch', (v) => parsePositiveInt(v, '--batch-size'), 8)
    .option('--device <device>', 'cpu, cuda, cuda:N or auto', 'cpu')
    .option('--json', 'one JSON object per line: {"image", "caption"}')
    .option('--fail-fast', 'stop at the first image that cannot be read or decoded (default: caption the others, report each bad one on stderr, exit 1 at the end)')
    .argument('<images...>', 'image files, folders or globs')
    .action(async (images: string[], opts: { model: string; numBeams?: number; maxLength?: number; batchSize: number; device: string; json?: boolean; failFast?: boolean }) => {
      const unmatched: string[] = [];
      const files = await expandImages(images, (m) => void unmatched.push(m));
      if (files.length === 0) throw new UsageError(`No images found${unmatched.length ? ` (${unmatched.join('; ')})` : ''}`);
      for (const m of unmatched) process.stderr.write(`torch-caption: ${m}\n`);
      const captioner = await pipeline('image-to-text', opts.model, { device: opts.device as 'cpu' });
      const bar = process.stderr.isTTY && files.length > 8 ? new SingleBar({ format: 'captioning {bar} {value}/{total} images | ETA {eta}s', stream: process.stderr }) : null;
      bar?.start(files.length, 0);
      const gen: GenOptions = { ...(opts.numBeams ? { num_beams: opts.numBeams } : {}), ...(opts.maxLength ? { max_length: opts.maxLength } : {}), batch_size: opts.batchSize };
      let failures = 0;
      try {
        for (let i = 0; i < files.length; i += opts.batchSize) {
          const batch = files.slice(i, i + opts.batchSize);
          // --fail-fast: the batch's error ends the run, as it always did.
          const r = opts.failFast ? { captions: (await captioner(batch, gen)).map((o, j) => ({ file: batch[j]!, caption: o.generated_text })), failed: [] } : await captionBatch(captioner, batch, gen);
          bar?.increment(batch.length);
          for (const { file, caption } of r.captions) {
            if (opts.json) printJson({ image: file, caption });
            else process.stdout.write(`${file}\t${caption}\n`);
          }
          for (const { file, reason } of r.failed) process.stderr.write(`torch-caption: skipped ${file}: ${reasonFor(file, reason)}\n`);
          failures += r.failed.length;
        }
      } finally {
        bar?.stop();
      }
      if (failures > 0) process.exitCode = EXIT_FAILED;
    });
}
