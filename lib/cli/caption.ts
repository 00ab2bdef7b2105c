/** `torch-caption caption --model DIR [--num-beams N] [--max-length N] [--json] IMAGE...` */
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { pipeline } from '../pipeline.js';
import { parsePositiveInt, printJson, UsageError } from './common.js';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp', '.avif']);

/** Expand folders and simple globs (`*`, `?` in the last path part) into image files. */
export async function expandImages(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    if (/[*?]/.test(a)) {
      const slash = a.lastIndexOf('/');
      const dir = slash >= 0 ? a.slice(0, slash) || '/' : '.';
      const re = new RegExp('^' + a.slice(slash + 1).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
      for (const f of (await readdir(dir)).sort()) if (re.test(f)) out.push(join(dir, f));
      continue;
    }
    const s = await stat(a).catch(() => null);
    if (!s) throw new UsageError(`No such image or folder: ${a}`);
    if (s.isDirectory()) {
      for (const f of (await readdir(a)).sort()) if (IMAGE_EXT.has(extname(f).toLowerCase())) out.push(join(a, f));
    } else {
      out.push(a);
    }
  }
  return out;
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
    .argument('<images...>', 'image files, folders or globs')
    .action(async (images: string[], opts: { model: string; numBeams?: number; maxLength?: number; batchSize: number; device: string; json?: boolean }) => {
      const files = await expandImages(images);
      if (files.length === 0) throw new UsageError('No images found');
      const captioner = await pipeline('image-to-text', opts.model, { device: opts.device as 'cpu' });
      const bar = process.stderr.isTTY && files.length > 8 ? new SingleBar({ format: 'captioning {bar} {value}/{total} images | ETA {eta}s', stream: process.stderr }) : null;
      bar?.start(files.length, 0);
      for (let i = 0; i < files.length; i += opts.batchSize) {
        const batch = files.slice(i, i + opts.batchSize);
        const gen = { ...(opts.numBeams ? { num_beams: opts.numBeams } : {}), ...(opts.maxLength ? { max_length: opts.maxLength } : {}) };
        const out = await captioner(batch, { ...gen, batch_size: opts.batchSize });
        bar?.increment(batch.length);
        batch.forEach((file, j) => {
          const caption = out[j]!.generated_text;
          if (opts.json) printJson({ image: file, caption });
          else process.stdout.write(`${file}\t${caption}\n`);
        });
      }
      bar?.stop();
    });
}
