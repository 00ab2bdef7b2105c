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
 *
 * `--nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P]` launches N workers that run
 * this same command without those flags, with torchrun's environment (lib/train/launcher.ts).
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Dataset } from '../data/index.js';
import type { DataItem } from '../data/types.js';
import { resolveResumePath } from '../train/checkpoint.js';
import { distributedEnv, isDistributedLaunch } from '../train/distributed.js';
import { launch } from '../train/launcher.js';
import { datasetFromSpec, modelFromSpec } from '../train/specs.js';
import { Trainer } from '../train/trainer.js';
import { nearestName, resolveTrainingArguments, type TrainingArgumentsInput } from '../train/training-args.js';
import { parseNonNegativeInt, parsePort, parsePositiveInt, printJson, UsageError } from './common.js';

const CONFIG_KEYS = ['model', 'tokenizer', 'image_processor', 'dataset', 'train_dataset', 'eval_dataset', 'eval_split', 'args'];

interface TrainCliOptions {
  config: string;
  json?: boolean;
  outputDir?: string;
  resume?: string | boolean;
  maxSteps?: number;
}

interface LauncherCliOptions {
  nprocPerNode?: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
}

/** The launcher's own flags (attribute names): they are not passed on to the workers. */
const LAUNCHER_KEYS = new Set(['nprocPerNode', 'nnodes', 'nodeRank', 'masterAddr', 'masterPort']);

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
    // Data-parallel: every rank holds the same weights; rank 0 writes them.
    if (trainer.state.is_world_process_zero) await trainer.saveModel(trainer.args.output_dir);
  } else {
    result.checkpoint = out.checkpoint;
  }
  return result;
}

/** Checks the launcher flags together (each one is checked alone as it is parsed). */
function checkLauncherFlags(opts: LauncherCliOptions): void {
  if (opts.nprocPerNode === undefined) {
    const stray = (['nnodes', 'nodeRank', 'masterAddr', 'masterPort'] as const).find((k) => opts[k] !== undefined);
    if (stray) throw new UsageError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --nproc-per-node`);
    return;
  }
  const nnodes = opts.nnodes ?? 1;
  if ((opts.nodeRank ?? 0) >= nnodes) throw new UsageError(`Expected --node-rank below --nnodes (${nnodes}) but received ${opts.nodeRank}`);
  if (opts.masterAddr !== undefined && !opts.masterAddr.trim()) throw new UsageError('Expected a host name or address for --master-addr but received ""');
  if (nnodes > 1 && opts.masterAddr === undefined) throw new UsageError('--nnodes > 1 needs --master-addr: the address of node 0, the same on every node');
  // A worker that launches again would multiply the processes (and its RANK would be wrong for them).
  const worker = isDistributedLaunch() ? distributedEnv() : null;
  if (worker) throw new UsageError(`This process is already rank ${worker.rank} of ${worker.world_size} (RANK and WORLD_SIZE are set, e.g. by torchrun): drop --nproc-per-node, or unset RANK and WORLD_SIZE`);
}

/** The command line of one worker: this command with every flag given on the command line except the launcher's. */
function workerArgv(command: Command): string[] {
  const argv = [command.name()];
  for (const o of command.options) {
    const key = o.attributeName();
    if (LAUNCHER_KEYS.has(key) || command.getOptionValueSource(key) !== 'cli' || !o.long) continue;
    const v: unknown = command.getOptionValue(key);
    // --name=value: a value that starts with '-' cannot be taken for a flag.
    if (v === true) argv.push(o.long);
    else if (v !== false && v !== undefined) argv.push(`${o.long}=${String(v)}`);
  }
  return argv;
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
    .option('--nproc-per-node <n>', 'data-parallel: launch N worker processes on this node (one per GPU), as torchrun', (v) => parsePositiveInt(v, '--nproc-per-node'))
    .option('--nnodes <n>', 'with --nproc-per-node: nodes in the job (default 1)', (v) => parsePositiveInt(v, '--nnodes'))
    .option('--node-rank <r>', 'with --nproc-per-node: this node\'s index, 0 to nnodes-1 (default 0)', (v) => parseNonNegativeInt(v, '--node-rank'))
    .option('--master-addr <addr>', 'with --nproc-per-node: address of node 0 (default 127.0.0.1)')
    .option('--master-port <port>', 'with --nproc-per-node: free TCP port on node 0 (default 29500)', (v) => parsePort(v, '--master-port'))
    .action(async (opts: TrainCliOptions & LauncherCliOptions, command: Command) => {
      checkLauncherFlags(opts);
      if (opts.nprocPerNode !== undefined) {
        process.exitCode = await launch({
          nprocPerNode: opts.nprocPerNode, nnodes: opts.nnodes, nodeRank: opts.nodeRank, masterAddr: opts.masterAddr, masterPort: opts.masterPort,
          argv: workerArgv(command),
        });
        return;
      }
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
