/**
 * `torch-caption train --config train.json [--json]`
 *
 * train.json:
 *   {
 *     "model": {"pretrained": "dir"} | {"encoder": "vit-dir", "decoder": "gpt2-dir"} | {"config": {...} | "tiny"},
 *     "tokenizer": "dir",                 (optional: default the model/decoder folder; a word-level one for "config")
 *     "image_processor": "dir" | {...},   (optional: default the model/encoder folder)
 *     "dataset": {"type": "coco", "annotations": "...", "images": "..."},   (or "train_dataset")
 *     "eval_dataset": {...},              (optional; or "eval_split": 0.05 to hold out part of "dataset")
 *     "args": {"output_dir": "out", "num_train_epochs": 3, ...}   (Hugging Face TrainingArguments names)
 *   }
 * Relative paths resolve against the config file's folder. The trained model is saved to output_dir.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Dataset } from '../data/index.js';
import type { DataItem } from '../data/types.js';
import { resolveResumePath } from '../train/checkpoint.js';
import { datasetFromSpec, modelFromSpec } from '../train/specs.js';
import { Trainer } from '../train/trainer.js';
import { nearestName, resolveTrainingArguments, type TrainingArgumentsInput } from '../train/training-args.js';
import { parsePositiveInt, printJson, UsageError } from './common.js';

const CONFIG_KEYS = ['model', 'tokenizer', 'image_processor', 'dataset', 'train_dataset', 'eval_dataset', 'eval_split', 'args'];

interface TrainCliOptions {
  config: string;
  json?: boolean;
  outputDir?: string;
  resume?: string | boolean;
  maxSteps?: number;
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read the training config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`Cannot parse the training config ${path}: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`The training config ${path} must hold a JSON object`);
  const cfg = json as Record<string, unknown>;
  for (const k of Object.keys(cfg)) {
    if (!CONFIG_KEYS.includes(k)) {
      const near = nearestName(k, CONFIG_KEYS);
      throw new UsageError(`Unknown key '${k}' in ${path}${near ? `; did you mean '${near}'?` : ''} (keys: ${CONFIG_KEYS.join(', ')})`);
    }
  }
  return cfg;
}

async function* captionsOf(ds: Dataset<DataItem>, limit: number): AsyncGenerator<string> {
  let n = 0;
  for await (const item of ds.items()) {
    for (const c of item.captions ?? []) if (typeof c === 'string') yield c;
    if (++n >= limit) return;
  }
}

export async function runTrain(opts: TrainCliOptions): Promise<Record<string, unknown>> {
  const configPath = resolve(opts.config);
  const cfg = await readConfig(configPath);
  const base = dirname(configPath);
  const dataSpec = cfg.train_dataset ?? cfg.dataset;
  if (dataSpec === undefined) throw new UsageError(`${configPath} has no "dataset" (or "train_dataset")`);
  if (cfg.model === undefined) throw new UsageError(`${configPath} has no "model"`);
  let train = datasetFromSpec(dataSpec, base, cfg.train_dataset !== undefined ? 'train_dataset' : 'dataset');
  let evalDs = cfg.eval_dataset !== undefined ? datasetFromSpec(cfg.eval_dataset, base, 'eval_dataset') : undefined;
  if (cfg.eval_split !== undefined) {
    if (evalDs) throw new UsageError('Give either eval_dataset or eval_split, not both');
    const f = cfg.eval_split;
    if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new UsageError(`Expected a fraction in (0, 1) for eval_split but received ${JSON.stringify(f)}`);
    const split = train.split({ test_size: f, seed: 0 });
    train = split.train;
    evalDs = split.test;
  }
  const rawArgs = cfg.args ?? {};
  if (typeof rawArgs !== 'object' || rawArgs === null || Array.isArray(rawArgs)) throw new UsageError('"args" must be an object of training arguments');
  const args = { ...(rawArgs as Record<string, unknown>) } as unknown as TrainingArgumentsInput;
  if (opts.outputDir) args.output_dir = opts.outputDir;
  if (opts.maxSteps) args.max_steps = opts.maxSteps;
  if (opts.resume !== undefined) args.resume_from_checkpoint = opts.resume === true ? true : resolve(String(opts.resume));
  if (typeof args.output_dir !== 'string' || !args.output_dir) throw new UsageError('Set args.output_dir in the config (or pass --output-dir)');
  if (!isAbsolute(args.output_dir)) args.output_dir = resolve(base, args.output_dir);
  if (typeof args.logging_dir === 'string' && !isAbsolute(args.logging_dir)) args.logging_dir = resolve(base, args.logging_dir);
  if (typeof args.resume_from_checkpoint === 'string' && !isAbsolute(args.resume_from_checkpoint)) args.resume_from_checkpoint = resolve(base, args.resume_from_checkpoint);

  resolveTrainingArguments(args); // fail on bad arguments before loading anything

  // A resumed run takes the tokenizer and image processor saved in its checkpoint (a rebuilt word-level
  // vocabulary could differ if the data changed).
  const resumePath = await resolveResumePath(args.resume_from_checkpoint, args.output_dir);
  const loaded = await modelFromSpec(cfg.model, {
    base,
    tokenizer: cfg.tokenizer ?? resumePath ?? undefined,
    image_processor: cfg.image_processor ?? resumePath ?? undefined,
    captions: () => captionsOf(train, 50_000),
  });
  for (const n of loaded.notes) process.stderr.write(`torch-caption train: ${n}\n`);
  const trainer = new Trainer({
    model: loaded.model, tokenizer: loaded.tokenizer, image_processor: loaded.image_processor, train_dataset: train, eval_dataset: evalDs, args,
  });
  const out = await trainer.fit();
  const result: Record<string, unknown> = { ...out.metrics, global_step: out.global_step, interrupted: out.interrupted, output_dir: trainer.args.output_dir };
  if (!out.interrupted) {
    let evalMetrics: Record<string, number> = {};
    if (evalDs && trainer.args.eval_strategy !== 'no') {
      const last = [...trainer.state.log_history].reverse().find((e) => typeof e.eval_loss === 'number');
      if (last && last.step === trainer.state.global_step) evalMetrics = Object.fromEntries(Object.entries(last).filter(([k]) => k.startsWith('eval_')));
      else evalMetrics = await trainer.evaluate();
    }
    Object.assign(result, evalMetrics);
    await trainer.saveModel(trainer.args.output_dir);
  } else {
    result.checkpoint = out.checkpoint;
  }
  return result;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('fine-tune or train a captioner with the Trainer (Hugging Face TrainingArguments names in the config)')
    .requiredOption('--config <file>', 'training config JSON: {model, dataset, eval_dataset?, args}')
    .option('--output-dir <dir>', 'override args.output_dir')
    .option('--resume [checkpoint]', 'resume from the latest checkpoint in output_dir, or from the given checkpoint folder')
    .option('--max-steps <n>', 'override args.max_steps', (v) => parsePositiveInt(v, '--max-steps'))
    .option('--json', 'print the final metrics as one JSON object (last stdout line); progress goes to stderr')
    .action(async (opts: TrainCliOptions) => {
      const result = await runTrain(opts);
      if (opts.json) {
        printJson(result);
        return;
      }
      const lines = Object.entries(result).filter(([, v]) => typeof v === 'number').map(([k, v]) => `  ${k}: ${Number.isInteger(v) ? v : (v as number).toFixed(4)}`);
      process.stdout.write(`${result.interrupted ? 'Training interrupted; resume with --resume' : 'Training finished'}: ${String(result.output_dir)}\n${lines.join('\n')}\n`);
      if (!result.interrupted) process.stdout.write(`Caption with: npx torch-caption caption --model ${String(result.output_dir)} image.jpg\n`);
    });
}
