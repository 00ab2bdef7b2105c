/**
 * `torch-caption demo [--json] [--steps N] [--output DIR]`
 *
 * Trains a small ViT + GPT-2 captioner from scratch on the built-in synthetic shapes set (CPU, no downloads,
 * no files needed), evaluates it on held-out images, prints BLEU-4 / CIDEr and a few captions next to their
 * references, and saves the model (with tokenizer and image processor) for `torch-caption caption`.
 */
import type { Command } from 'commander';
import { relative } from 'node:path';
import { runDemo } from '../train/demo.js';
import { parsePositiveInt, printJson } from './common.js';

interface DemoCliOptions {
  json?: boolean;
  steps?: number;
  output: string;
}

function shellPath(p: string): string {
  const rel = relative(process.cwd(), p);
  const s = rel && !rel.startsWith('..') ? (rel.startsWith('.') ? rel : `./${rel}`) : p;
  return /^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train a small captioner from scratch on synthetic shapes (CPU, a few minutes, no downloads) and caption held-out images')
    .option('--steps <n>', 'optimizer steps (default 700)', (v) => parsePositiveInt(v, '--steps'))
    .option('--output <dir>', 'where the trained model, logs and report go', './torch-caption-demo')
    .option('--json', 'progress on stderr; the last stdout line is one JSON object with the metrics')
    .action(async (opts: DemoCliOptions) => {
      const out = opts.json ? (l: string) => void process.stderr.write(l + '\n') : (l: string) => void process.stdout.write(l + '\n');
      const r = await runDemo({ steps: opts.steps, output: opts.output });
      const m = r.metrics;
      const dir = shellPath(r.output_dir);
      out('');
      out(`Held-out synthetic images: BLEU-4 ${m.eval_Bleu_4?.toFixed(3)}, CIDEr ${m.eval_CIDEr?.toFixed(3)}, ROUGE-L ${m.eval_ROUGE_L?.toFixed(3)}, eval loss ${m.eval_loss?.toFixed(3)}`);
      out(`Training: ${m.train_runtime?.toFixed(1)} s, ${m.train_samples_per_second?.toFixed(1)} samples/s; total ${r.total_seconds.toFixed(1)} s`);
      out('');
      for (const s of r.samples) {
        out(`  ${shellPath(s.image)}`);
        out(`    generated: ${s.prediction}`);
        out(`    reference: ${s.references[0] ?? ''}`);
      }
      out('');
      out(`Saved the model, tokenizer and image processor to ${dir} (training report: ${dir}/report.html)`);
      out(`Caption with: npx torch-caption caption --model ${dir} ${r.samples[0] ? shellPath(r.samples[0].image) : 'image.png'}`);
      if (opts.json) {
        printJson({
          eval_Bleu_1: m.eval_Bleu_1, eval_Bleu_2: m.eval_Bleu_2, eval_Bleu_3: m.eval_Bleu_3, eval_Bleu_4: m.eval_Bleu_4,
          eval_ROUGE_L: m.eval_ROUGE_L, eval_CIDEr: m.eval_CIDEr, eval_loss: m.eval_loss,
          eval_runtime: m.eval_runtime, eval_samples_per_second: m.eval_samples_per_second,
          train_runtime: m.train_runtime, train_samples_per_second: m.train_samples_per_second, train_steps_per_second: m.train_steps_per_second,
          train_loss: m.train_loss, global_step: r.global_step, total_seconds: r.total_seconds, output_dir: r.output_dir,
          samples: r.samples.map((s) => ({ image: s.image, generated: s.prediction, references: s.references })),
        });
      }
    });
}
