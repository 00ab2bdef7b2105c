/**
 * The out-of-the-box demo: train a small ViT + GPT-2 captioner from scratch on the synthetic shapes set, on
 * CPU, with no downloads and no files from anywhere; evaluate on held-out synthetic images; save the model
 * (weights, config, word-level tokenizer, image processor) so that `torch-caption caption` can use it.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { datasets } from '../data/index.js';
import type { DataItem } from '../data/types.js';
import { composeConfig } from '../models/config.js';
import { VisionEncoderDecoder } from '../models/vision-encoder-decoder.js';
import { ImageProcessor } from '../processing/image-processor.js';
import { WordLevelTokenizer } from './demo-tokenizer.js';
import { RawImageSupport } from './raw-images.js';
import type { TrainerCallback } from './callbacks.js';
import { LearningRateSchedule } from './schedules.js';
import { Trainer } from './trainer.js';

export interface DemoOptions {
  /** Optimizer steps (exactly; without it the demo plans up to DEMO_DEFAULTS.steps within timeBudget). */
  steps?: number;
  /**
   * Seconds of training to plan for when `steps` is not given: after the first steps the demo measures its speed
   * and shortens the cosine schedule if the default number of steps would not fit (a busy machine).
   */
  timeBudget?: number;
  /** Where the model, logs and report go. Default ./torch-caption-demo. */
  output?: string;
  /** Progress and log lines (default: stderr). */
  log?: (line: string) => void;
  seed?: number;
  imageSize?: number;
  patchSize?: number;
  hidden?: number;
  encoderLayers?: number;
  decoderLayers?: number;
  heads?: number;
  batchSize?: number;
  learningRate?: number;
  warmupSteps?: number;
  trainSize?: number;
  evalSize?: number;
  maxShapes?: 1 | 2 | 3;
}

export interface DemoSample {
  id: string;
  prediction: string;
  references: string[];
  /** A PNG of the image written into the output folder (caption it with the CLI). */
  image: string;
}

export interface DemoResult {
  output_dir: string;
  /** eval_* and train_* metrics (HF names). */
  metrics: Record<string, number>;
  samples: DemoSample[];
  /** Optimizer steps taken. */
  global_step: number;
  /** Seconds from start to saved model. */
  total_seconds: number;
}

export const DEMO_DEFAULTS = {
  steps: 2000,
  timeBudget: 200,
  seed: 0,
  imageSize: 48,
  patchSize: 6,
  hidden: 64,
  encoderLayers: 2,
  decoderLayers: 2,
  heads: 4,
  batchSize: 32,
  learningRate: 2e-3,
  warmupSteps: 50,
  trainSize: 100000,
  evalSize: 200,
  maxShapes: 3 as 1 | 2 | 3,
};

/** Train, evaluate and save the demo captioner. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const t0 = Date.now();
  const o = { ...DEMO_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DEMO_DEFAULTS & DemoOptions;
  const log = options.log ?? ((l: string) => void process.stderr.write(l + '\n'));
  const output = resolve(o.output ?? 'torch-caption-demo');

  // Data: training and held-out images come from different seeds (different scenes).
  const trainSet = datasets.synthetic({ size: o.trainSize, seed: 1000 + o.seed, imageSize: o.imageSize, maxShapes: o.maxShapes });
  const evalSet = datasets.synthetic({ size: o.evalSize, seed: 9000 + o.seed, imageSize: o.imageSize, maxShapes: o.maxShapes });
  // Train on the canonical caption of each image; score against all of its references.
  const train = trainSet.map((item): DataItem => ({ id: item.id, image: item.image, captions: [item.captions[0]!] }));

  // Word-level vocabulary of the caption grammar (captions only: nothing is rendered for this).
  const texts: string[] = [];
  for (let i = 0; i < Math.min(o.trainSize, 5000); i++) texts.push(...trainSet.item(i).captions);
  const tokenizer = WordLevelTokenizer.build(texts);
  const eos = tokenizer.eos_token_id;

  const processor = ImageProcessor.fromConfig({
    size: { height: o.imageSize, width: o.imageSize }, resample: 2, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
  });
  const config = composeConfig(
    {
      model_type: 'vit', image_size: o.imageSize, patch_size: o.patchSize, hidden_size: o.hidden, num_hidden_layers: o.encoderLayers,
      num_attention_heads: o.heads, intermediate_size: o.hidden * 4, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
    },
    {
      model_type: 'gpt2', vocab_size: tokenizer.vocab_size, n_positions: 64, n_embd: o.hidden, n_layer: o.decoderLayers, n_head: o.heads,
      resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0, bos_token_id: eos, eos_token_id: eos, pad_token_id: eos,
    },
  );
  const model = await VisionEncoderDecoder.fromConfig(config, { seed: o.seed });
  model.generationConfig = { ...model.generationConfig, max_length: 32, num_beams: 1 };
  log(`torch-caption demo: training a ${model.numParameters().toLocaleString('en-US')}-parameter ViT + GPT-2 captioner from scratch on synthetic shapes (${o.imageSize}x${o.imageSize} images, vocabulary of ${tokenizer.vocab_size} words), CPU, no downloads`);

  const warmup = Math.min(o.warmupSteps, Math.floor(o.steps / 4));
  const callbacks = options.steps === undefined ? [timeBudgetCallback(o.timeBudget, o.learningRate, warmup, log, () => trainer)] : [];
  const trainer: Trainer = new Trainer({
    model,
    callbacks,
    tokenizer,
    image_processor: new RawImageSupport(processor),
    train_dataset: train,
    eval_dataset: evalSet,
    log: options.log,
    args: {
      output_dir: output,
      max_steps: o.steps,
      per_device_train_batch_size: o.batchSize,
      per_device_eval_batch_size: 50,
      learning_rate: o.learningRate,
      warmup_steps: warmup,
      lr_scheduler_type: 'cosine',
      weight_decay: 0.01,
      max_grad_norm: 1.0,
      logging_steps: Math.max(1, Math.floor(o.steps / 10)),
      save_strategy: 'no',
      eval_strategy: 'no',
      predict_with_generate: true,
      generation_max_length: 32,
      generation_num_beams: 1,
      seed: o.seed,
      max_target_length: 32,
      report_to: 'none',
    },
  });
  const trained = await trainer.fit();
  const evalMetrics = await trainer.evaluate();
  await trainer.saveModel(output);
  await trainer.writeReport(join(output, 'report.html'), { samples: 12 });

  // A few held-out images as PNGs, to try the caption command on.
  const preds = trainer.lastPredictions!;
  const samples: DemoSample[] = [];
  await mkdir(join(output, 'samples'), { recursive: true });
  for (let i = 0; i < Math.min(4, preds.ids.length); i++) {
    const item = evalSet.item(Number(preds.ids[i]!.split('-').pop()));
    const file = join(output, 'samples', `${item.id}.png`);
    await sharp(Buffer.from(item.image.data), { raw: { width: item.image.width, height: item.image.height, channels: 3 } }).png().toFile(file);
    samples.push({ id: preds.ids[i]!, prediction: preds.predictions[i]!, references: preds.references[i]!, image: file });
  }
  const metrics: Record<string, number> = { ...evalMetrics, ...trained.metrics };
  return { output_dir: output, metrics, samples, global_step: trained.global_step, total_seconds: (Date.now() - t0) / 1000 };
}

/**
 * Fit the run into a time budget: at a few early steps, project the end time from the measured speed and,
 * when the planned steps would not fit, shorten the plan (state.max_steps and the cosine schedule). Early on the
 * cosine is flat, so the learning rate barely moves when the plan changes.
 */
function timeBudgetCallback(budgetSeconds: number, lr: number, warmup: number, log: (l: string) => void, trainer: () => Trainer): TrainerCallback {
  const checks = new Set([20, 60, 150, 300]);
  const firstMeasured = 5; // the first steps pay for allocations and warm-up
  let start = 0;
  let t0 = 0;
  return {
    on_train_begin: () => {
      start = Date.now();
    },
    on_step_end: (_args, state) => {
      if (state.global_step === firstMeasured) t0 = Date.now();
      if (!checks.has(state.global_step) || t0 === 0) return;
      const perStep = (Date.now() - t0) / 1000 / (state.global_step - firstMeasured);
      const affordable = firstMeasured + Math.floor((budgetSeconds - (t0 - start) / 1000) / perStep);
      if (affordable >= state.max_steps) return;
      const planned = Math.max(state.global_step + 1, affordable);
      state.max_steps = planned;
      trainer().lr_scheduler = new LearningRateSchedule('cosine', lr, { num_warmup_steps: Math.min(warmup, planned), num_training_steps: planned });
      log(`demo: ${(1 / perStep).toFixed(1)} steps/s on this machine; training for ${planned} steps to stay within ${budgetSeconds} s`);
    },
  };
}
