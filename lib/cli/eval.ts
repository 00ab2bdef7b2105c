/**
 * `torch-caption eval --model DIR --data SPEC [--num-beams N] [--max-length N] [--batch-size N] [--output results.json] [--json]`
 *
 * Captions every image of the dataset, scores the captions against all references with the COCO metrics
 * (BLEU-1..4, ROUGE-L, CIDEr; METEOR when METEOR_JAR is set), prints them, and writes the captions as a COCO
 * results file ([{image_id, caption}]) with --output. SPEC: inline JSON ({"type": "coco", ...}), a .json spec
 * file, a .jsonl/.csv/.parquet manifest, an image folder with .txt captions, or 'synthetic'.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { datasetFromSpec, modelFromSpec, parseDataArgument } from '../train/specs.js';
import { Trainer } from '../train/trainer.js';
import { parsePositiveInt, printJson } from './common.js';

interface EvalCliOptions {
  model: string;
  data: string;
  numBeams?: number;
  maxLength?: number;
  batchSize: number;
  output?: string;
  json?: boolean;
}

export async function runEval(opts: EvalCliOptions): Promise<{ metrics: Record<string, number>; results: { image_id: string | number; caption: string }[] }> {
  const { spec, base } = parseDataArgument(opts.data);
  const dataset = datasetFromSpec(spec, base, '--data');
  const { model, tokenizer, image_processor } = await modelFromSpec({ pretrained: opts.model }, {});
  const trainer = new Trainer({
    model, tokenizer, image_processor, handleSignals: false,
    log: (line) => void process.stderr.write(line + '\n'),
    args: {
      output_dir: resolve(opts.model),
      per_device_eval_batch_size: opts.batchSize,
      ...(opts.numBeams ? { generation_num_beams: opts.numBeams } : {}),
      ...(opts.maxLength ? { generation_max_length: opts.maxLength } : {}),
      predict_with_generate: true,
      disable_tqdm: true,
    },
  });
  const out = await trainer.predict(dataset, { metric_key_prefix: 'eval' });
  const results = out.ids.map((id, i) => ({ image_id: /^\d+$/.test(id) && Number.isSafeInteger(Number(id)) ? Number(id) : id, caption: out.predictions[i]! }));
  if (opts.output) await writeFile(resolve(opts.output), JSON.stringify(results) + '\n');
  return { metrics: { ...out.metrics, num_images: out.ids.length }, results };
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('caption a dataset with a model and score it with the COCO metrics (BLEU, ROUGE-L, CIDEr)')
    .requiredOption('--model <dir>', 'model folder (config.json, model.safetensors, tokenizer, preprocessor_config.json)')
    .requiredOption('--data <spec>', "dataset: JSON spec, .json spec file, .jsonl/.csv/.parquet manifest, image folder, or 'synthetic'")
    .option('--num-beams <n>', 'beam width (default: the model generation config)', (v) => parsePositiveInt(v, '--num-beams'))
    .option('--max-length <n>', 'maximum caption length in tokens, start token included', (v) => parsePositiveInt(v, '--max-length'))
    .option('--batch-size <n>', 'images per batch', (v) => parsePositiveInt(v, '--batch-size'), 16)
    .option('--output <file>', 'write the captions as a COCO results JSON file')
    .option('--json', 'print the metrics as one JSON object (last stdout line)')
    .action(async (opts: EvalCliOptions) => {
      const { metrics } = await runEval(opts);
      if (opts.json) {
        printJson({ ...metrics, ...(opts.output ? { results_file: resolve(opts.output) } : {}) });
        return;
      }
      const keys = Object.keys(metrics).filter((k) => /^eval_(Bleu_\d|METEOR|ROUGE_L|CIDEr|loss)$/.test(k));
      process.stdout.write(`${metrics.num_images} images\n${keys.map((k) => `  ${k.slice(5).padEnd(8)} ${metrics[k]!.toFixed(4)}`).join('\n')}\n`);
      if (opts.output) process.stdout.write(`captions written to ${resolve(opts.output)}\n`);
    });
}
