/** `torch-caption caption --model DIR [--num-beams N] [--max-length N] [--json] [--fail-fast] IMAGE...` (paths, folders, globs or http(s) URLs) */
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { extname, isAbsolute, join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { glob, isDynamicPattern } from 'tinyglobby';
import { TorchCaptionError } from '../errors.js';
import { pipeline, type ImageToTextCallOptions, type ImageToTextFailure, type ImageToTextOutput } from '../pipeline.js';
import { isImageUrl } from '../processing/fetch-image.js';
import { EXIT_FAILED, errorMessage, parsePositiveInt, printJson, UsageError } from './common.js';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif']);

/**
 * Expand the command's image arguments into files, in order: an http(s) URL is itself (the pipeline fetches
 * it), a file is itself, a folder gives its images (by extension, sorted), and a glob gives the files it
 * matches, sorted (tinyglobby/picomatch syntax:
 * `*`, `?`, `**`, character classes `img_[0-3].jpg`, braces `{a,b}/*.jpg`, `{1..9}`). An existing path is
 * taken literally even when it looks like a glob. A glob that matches nothing is reported through `warn`
 * (the other arguments still count); a plain path that does not exist is a UsageError.
 */
export async function expandImages(args: string[], warn: (message: string) => void = () => {}): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    if (isImageUrl(a)) {
      out.push(a); // fetched by the pipeline
      continue;
    }
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

type GenOptions = Pick<ImageToTextCallOptions, 'num_beams' | 'max_length' | 'batch_size' | 'prompt'>;

/** The pipeline names an input by its index in the call ("inputs[3]: ..."); the CLI names it by its path or URL. */
function withoutIndex(message: string): string {
  return message.split('\n')[0]!.replace(/^inputs\[\d+\]: /, '');
}

/**
 * "Cannot decode image /a/b.jpg: premature end" -> "cannot decode: premature end", and "Cannot fetch image
 * https://h/x.jpg: HTTP 404 Not Found; ..." -> "cannot fetch: HTTP 404 ..." (the path or URL is printed once).
 */
function reasonFor(file: string, reason: string): string {
  for (const verb of ['decode', 'fetch']) {
    const prefix = `Cannot ${verb} image ${file}: `;
    if (reason.startsWith(prefix)) return `cannot ${verb}: ${reason.slice(prefix.length)}`;
  }
  return reason;
}

export function registerCaption(program: Command): void {
  program
    .command('caption')
    .description('caption images with a model folder (config.json + model.safetensors + tokenizer + preprocessor)')
    .requiredOption('--model <dir>', 'model folder or Hugging Face hub id')
    .option('--num-beams <n>', 'beam width (1 = greedy)', (v) => parsePositiveInt(v, '--num-beams'))
    .option('--max-length <n>', 'maximum caption length in tokens, start token included', (v) => parsePositiveInt(v, '--max-length'))
    .option('--prompt <text>', 'conditional captioning (GIT, BLIP): every caption continues this text, e.g. "a picture of"')
    .option('--batch-size <n>', 'images per batch', (v) => parsePositiveInt(v, '--batch-size'), 8)
    .option('--device <device>', 'cpu, cuda, cuda:N or auto', 'cpu')
    .option('--json', 'one JSON object per line: {"image", "caption"}')
    .option('--fail-fast', 'stop at the first image that cannot be read or decoded (default: caption the others, report each bad one on stderr, exit 1 at the end)')
    .argument('<images...>', 'image files, folders, globs or http(s) URLs')
    .action(async (images: string[], opts: { model: string; numBeams?: number; maxLength?: number; prompt?: string; batchSize: number; device: string; json?: boolean; failFast?: boolean }) => {
      const unmatched: string[] = [];
      const files = await expandImages(images, (m) => void unmatched.push(m));
      if (files.length === 0) throw new UsageError(`No images found${unmatched.length ? ` (${unmatched.join('; ')})` : ''}`);
      for (const m of unmatched) process.stderr.write(`torch-caption: ${m}\n`);
      const captioner = await pipeline('image-to-text', opts.model, { device: opts.device as 'cpu' });
      const bar = process.stderr.isTTY && files.length > 8 ? new SingleBar({ format: 'captioning {bar} {value}/{total} images | ETA {eta}s', stream: process.stderr }) : null;
      bar?.start(files.length, 0);
      const gen: GenOptions = { ...(opts.numBeams ? { num_beams: opts.numBeams } : {}), ...(opts.maxLength ? { max_length: opts.maxLength } : {}), ...(opts.prompt !== undefined ? { prompt: opts.prompt } : {}), batch_size: opts.batchSize };
      let failures = 0;
      try {
        for (let i = 0; i < files.length; i += opts.batchSize) {
          const batch = files.slice(i, i + opts.batchSize);
          // --fail-fast: the batch's first bad image ends the run, before its batch is generated.
          let out: (ImageToTextOutput | ImageToTextFailure)[];
          try {
            out = await captioner(batch, { ...gen, errors: opts.failFast ? 'throw' : 'return' });
          } catch (err) {
            if (err instanceof TorchCaptionError) err.message = withoutIndex(err.message);
            throw err;
          }
          bar?.increment(batch.length);
          out.forEach((o, j) => {
            const file = batch[j]!;
            if ('error' in o) {
              process.stderr.write(`torch-caption: skipped ${file}: ${reasonFor(file, withoutIndex(errorMessage(o.error)))}\n`);
              failures++;
            } else if (opts.json) {
              printJson({ image: file, caption: o.generated_text });
            } else {
              process.stdout.write(`${file}\t${o.generated_text}\n`);
            }
          });
        }
      } finally {
        bar?.stop();
      }
      if (failures > 0) process.exitCode = EXIT_FAILED;
    });
}
