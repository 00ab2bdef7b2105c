/**
 * Trainer: the Hugging Face Trainer / Seq2SeqTrainer loop for the captioners (VisionEncoderDecoder, GIT, BLIP).
 *
 * - One native call per optimizer step: model.trainStep gets every micro-batch of the gradient
 *   accumulation at once (forward + backward per micro-batch, clipping, AdamW, zeroing). The next group of
 *   batches is pulled from the loader while that step runs.
 * - Evaluation: eval_loss from teacher-forced forward passes and, with predict_with_generate, generated captions
 *   scored with the COCO metrics against all references of each image (eval_Bleu_4, eval_CIDEr, ...).
 * - Checkpoints: output_dir/checkpoint-<step>/ in the HF layout plus optimizer, scheduler, RNG and data-loader
 *   state, written atomically; resume continues from the saved data position without replaying batches.
 * - SIGINT/SIGTERM during fit(): the current step finishes, a checkpoint is saved and fit() resolves.
 * - A non-finite loss stops training with NonFiniteLossError naming the step and the last good checkpoint.
 * - Mixed precision: bf16 autocasts the forward pass to bfloat16 (CPU and CUDA); fp16 autocasts to float16 on
 *   CUDA with dynamic loss scaling (GradScaler): a step whose gradients overflow is skipped, and so is its
 *   scheduler step, as the HF Trainer does through accelerate.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, NonFiniteLossError, TorchCaptionError, describe } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import type { Batch, BatchesOptions, DataLoader, LoaderState } from '../data/loader.js';
import type { DataItem } from '../data/types.js';
import { scoreCaptions } from '../metrics/score.js';
import { checkAutocast, type CaptioningModel, type Device, type SpecialTokenIds } from '../models/captioning-model.js';
import type { GenerateOptions } from '../models/generation.js';
import { AdamW, HF_NO_DECAY } from '../optim/adamw.js';
import { GradScaler, type GradScalerOptions, type GradScalerState } from '../optim/grad-scaler.js';
import {
  CallbackHandler, DefaultFlowCallback, metricKey, setStateIntervals, TrainerControl, TrainerState,
  type CallbackEvent, type CallbackExtras, type LogEntry, type TrainerCallback,
} from './callbacks.js';
import {
  checkpointStep, listCheckpoints, loadOptimizerState, LOADER_STATE_NAME, readJsonFile, removeStaleTemporaries, resolveResumePath,
  RNG_STATE_NAME, rotateCheckpoints, saveOptimizerState, SCALER_NAME, SCHEDULER_NAME, TRAINER_STATE_NAME, TRAINING_ARGS_NAME, writeFolderAtomic, writeJson,
} from './checkpoint.js';
import { gatherPredictions, joinGroup, rescaleLoaderState, shardForRank, type RankPredictions } from './data-parallel.js';
import { distributed, type ProcessGroup } from './distributed.js';
import { EncoderCache, pixelHashes } from './encoder-cache.js';
import { JsonlLogger, ProgressReporter, formatDuration } from './logging.js';
import { imageDataUri, writeReport, type ReportSample } from './report.js';
import { LearningRateSchedule, warmupSteps } from './schedules.js';
import { TensorBoardWriter, tensorboardTag } from './tensorboard.js';
import { resolveTrainingArguments, type TrainingArguments, type TrainingArgumentsInput } from './training-args.js';
import { tokenizerIdCount, type CaptionImageProcessor, type CaptionTokenizer } from '../types.js';
import { Tensor } from '../tensor.js';

/** What compute_metrics receives (HF's EvalPrediction, with decoded captions since labels are text here). */
export interface EvalPrediction {
  /** Generated captions (decoded, special tokens skipped). */
  predictions: string[];
  /** All reference captions per image. */
  references: string[][];
  /** Item ids, aligned with predictions. */
  ids: string[];
  /** Generated token ids (start token first). */
  sequences: number[][];
}

export type ComputeMetrics = (p: EvalPrediction) => Record<string, number> | Promise<Record<string, number>>;

/**
 * One example as a data_collator receives it (HF: one row of the processed dataset): the processed image and the
 * caption's label ids. The data loader has decoded and resized the image and tokenized the caption already.
 */
export interface CaptionFeature {
  /** float32 [3, H, W]: the image processor's output for this example. */
  pixel_values: Tensor<'float32'>;
  /** The caption's label ids, end token included, unpadded (what buildLabels makes of `text`). */
  labels: number[];
  /** The item id. */
  id: string;
  /** The caption the labels were built from. */
  text: string;
  /** All reference captions of the item. */
  captions: string[];
}

/** A collated batch: what the model's forward/trainStep take. */
export interface CollatedBatch {
  /** float32 [B, 3, H, W]. */
  pixel_values: Tensor<'float32'>;
  /** int64 [B, T]; -100 marks positions the loss ignores. */
  labels: Tensor<'int64'>;
}

/**
 * HF's data_collator: features of a batch in, `{ pixel_values, labels }` out (HF's `collate_fn(batch)` returning
 * `{"pixel_values": torch.stack(...), "labels": ...}`). It must keep the rows and their order: row i of the
 * result is feature i (the Trainer pairs rows with their ids and references for evaluation).
 */
export type DataCollator = (features: CaptionFeature[]) => CollatedBatch | Promise<CollatedBatch>;

/**
 * HF's default_data_collator for this Trainer: stacks pixel_values and pads labels to the longest row with -100
 * (DataCollatorForSeq2Seq's label_pad_token_id). With `max_length`, every row is padded to it instead.
 */
export function default_data_collator(features: CaptionFeature[], opts: { max_length?: number } = {}): CollatedBatch {
  if (!Array.isArray(features) || features.length === 0) throw new InvalidArgumentError(`Expected a non-empty array of features for default_data_collator but received ${describe(features)}`);
  const longest = features.reduce((m, f) => Math.max(m, f.labels.length), 0);
  const width = opts.max_length !== undefined ? Math.max(opts.max_length, longest) : longest;
  const labels = new BigInt64Array(features.length * width).fill(-100n);
  const shape = features[0]!.pixel_values.shape;
  const per = features[0]!.pixel_values.size;
  const pix = new Float32Array(per * features.length);
  features.forEach((f, i) => {
    if (f.pixel_values.shape.join() !== shape.join()) {
      throw new InvalidArgumentError(`Expected pixel_values of shape [${shape.join(', ')}] for feature ${i} but received [${f.pixel_values.shape.join(', ')}]`);
    }
    pix.set(f.pixel_values.data, i * per);
    f.labels.forEach((id, j) => {
      labels[i * width + j] = BigInt(id);
    });
  });
  return {
    pixel_values: Tensor.from(pix, [features.length, ...shape]) as Tensor<'float32'>,
    labels: Tensor.from(labels, [features.length, width]) as Tensor<'int64'>,
  };
}

/**
 * HF's processing_class (the newer name of the Trainer's tokenizer argument): a tokenizer, an image processor, or
 * a processor holding both (`{ tokenizer, image_processor }`, like HF's VisionEncoderDecoder processors).
 */
export type ProcessingClass = CaptionTokenizer | CaptionImageProcessor | { tokenizer?: CaptionTokenizer; image_processor?: CaptionImageProcessor };

export interface TrainerOptions {
  model: CaptioningModel;
  args: TrainingArgumentsInput;
  train_dataset?: Dataset<DataItem>;
  eval_dataset?: Dataset<DataItem>;
  /** Tokenizer for the labels and for decoding generated captions (default: model.tokenizer when attached). */
  tokenizer?: CaptionTokenizer;
  /** Image processor (default: model.imageProcessor when attached). */
  image_processor?: CaptionImageProcessor;
  /**
   * HF's processing_class: a Tokenizer, an ImageProcessor, or `{ tokenizer, image_processor }`; fills tokenizer
   * and/or image_processor. Giving the same one twice (here and as tokenizer/image_processor) fails, as in HF.
   */
  processing_class?: ProcessingClass;
  /**
   * HF's data_collator: turns each batch's features (processed image + caption label ids) into
   * `{ pixel_values, labels }`. Default: the loader's own batching (labels padded to the longest row with -100,
   * or to max_target_length with pad_to_max_length), the same as default_data_collator.
   */
  data_collator?: DataCollator;
  compute_metrics?: ComputeMetrics;
  callbacks?: TrainerCallback[];
  /** JS-only: where progress and log lines go (default: stderr, with a progress bar on a TTY). */
  log?: (line: string) => void;
  /** JS-only: stop gracefully on SIGINT/SIGTERM during fit() (default true). */
  handleSignals?: boolean;
  /**
   * JS-only: dynamic loss scaling (torch.amp.GradScaler semantics). fp16 = true makes one with torch's
   * defaults; pass a GradScaler or its options to change them. Without fp16 it scales float32 losses.
   */
  grad_scaler?: GradScaler | GradScalerOptions;
}

export interface TrainOutput {
  global_step: number;
  /** Mean training loss over the steps of this run. */
  training_loss: number;
  /** train_runtime, train_samples_per_second, train_steps_per_second, train_loss, epoch (HF names). */
  metrics: Record<string, number>;
  /** True when fit() stopped early on a signal or stop(). */
  interrupted: boolean;
  /** The last checkpoint written (null when none). */
  checkpoint: string | null;
}

export interface PredictionOutput {
  predictions: string[];
  references: string[][];
  ids: string[];
  sequences: number[][];
  metrics: Record<string, number>;
}

interface Group {
  batches: Batch[];
  states: LoaderState[];
  done: boolean;
  /** With cache_encoder_outputs: each batch's cached encoder states, trained on instead of its pixels. */
  encoded: Tensor[];
}

const EMPTY_DONE: Group = Object.freeze({ batches: [], states: [], done: true, encoded: [] }) as Group;

/** What fit() decided before the first step; fixed for the run (a callback may still move state.max_steps). */
interface Plan {
  readonly outputDir: string;
  readonly resumePath: string | null;
  /** The saved data position; undefined for a fresh run or a checkpoint without loader_state.json. */
  readonly resumeLoader: LoaderState | undefined;
  readonly loader: DataLoader<DataItem>;
  /** gradient_accumulation_steps: batches per optimizer step. */
  readonly accumulation: number;
  /** Undefined for a dataset of unknown length (then max_steps alone bounds the run). */
  readonly batchesPerEpoch: number | undefined;
  readonly maxSteps: number;
  /** Number.MAX_SAFE_INTEGER when the length is unknown. */
  readonly numEpochs: number;
  readonly warmup: number;
}

/** What this run (not the checkpoint it resumed from) has done: train_loss and the logged loss come from it. */
interface RunCounters {
  /** Loss summed since the last logged step. */
  trLossSum: number;
  lastLoggedStep: number;
  runLossSum: number;
  runSteps: number;
  runSamples: number;
  /** The norm of the last applied step (an overflow-skipped step keeps the previous one). */
  lastGradNorm: number;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** A 32-bit seed per (seed, step) for dropout, so a resumed run draws the same masks as an uninterrupted one. */
function stepSeed(seed: number, step: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

function isModel(m: unknown): m is CaptioningModel {
  return typeof m === 'object' && m !== null && 'config' in m && typeof (m as { generate?: unknown }).generate === 'function' &&
    typeof (m as { trainStep?: unknown }).trainStep === 'function';
}

/**
 * The Hugging Face Trainer (and Seq2SeqTrainer: the same class, exported under both names) for
 * captioners (VisionEncoderDecoder, GitForCausalLM, BlipForConditionalGeneration). See the module comment and docs/training.md.
 */
export class Trainer {
  /** The model being trained (updated in place). */
  readonly model: CaptioningModel;
  /** The resolved training arguments (every field set). */
  readonly args: TrainingArguments;
  /** The training set (fit() needs one). */
  readonly train_dataset: Dataset<DataItem> | undefined;
  /** The evaluation set of evaluate() and eval_strategy. */
  readonly eval_dataset: Dataset<DataItem> | undefined;
  /** Builds the labels and decodes generated captions (from tokenizer, processing_class or model.tokenizer). */
  readonly tokenizer: CaptionTokenizer;
  /** Preprocesses the images (from image_processor, processing_class or model.imageProcessor). */
  readonly image_processor: CaptionImageProcessor;
  /** Extra metrics of generated captions (evaluation generates whenever compute_metrics is given). */
  readonly compute_metrics: ComputeMetrics | undefined;
  /** HF's data_collator, or undefined for the loader's own batching. */
  readonly data_collator: DataCollator | undefined;
  /** The callbacks, DefaultFlowCallback first. */
  readonly callback_handler: CallbackHandler;
  /** HF TrainerState: global_step, epoch, log_history, best checkpoint; replaced when fit() resumes. */
  state = new TrainerState();
  /** HF TrainerControl: the flags the callbacks set. */
  control = new TrainerControl();
  /** AdamW, created by fit(); null before. */
  optimizer: AdamW | null = null;
  /** The learning-rate schedule, created by fit(); null before. */
  lr_scheduler: LearningRateSchedule | null = null;
  /** Loss scaling (fp16, or grad_scaler given); null when off. */
  readonly scaler: GradScaler | null;
  readonly #processingClass: ProcessingClass | undefined;

  #progress: ProgressReporter;
  readonly #handleSignals: boolean;
  readonly #logSink: ((line: string) => void) | undefined;
  #jsonl: JsonlLogger | null = null;
  #tb: TensorBoardWriter | null = null;
  #initEnd: Promise<void> | null = null;
  #nativeSyncNeeded = false;
  #prepared = false;
  #stopRequested: string | null = null;
  #fitting = false;
  #loaderState: LoaderState | null = null;
  #lastCheckpoint: string | null = null;
  #lastSavedStep = -1;
  #lastEval: PredictionOutput | null = null;
  #pendingNotes: string[] = [];
  #inStep = false;
  /** Scheduler steps taken: global_step less the steps skipped for overflowing fp16 gradients. */
  #schedulerSteps = 0;
  /** freeze_encoder: whether this fit froze the tower (and so unfreezes it at the end). */
  #frozeEncoder = false;
  /** cache_encoder_outputs: the cache of this fit, and whether its states were checked against the encoder. */
  #encoderCache: EncoderCache | null = null;
  #cacheChecked = false;
  /** Data-parallel: the process group of this fit (null: one process). */
  #group: ProcessGroup | null = null;
  /** Data-parallel: a stop every rank agreed on in the last step (one rank's Ctrl-C stops all after one step). */
  #agreedStop = false;

  constructor(opts: TrainerOptions) {
    if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError(`Expected an options object for Trainer but received ${describe(opts)}`);
    const known = ['model', 'args', 'train_dataset', 'eval_dataset', 'tokenizer', 'image_processor', 'processing_class', 'data_collator', 'compute_metrics', 'callbacks', 'log', 'handleSignals', 'grad_scaler'];
    for (const key of Object.keys(opts)) {
      if (!known.includes(key)) throw new InvalidArgumentError(`Unknown Trainer option '${key}' (options: ${known.join(', ')})`);
    }
    if (!isModel(opts.model)) throw new InvalidArgumentError(`Expected a captioning model (VisionEncoderDecoder, GitForCausalLM, BlipForConditionalGeneration) for model but received ${describe(opts.model)}`);
    this.model = opts.model;
    this.args = resolveTrainingArguments(opts.args);
    this.train_dataset = opts.train_dataset;
    this.eval_dataset = opts.eval_dataset;
    const pc = splitProcessingClass(opts.processing_class);
    this.#processingClass = opts.processing_class;
    if (opts.tokenizer !== undefined && pc.tokenizer !== undefined && opts.tokenizer !== pc.tokenizer) {
      throw new InvalidArgumentError('Expected one tokenizer for the Trainer but both tokenizer and processing_class give one; pass processing_class only (HF\'s newer name)');
    }
    if (opts.image_processor !== undefined && pc.image_processor !== undefined && opts.image_processor !== pc.image_processor) {
      throw new InvalidArgumentError('Expected one image processor for the Trainer but both image_processor and processing_class give one; pass one of them');
    }
    if (opts.data_collator !== undefined && typeof opts.data_collator !== 'function') {
      throw new InvalidArgumentError(`Expected a function (features) => { pixel_values, labels } for data_collator but received ${describe(opts.data_collator)}`);
    }
    this.data_collator = opts.data_collator;
    const tok = opts.tokenizer ?? pc.tokenizer ?? (this.model.tokenizer as unknown as CaptionTokenizer | undefined);
    if (!tok || typeof tok.encode !== 'function' || typeof tok.decode !== 'function') {
      throw new InvalidArgumentError('Expected a tokenizer (with encode and decode) for the Trainer: pass tokenizer, or attach one to model.tokenizer');
    }
    this.tokenizer = tok;
    const proc = opts.image_processor ?? pc.image_processor ?? (this.model.imageProcessor as unknown as CaptionImageProcessor | undefined);
    if (!proc || typeof proc.preprocess !== 'function') {
      throw new InvalidArgumentError('Expected an image_processor (with preprocess) for the Trainer: pass image_processor, or attach one to model.imageProcessor');
    }
    this.image_processor = proc;
    if (opts.compute_metrics !== undefined && typeof opts.compute_metrics !== 'function') {
      throw new InvalidArgumentError(`Expected a function for compute_metrics but received ${describe(opts.compute_metrics)}`);
    }
    this.compute_metrics = opts.compute_metrics;
    this.#logSink = opts.log;
    this.#handleSignals = opts.handleSignals ?? true;
    const gs = opts.grad_scaler;
    this.scaler = gs instanceof GradScaler ? gs : gs !== undefined ? new GradScaler(gs) : this.args.fp16 ? new GradScaler() : null;
    this.#progress = new ProgressReporter({ write: opts.log ? (t) => opts.log!(t.replace(/\n$/, '')) : undefined, disabled: this.args.disable_tqdm });
    this.callback_handler = new CallbackHandler([new DefaultFlowCallback(), ...(opts.callbacks ?? [])]);
    this.#checkPrecision();
    this.#checkTokenIds();
    this.#initEnd = this.#emit('on_init_end').then(() => undefined);
    this.#initEnd.catch(() => undefined); // surfaced when awaited by fit/evaluate/predict
  }

  // ------------------------------------------------------------------------------------------- setup checks

  #checkPrecision(): void {
    const a = this.args;
    checkAutocast(this.#autocast(), this.model.device, {
      fp16: 'fp16 = true', bf16: 'on CPU use bf16 = true (autocast to bfloat16) or leave both false', mixed: `${a.fp16 ? 'fp16' : 'bf16'} = true`,
    });
  }

  /** The native autocast dtype for the train step. */
  #autocast(): '' | 'bfloat16' | 'float16' {
    return this.args.bf16 ? 'bfloat16' : this.args.fp16 ? 'float16' : '';
  }

  /**
   * Fill decoder_start/pad/eos token ids (and vocab_size) from the tokenizer when the model config lacks them,
   * and check that they agree with the tokenizer (the most common Hugging Face captioning mistake).
   */
  #checkTokenIds(): void {
    const cfg: Record<string, number | null> = { ...this.model.specialTokenIds };
    const tok = this.tokenizer;
    const vocab = this.model.vocabSize;
    const ids = tokenizerIdCount(tok);
    if (ids > vocab) {
      throw new InvalidArgumentError(
        `The tokenizer has ${ids} token ids but the decoder's vocab_size is ${vocab}: ids >= ${vocab} would index past the embedding. ` +
          `Build the model with decoder.vocab_size >= ${ids} (or use the tokenizer it was trained with).`,
      );
    }
    // The end of a caption: eos, or [SEP] for BERT-style tokenizers (what their labels end with).
    const eos = tok.eos_token_id ?? tok.sep_token_id ?? null;
    if (eos === null) {
      throw new InvalidArgumentError('The tokenizer has no eos (or [SEP]) token: captions need an end token so that generation knows where to stop');
    }
    const notes: string[] = [];
    if (cfg.eos_token_id === null || cfg.eos_token_id === undefined) {
      cfg.eos_token_id = eos;
      notes.push(`eos_token_id = ${eos}`);
    } else if (cfg.eos_token_id !== eos) {
      throw new InvalidArgumentError(
        `model.config.eos_token_id is ${String(cfg.eos_token_id)} but the tokenizer's eos token id is ${eos}: the labels end with ${eos}, ` +
          `so generation would not stop where captions end. Set model.config.eos_token_id = ${eos} (or use the matching tokenizer).`,
      );
    }
    if (cfg.pad_token_id === null || cfg.pad_token_id === undefined) {
      const pad = tok.pad_token_id ?? eos;
      cfg.pad_token_id = pad;
      notes.push(`pad_token_id = ${pad}`);
      this.#nativeSyncNeeded = true;
    }
    if (cfg.decoder_start_token_id === null || cfg.decoder_start_token_id === undefined) {
      // As the captioning tutorials set it: bos (GPT-2, RoBERTa's <s>), else [CLS] (BERT).
      const start = tok.bos_token_id ?? tok.cls_token_id ?? eos;
      cfg.decoder_start_token_id = start;
      notes.push(`decoder_start_token_id = ${start}`);
      this.#nativeSyncNeeded = true;
    }
    for (const k of ['decoder_start_token_id', 'pad_token_id', 'eos_token_id'] as const) {
      const v = cfg[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocab) {
        throw new InvalidArgumentError(`Expected a token id in [0, ${vocab}) for model.config.${k} but received ${describe(v)}`);
      }
      const gen = this.model.generationConfig as Record<string, unknown>;
      if (gen[k] === undefined || gen[k] === null) gen[k] = v;
    }
    if (notes.length) {
      this.model.family.setTokens(this.model.config, cfg as unknown as SpecialTokenIds);
      this.#pendingNotes.push(`The model config lacked token ids; set from the tokenizer: ${notes.join(', ')} (model.config was updated)`);
    }
  }

  /** Make the native model use the token ids set on model.config (it copies them when it is built). */
  async #prepare(): Promise<void> {
    if (this.#initEnd) await this.#initEnd;
    for (const note of this.#pendingNotes.splice(0)) this.#line(note);
    if (this.#prepared) return;
    this.#prepared = true;
    if (!this.#nativeSyncNeeded) return;
    const ids = this.model.specialTokenIds;
    await this.model.setSpecialTokens({ decoder_start_token_id: ids.decoder_start_token_id!, pad_token_id: ids.pad_token_id!, eos_token_id: ids.eos_token_id! });
  }

  // ------------------------------------------------------------------------------------------- logging

  #line(text: string): void {
    if (this.#isMain) this.#progress.line(text);
  }

  /** Rank 0 (or the only process): the one that logs, saves and reports. */
  get #isMain(): boolean {
    return this.#group === null || this.#group.rank === 0;
  }

  /** Whether the run stops now: this process's request, or when data-parallel the stop all ranks agreed on. */
  #stopping(): boolean {
    return this.#group ? this.#agreedStop : this.#stopRequested !== null;
  }

  async #emit(event: CallbackEvent, extras: CallbackExtras = {}): Promise<TrainerControl> {
    const full: CallbackExtras = {
      model: this.model, tokenizer: this.tokenizer, image_processor: this.image_processor, optimizer: this.optimizer, lr_scheduler: this.lr_scheduler, ...extras,
    };
    this.control = await this.callback_handler.call(event, this.args, this.state, this.control, full);
    return this.control;
  }

  /** HF Trainer.log: add epoch, append to log_history, write JSONL/TensorBoard, call on_log. */
  async log(logs: Record<string, number>): Promise<void> {
    const entry: Record<string, number> = { ...logs };
    if (this.state.epoch !== null) entry.epoch = round(this.state.epoch, 4);
    const output = { ...entry, step: this.state.global_step } as LogEntry;
    this.state.log_history.push(output);
    this.#jsonl?.write(output);
    if (this.#tb) {
      const tb: Record<string, number> = {};
      for (const [k, v] of Object.entries(entry)) tb[tensorboardTag(k)] = v;
      this.#tb.addScalars(this.state.global_step, tb);
    }
    this.#line(formatLogLine(output));
    await this.#emit('on_log', { logs: entry });
  }

  // ------------------------------------------------------------------------------------------- training

  /** Request a graceful stop: the current step finishes, a checkpoint is saved, fit() resolves. */
  stop(reason = 'stop()'): void {
    if (!this.#fitting) return;
    if (this.#stopRequested === null) {
      this.#stopRequested = reason;
      const what = this.#inStep ? `finishing step ${this.state.global_step + 1}` : `stopping after step ${this.state.global_step}`;
      this.#line(`${reason}: ${what}, then saving a checkpoint${reason.startsWith('SIG') ? ' (send it again to abort at once without saving)' : ''}`);
    }
  }

  /** HF Trainer.train. */
  async train(opts: { resume_from_checkpoint?: string | boolean | null } = {}): Promise<TrainOutput> {
    return this.fit(opts);
  }

  async fit(opts: { resume_from_checkpoint?: string | boolean | null } = {}): Promise<TrainOutput> {
    if (this.#fitting) throw new InvalidArgumentError('fit() is already running on this Trainer');
    if (!this.train_dataset) throw new InvalidArgumentError('Expected a train_dataset for fit() but the Trainer has none');
    await this.#prepare();
    this.#fitting = true;
    this.#stopRequested = null;
    this.#agreedStop = false;
    const removeSignals = this.#handleSignals ? this.#installSignalHandlers() : () => undefined;
    try {
      await this.#joinGroup();
      return await this.#fit(opts.resume_from_checkpoint !== undefined ? opts.resume_from_checkpoint : this.args.resume_from_checkpoint);
    } finally {
      this.#leaveGroup();
      await this.#releaseEncoder();
      removeSignals();
      this.#progress.stop();
      this.#tb?.close();
      this.#tb = null;
      this.#fitting = false;
    }
  }

  /** Data-parallel when launched so (or after distributed.init()): rank 0 alone logs, shows progress and saves. */
  async #joinGroup(): Promise<void> {
    const group = await joinGroup(this.args, this.model);
    this.#group = group && group.worldSize > 1 ? group : null;
    if (!this.#group) return;
    if (this.#group.backend === 'nccl' && this.model.device !== this.#group.device) await this.model.to(this.#group.device as Device);
    if (!this.#isMain) this.#progress = new ProgressReporter({ disabled: true, write: () => undefined });
    this.#line(`Data-parallel: ${this.#group.worldSize} ranks (${this.#group.backend}), batch ${this.args.per_device_train_batch_size} per rank`);
  }

  /** The group stays up for the process (as torch.distributed's does): evaluate()/predict() after fit() use it too. */
  #leaveGroup(): void {
    this.#group = null;
  }

  #installSignalHandlers(): () => void {
    let count = 0;
    const handler = (signal: NodeJS.Signals): void => {
      count++;
      if (count > 1) {
        remove();
        this.#line(`${signal} again: aborting without saving`);
        process.kill(process.pid, signal);
        return;
      }
      this.stop(signal);
    };
    const onInt = (): void => handler('SIGINT');
    const onTerm = (): void => handler('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const remove = (): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    };
    return remove;
  }

  /** The dataset.batches options shared by the training and the evaluation loaders. */
  #loaderOptions(kind: 'train' | 'eval'): BatchesOptions {
    const a = this.args;
    const shared = {
      max_length: a.max_target_length,
      imageProcessor: this.image_processor,
      tokenizer: this.tokenizer,
      prefetch: a.dataloader_prefetch_factor ?? 2,
      ...(a.dataloader_num_workers > 0 ? { concurrency: a.dataloader_num_workers } : {}),
      log: (m: string) => this.#line(m),
    };
    if (kind === 'eval') {
      // Evaluation scores against every reference anyway; the first caption keeps eval_loss reproducible.
      return { ...shared, batch_size: a.per_device_eval_batch_size, captionSampling: 'first' };
    }
    return { ...shared, batch_size: a.per_device_train_batch_size, captionSampling: 'random', drop_last: a.dataloader_drop_last };
  }

  async #trainLoader(resumeFrom: LoaderState | undefined): Promise<DataLoader<DataItem>> {
    const a = this.args;
    const seed = a.data_seed ?? a.seed;
    // HF shuffles the training set every epoch (RandomSampler seeded by data_seed or seed): a full permutation
    // when items can be fetched by position, else a 1000-item shuffle buffer (HF IterableDataset's default).
    const randomAccess = await this.train_dataset!.hasRandomAccess();
    let ds = this.train_dataset!.shuffle({ seed, buffer_size: randomAccess ? Infinity : 1000 });
    const shardOf = this.#group ? { rank: this.#group.rank, world: this.#group.worldSize } : undefined;
    if (this.#group) ds = await shardForRank(ds, this.#group, (l) => this.#line(l));
    return ds.batches({ ...this.#loaderOptions('train'), ...(resumeFrom ? { resumeFrom } : { seed }), ...(shardOf ? { shardOf } : {}) });
  }

  async #fetchGroup(it: AsyncIterator<Batch>, loader: DataLoader<DataItem>, n: number): Promise<Group> {
    const g: Group = { batches: [], states: [], done: false, encoded: [] };
    while (g.batches.length < n) {
      const r = await it.next();
      if (r.done) {
        g.done = true;
        break;
      }
      g.states.push(loader.state());
      const batch = await this.#collate(r.value);
      g.batches.push(batch);
      if (this.#encoderCache) g.encoded.push(await this.#cachedStates(batch));
    }
    return g;
  }

  // ------------------------------------------------------------------------------------------- frozen encoder

  /** freeze_encoder and cache_encoder_outputs, before the optimizer exists (it then holds no state for the tower). */
  async #prepareEncoder(plan: Plan): Promise<void> {
    const a = this.args;
    if (!a.freeze_encoder) return;
    const r = await this.model.freezeVisionTower(true);
    this.#frozeEncoder = true;
    this.#line(`freeze_encoder: ${r.tensors} parameter tensors under ${r.prefix}.* frozen (no gradients, no optimizer state); ` +
      `${this.model.numParameters({ trainableOnly: true }).toLocaleString('en-US')} of ${this.model.numParameters().toLocaleString('en-US')} parameters train`);
    if (!a.cache_encoder_outputs) return;
    await this.#checkRepeatablePixels();
    // Data-parallel ranks see different items: one cache each.
    const dir = join(plan.outputDir, this.#group ? `encoder_cache-rank${this.#group.rank}` : 'encoder_cache');
    this.#encoderCache = await EncoderCache.open(dir, { dtype: a.cache_encoder_dtype, note: (l) => this.#line(`Note: ${l}`) });
    this.#cacheChecked = false;
    this.#line(`cache_encoder_outputs: encoder states in ${dir} (${a.cache_encoder_dtype}; ${this.#encoderCache.size} image(s) cached so far)`);
  }

  async #releaseEncoder(): Promise<void> {
    const cache = this.#encoderCache;
    this.#encoderCache = null;
    await cache?.close();
    if (this.#frozeEncoder) {
      this.#frozeEncoder = false;
      await this.model.freezeVisionTower(false);
    }
  }

  /**
   * Cached encoder outputs are right only if every read of an image gives the same pixel values. Reading the
   * first batch twice catches random augmentation (in set_transform/with_transform/map, the data_collator or
   * the image processor) before training starts; a changed pixel hash of a cached id catches the rest later.
   */
  async #checkRepeatablePixels(): Promise<void> {
    const first = async (): Promise<Tensor | null> => {
      const loader = this.train_dataset!.batches({ ...this.#loaderOptions('train'), batch_size: Math.min(2, this.args.per_device_train_batch_size), seed: 0, log: () => undefined });
      const it = loader[Symbol.asyncIterator]();
      try {
        const r = await it.next();
        return r.done ? null : (await this.#collate(r.value)).pixel_values;
      } finally {
        await it.return?.(undefined);
      }
    };
    const x = await first();
    const y = await first();
    if (x && y && pixelHashes(x).join() !== pixelHashes(y).join()) throw augmentationError('two reads of the first training batch gave different pixel values');
  }

  /** The cached states of a batch's rows, storing those not cached yet (computed by the frozen encoder). */
  async #cachedStates(batch: Batch): Promise<Tensor> {
    const cache = this.#encoderCache!;
    const ids = batch.ids.map(String);
    const hashes = pixelHashes(batch.pixel_values);
    if (!this.#cacheChecked && ids.some((id, i) => cache.hashOf(id) !== undefined && cache.hashOf(id) !== hashes[i])) {
      this.#line(`Note: the encoder cache in ${cache.dir} holds other images under these item ids (another dataset or image processor); rebuilding it`);
      await cache.clear();
    }
    ids.forEach((id, i) => {
      const known = cache.hashOf(id);
      if (known !== undefined && known !== hashes[i]) throw augmentationError(`item ${id} has other pixel values than when its encoder states were cached`);
    });
    const missing = ids.some((id) => !cache.has(id));
    if (missing || !this.#cacheChecked) {
      const states = await this.model.encodeImages(batch.pixel_values);
      if (!this.#cacheChecked) {
        // The first batch of a run over an existing cache: are its cached rows still what this encoder gives?
        const rows = ids.map((id, i) => (cache.has(id) ? i : -1)).filter((i) => i >= 0);
        if (rows.length) {
          const cached = (await cache.get(rows.map((i) => ids[i]!))).data;
          const fresh = cache.roundTrip(states);
          const per = fresh.length / ids.length;
          let diff = 0;
          let scale = 1e-6;
          rows.forEach((row, k) => {
            for (let j = 0; j < per; j++) {
              const v = fresh[row * per + j]!;
              diff = Math.max(diff, Math.abs(v - cached[k * per + j]!));
              scale = Math.max(scale, Math.abs(v));
            }
          });
          if (diff > scale * (cache.dtype === 'float32' ? 1e-4 : 2e-2)) {
            this.#line(`Note: the encoder cache in ${cache.dir} does not match this encoder (max difference ${diff.toExponential(2)}): it was made by other weights or images; rebuilding it`);
            await cache.clear();
          }
        }
        this.#cacheChecked = true;
      }
      await cache.put(ids, hashes, states);
    }
    return cache.get(ids);
  }

  async #fit(resumeArg: string | boolean | null): Promise<TrainOutput> {
    const plan = await this.#plan(resumeArg);
    await this.#prepareEncoder(plan);
    this.#createOptimizerAndScheduler(plan);
    await this.#restore(plan);
    this.#openLogs(plan);

    this.model.train();
    await this.#emit('on_train_begin');
    if (this.args.eval_on_start && this.eval_dataset) await this.evaluate();
    this.#progress.start(plan.maxSteps, this.state.global_step);
    const startTime = Date.now();
    const run: RunCounters = { trLossSum: 0, lastLoggedStep: this.state.global_step, runLossSum: 0, runSteps: 0, runSamples: 0, lastGradNorm: 0 };

    while (!this.control.should_training_stop && !this.#stopping() && this.state.global_step < this.state.max_steps) {
      if (plan.loader.epoch >= plan.numEpochs) break;
      await this.#epoch(plan, run);
    }
    this.#progress.stop();
    return this.#finish(plan, run, startTime);
  }

  /** Where the run starts and how long it lasts, decided once from the data and the arguments. */
  async #plan(resumeArg: string | boolean | null): Promise<Plan> {
    const a = this.args;
    const outputDir = resolve(a.output_dir);
    await mkdir(outputDir, { recursive: true });
    await removeStaleTemporaries(outputDir);
    const resumePath = await resolveResumePath(resumeArg, outputDir);
    if (!resumePath) {
      const existing = await listCheckpoints(outputDir);
      if (existing.length && !a.overwrite_output_dir) {
        this.#line(`Note: ${outputDir} already holds ${existing.length} checkpoint(s) (latest checkpoint-${existing[existing.length - 1]!.step}); starting fresh. Pass resume_from_checkpoint: true to continue from it.`);
      }
    }
    // The loader resumes at the saved data position, so no batches are replayed.
    let resumeLoader: LoaderState | undefined;
    if (resumePath) {
      const p = join(resumePath, LOADER_STATE_NAME);
      if (existsSync(p)) resumeLoader = await readJsonFile<LoaderState>(p);
      const saved = await readJsonFile(join(resumePath, TRAINER_STATE_NAME)).catch(() => ({}) as Record<string, unknown>);
      const fromWorld = typeof saved.world_size === 'number' ? saved.world_size : 1;
      const toWorld = this.#group?.worldSize ?? 1;
      if (fromWorld !== toWorld) {
        this.#line(`Warning: ${resumePath} was saved by a run with ${fromWorld} rank(s) and this run has ${toWorld}: training continues from the same ` +
          'number of items seen, but the data order and the global batch differ from an uninterrupted run (resume with the same world size to be exact)');
        if (resumeLoader) resumeLoader = rescaleLoaderState(resumeLoader, fromWorld, toWorld);
      }
    }
    const loader = await this.#trainLoader(resumeLoader);
    const accumulation = a.gradient_accumulation_steps;
    const batchesPerEpoch = await loader.numBatches();
    let maxSteps: number;
    let numEpochs: number;
    if (batchesPerEpoch !== undefined) {
      if (batchesPerEpoch === 0) throw new InvalidArgumentError('The train_dataset is empty (or smaller than one batch with dataloader_drop_last)');
      const updatesPerEpoch = Math.max(1, Math.ceil(batchesPerEpoch / accumulation));
      if (a.max_steps > 0) {
        maxSteps = a.max_steps;
        numEpochs = Math.ceil(maxSteps / updatesPerEpoch);
      } else {
        maxSteps = Math.ceil(a.num_train_epochs * updatesPerEpoch);
        numEpochs = Math.ceil(a.num_train_epochs);
      }
    } else {
      if (a.max_steps <= 0) {
        throw new InvalidArgumentError('The train_dataset has no known length (a stream, or a filter over a stream); set max_steps to say how long to train');
      }
      maxSteps = a.max_steps;
      numEpochs = Number.MAX_SAFE_INTEGER;
    }
    const warmup = warmupSteps(maxSteps, a.warmup_steps, a.warmup_ratio);
    return Object.freeze({ outputDir, resumePath, resumeLoader, loader, accumulation, batchesPerEpoch, maxSteps, numEpochs, warmup });
  }

  /** HF: AdamW without weight decay on biases and LayerNorm weights, and the lr schedule over the planned steps. */
  #createOptimizerAndScheduler(plan: Plan): void {
    const a = this.args;
    this.optimizer = new AdamW(this.model, {
      lr: a.learning_rate, betas: [a.adam_beta1, a.adam_beta2], eps: a.adam_epsilon, weight_decay: a.weight_decay, no_decay: HF_NO_DECAY,
    });
    this.lr_scheduler = new LearningRateSchedule(a.lr_scheduler_type, a.learning_rate, {
      num_warmup_steps: plan.warmup, num_training_steps: plan.maxSteps, ...a.lr_scheduler_kwargs,
    });
  }

  /** Fresh state, or the checkpoint's when resuming; the optimizer must exist (its state is loaded too). */
  async #restore(plan: Plan): Promise<void> {
    const a = this.args;
    this.state = new TrainerState();
    this.control = new TrainerControl();
    this.#lastCheckpoint = null;
    this.#lastSavedStep = -1;
    this.#schedulerSteps = 0;
    if (plan.resumePath) await this.#loadCheckpoint(plan.resumePath, plan.resumeLoader);
    const st = this.state;
    st.max_steps = plan.maxSteps;
    st.num_train_epochs = plan.numEpochs === Number.MAX_SAFE_INTEGER ? 0 : plan.numEpochs;
    st.train_batch_size = a.per_device_train_batch_size;
    st.world_size = this.#group?.worldSize ?? 1;
    st.is_world_process_zero = this.#isMain;
    st.is_local_process_zero = this.#group === null || this.#group.localRank === 0;
    setStateIntervals(st, a);
    // DDP's start: every replica takes rank 0's weights (a resumed run loaded the same checkpoint everywhere anyway).
    if (this.#group) await this.model.broadcastState(this.#group, { bucket_cap_mb: a.ddp_bucket_cap_mb ?? undefined });
    if (plan.resumePath && !plan.resumeLoader && plan.batchesPerEpoch !== undefined && st.global_step > 0) {
      // A checkpoint without loader_state.json (e.g. from Python): start the epoch the step falls in.
      const epoch = Math.floor(st.global_step / Math.max(1, Math.ceil(plan.batchesPerEpoch / plan.accumulation)));
      plan.loader.setEpoch(epoch);
      this.#line(`Note: ${plan.resumePath} has no ${LOADER_STATE_NAME}; the data restarts at the beginning of epoch ${epoch}`);
    }
    this.#loaderState = plan.loader.state();
  }

  #openLogs(plan: Plan): void {
    const a = this.args;
    const st = this.state;
    const { outputDir, batchesPerEpoch, accumulation: G, warmup } = plan;
    if (!this.#isMain) return;
    this.#jsonl = new JsonlLogger(join(outputDir, 'trainer_log.jsonl'));
    if (a.report_to.includes('tensorboard')) {
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
      this.#tb = new TensorBoardWriter(a.logging_dir ?? join(outputDir, 'runs', `${stamp}_${hostname()}`));
    }
    if (plan.resumePath) this.#jsonl.write({ event: 'resume', step: st.global_step, checkpoint: plan.resumePath });
    const samplesPerStep = a.per_device_train_batch_size * G;
    this.#line(
      `Training: ${batchesPerEpoch !== undefined ? `${batchesPerEpoch} batches per epoch, ` : ''}${plan.maxSteps} optimizer steps` +
        `${batchesPerEpoch !== undefined ? ` (${st.num_train_epochs} epoch${st.num_train_epochs === 1 ? '' : 's'})` : ''}, batch ${a.per_device_train_batch_size}` +
        `${G > 1 ? ` x ${G} accumulated = ${samplesPerStep}` : ''}, lr ${a.learning_rate} (${a.lr_scheduler_type}${warmup ? `, ${warmup} warmup steps` : ''}), ` +
        `${this.model.numParameters({ trainableOnly: true }).toLocaleString('en-US')} trainable parameters; output in ${outputDir}`,
    );
  }

  /** One pass over the loader from its current position (the rest of an epoch when resuming). */
  async #epoch(plan: Plan, run: RunCounters): Promise<void> {
    const { loader, accumulation: G } = plan;
    const st = this.state;
    const epochIndex = loader.epoch;
    await this.#emit('on_epoch_begin');
    const it = loader[Symbol.asyncIterator]();
    let pending: Promise<Group> = this.#fetchGroup(it, loader, G);
    let epochDone = false;
    try {
      for (;;) {
        let group = await pending;
        // A stream of unknown length may end on one rank first: every rank ends the epoch at the same step.
        if (this.#group && plan.batchesPerEpoch === undefined && !(await this.#allHaveData(group))) group = EMPTY_DONE;
        if (group.batches.length === 0) {
          epochDone = true;
          break;
        }
        // Pull the next group while this step runs.
        pending = group.done ? Promise.resolve(EMPTY_DONE) : this.#fetchGroup(it, loader, G);
        pending.catch(() => undefined);
        await this.#emit('on_step_begin');
        const { loss, rows } = await this.#optimizerStep(plan, run, group, epochIndex);
        if (st.max_steps !== this.#progress.total) this.#progress.setTotal(st.max_steps); // a callback changed the plan
        this.#progress.update(st.global_step, rows, { epoch: st.epoch!, loss, learning_rate: this.optimizer!.learningRate });
        await this.#emit('on_step_end', { loss });
        await this.#maybeLogSaveEvaluate(run);
        if (this.control.should_training_stop || this.#stopping() || this.control.should_epoch_stop) break;
      }
    } finally {
      this.#inStep = false;
      await pending.catch(() => undefined);
      await it.return?.(undefined);
    }
    if (!epochDone && this.control.should_epoch_stop && !this.#stopping()) {
      // A callback ended the epoch early: the next iteration starts the next epoch.
      loader.setEpoch(epochIndex + 1);
      epochDone = true;
    }
    if (epochDone) this.#loaderState = loader.state();
    // On a stop request the final save happens in #finish, without an epoch end in between.
    if (this.#stopping()) return;
    if (epochDone || this.control.should_training_stop) {
      if (epochDone && plan.batchesPerEpoch !== undefined) st.epoch = epochIndex + 1;
      await this.#emit('on_epoch_end');
      await this.#maybeLogSaveEvaluate(run);
    }
  }

  /** Whether every rank still has a batch for this step (one small all-reduce). */
  async #allHaveData(group: Group): Promise<boolean> {
    const r = await this.#group!.allReduce(Tensor.from(new Int32Array([group.batches.length ? 1 : 0]), [1]), 'min');
    return Number(r.data[0]) === 1;
  }

  /**
   * One optimizer step over a group of gradient-accumulation micro-batches. A step skipped by loss scaling
   * still counts as a global step (as in HF) but does not advance the schedule or the reported grad_norm.
   */
  async #optimizerStep(plan: Plan, run: RunCounters, group: Group, epochIndex: number): Promise<{ loss: number; rows: number }> {
    const a = this.args;
    const st = this.state;
    const optimizer = this.optimizer!;
    this.#inStep = true;
    optimizer.setLearningRate(this.lr_scheduler!.at(this.#schedulerSteps));
    // With cached encoder outputs the step trains on the states instead of the pixels.
    const inputs = group.encoded.length ? group.batches.map((b, i) => ({ encoder_last_hidden_state: group.encoded[i]!, labels: b.labels })) : group.batches;
    const r = await this.model.trainStep(inputs, {
      optimizer,
      max_grad_norm: a.max_grad_norm,
      learning_rate: optimizer.learningRate,
      label_smoothing: a.label_smoothing_factor,
      autocast: this.#autocast(),
      loss_scale: this.scaler?.scale ?? 1,
      seed: stepSeed(a.seed, st.global_step),
      process_group: this.#group,
      stop: this.#stopRequested !== null,
      check_replicas: this.#group !== null && process.env.TORCH_CAPTION_DDP_CHECK === '1',
      ...(a.ddp_bucket_cap_mb !== null ? { bucket_cap_mb: a.ddp_bucket_cap_mb } : {}),
    });
    if (r.stop && this.#group) {
      this.#agreedStop = true;
      this.#stopRequested ??= 'a stop request on another rank';
    }
    const { loss, grad_norm: gradNorm } = r;
    // With loss scaling, overflowing gradients (finite loss) skip the update and back the scale off.
    const overflow = this.scaler !== null && r.skipped && Number.isFinite(loss);
    if (overflow) {
      this.#jsonl?.write({ event: 'overflow', step: st.global_step + 1, loss_scale: this.scaler!.scale, grad_norm: gradNorm });
    }
    this.scaler?.update(r.skipped);
    if (!overflow && (!Number.isFinite(loss) || !Number.isFinite(gradNorm))) {
      const what = !Number.isFinite(loss) ? `loss became ${loss}` : `gradient norm became ${gradNorm}`;
      this.#jsonl?.write({ event: 'non_finite', step: st.global_step + 1, loss, grad_norm: gradNorm });
      throw new NonFiniteLossError(
        `Training stopped: the ${what} at step ${st.global_step + 1} (the update was skipped). ` +
          `Last good checkpoint: ${this.#lastCheckpoint ?? 'none (nothing saved yet)'}. ` +
          'Try a lower learning_rate, more warmup_steps, or max_grad_norm; resume with resume_from_checkpoint.',
        st.global_step + 1,
      );
    }
    st.global_step++;
    if (!overflow) this.#schedulerSteps++;
    run.lastGradNorm = overflow ? run.lastGradNorm : gradNorm;
    this.#inStep = false;
    // A checkpoint taken now must resume after the last batch of this step, not after the prefetched ones.
    this.#loaderState = group.states[group.states.length - 1]!;
    // Rows of the global batch: every rank's (the ranks' batches are equal when the data splits evenly).
    const rows = group.batches.reduce((n, b) => n + b.labels.shape[0]!, 0) * (this.#group?.worldSize ?? 1);
    st.epoch = plan.batchesPerEpoch !== undefined ? epochIndex + Math.min(1, this.#loaderState.batches / plan.batchesPerEpoch) : epochIndex;
    run.trLossSum += loss;
    run.runLossSum += loss;
    run.runSteps++;
    run.runSamples += rows;
    return { loss, rows };
  }

  /** HF's _maybe_log_save_evaluate: act on the flags the callbacks set for this step or epoch end. */
  async #maybeLogSaveEvaluate(run: RunCounters): Promise<void> {
    const st = this.state;
    if (this.control.should_log && st.global_step > run.lastLoggedStep) {
      const logs: Record<string, number> = {
        loss: round(run.trLossSum / (st.global_step - run.lastLoggedStep), 4),
        grad_norm: run.lastGradNorm,
        learning_rate: this.lr_scheduler!.at(this.#schedulerSteps),
      };
      run.trLossSum = 0;
      run.lastLoggedStep = st.global_step;
      await this.log(logs);
    }
    if (this.control.should_evaluate && this.eval_dataset) {
      const metrics = await this.evaluate();
      this.#determineBest(metrics);
    } else if (this.control.should_evaluate) {
      this.control.should_evaluate = false;
    }
    if (this.control.should_save) {
      await this.#saveCheckpoint();
      await this.#emit('on_save');
    }
  }

  /** Final checkpoint after a stop, best model, train_* metrics, trainer_state.json and the report. */
  async #finish(plan: Plan, run: RunCounters, startTime: number): Promise<TrainOutput> {
    const a = this.args;
    const st = this.state;
    const interrupted = this.#stopping();
    if (interrupted && this.#lastSavedStep !== st.global_step) {
      await this.#saveCheckpoint();
      await this.#emit('on_save');
    }
    if (!interrupted && a.load_best_model_at_end && st.best_model_checkpoint && existsSync(join(st.best_model_checkpoint, 'model.safetensors'))) {
      const report = await this.model.loadWeightsFile(join(st.best_model_checkpoint, 'model.safetensors'));
      if (report.missing.length || report.unexpected.length) throw new TorchCaptionError(`Could not load the best model from ${st.best_model_checkpoint}`);
      this.#line(`Loaded the best model from ${st.best_model_checkpoint} (${a.metric_for_best_model} = ${st.best_metric})`);
    }
    const runtime = (Date.now() - startTime) / 1000;
    const trainLoss = run.runSteps ? run.runLossSum / run.runSteps : NaN;
    const metrics: Record<string, number> = {
      train_runtime: round(runtime, 4),
      train_samples_per_second: round(runtime > 0 ? run.runSamples / runtime : 0, 3),
      train_steps_per_second: round(runtime > 0 ? run.runSteps / runtime : 0, 3),
      total_flos: 0,
      train_loss: trainLoss,
    };
    await this.log(metrics);
    await this.#emit('on_train_end');
    if (this.#isMain) {
      await writeJson(join(plan.outputDir, TRAINER_STATE_NAME), this.#stateJson());
      try {
        await this.writeReport(join(plan.outputDir, 'report.html'));
      } catch (err) {
        this.#line(`Could not write the HTML report: ${(err as Error).message}`);
      }
    }
    if (st.epoch !== null) metrics.epoch = round(st.epoch, 4);
    if (interrupted) {
      this.#line(`Training stopped by ${this.#stopRequested ?? 'a stop request'} at step ${st.global_step}; checkpoint saved to ${this.#lastCheckpoint}. Continue with resume_from_checkpoint: true.`);
    } else {
      if (this.scaler?.skipped_steps) {
        this.#line(`Loss scaling: ${this.scaler.skipped_steps} step(s) skipped for inf/NaN gradients (their updates were not applied); loss scale now ${this.scaler.scale}`);
      }
      this.#line(`Training done: ${st.global_step} steps in ${formatDuration(runtime)} (${metrics.train_samples_per_second} samples/s), train_loss ${round(trainLoss, 4)}`);
    }
    return { global_step: st.global_step, training_loss: trainLoss, metrics, interrupted, checkpoint: this.#lastCheckpoint };
  }

  #determineBest(metrics: Record<string, number>): void {
    const name = this.args.metric_for_best_model;
    if (name === null) return;
    const key = metricKey(name);
    const value = metrics[key];
    if (value === undefined) {
      throw new InvalidArgumentError(`metric_for_best_model is '${name}' but the evaluation reported no ${key} (reported: ${Object.keys(metrics).join(', ')})`);
    }
    const greater = this.args.greater_is_better ?? !key.endsWith('loss');
    const best = this.state.best_metric;
    if (best === null || (greater ? value > best : value < best)) {
      this.state.best_metric = value;
      this.state.best_global_step = this.state.global_step;
    }
  }

  #stateJson(): Record<string, unknown> {
    const stateful: Record<string, unknown> = {
      TrainerControl: {
        args: {
          should_epoch_stop: this.control.should_epoch_stop, should_evaluate: this.control.should_evaluate, should_log: this.control.should_log,
          should_save: this.control.should_save, should_training_stop: this.control.should_training_stop,
        },
        attributes: {},
      },
    };
    for (const cb of this.callback_handler.callbacks) {
      if (typeof cb.state === 'function') stateful[cb.constructor.name] = cb.state();
    }
    this.state.stateful_callbacks = stateful;
    return this.state.toJSON();
  }

  /** Write config, weights, tokenizer and image processor files into a folder (HF save_model). */
  async saveModel(dir: string = this.args.output_dir): Promise<void> {
    await this.model.save(dir);
    if (this.tokenizer.save && (this.model.tokenizer as unknown) !== this.tokenizer) await this.tokenizer.save(dir);
    if (this.image_processor.save && (this.model.imageProcessor as unknown) !== this.image_processor) await this.image_processor.save(dir);
  }

  /** Data-parallel: rank 0 writes the checkpoint while the other ranks wait for it at a barrier. */
  async #saveCheckpoint(): Promise<string> {
    if (!this.#group) return this.#writeCheckpoint();
    const path = this.#isMain ? await this.#writeCheckpoint() : join(resolve(this.args.output_dir), `checkpoint-${this.state.global_step}`);
    if (this.state.best_global_step === this.state.global_step) this.state.best_model_checkpoint = path;
    await this.#group.barrier();
    this.#lastCheckpoint = path;
    this.#lastSavedStep = this.state.global_step;
    return path;
  }

  async #writeCheckpoint(): Promise<string> {
    const a = this.args;
    const st = this.state;
    const outputDir = resolve(a.output_dir);
    const name = `checkpoint-${st.global_step}`;
    const finalPath = join(outputDir, name);
    if (st.best_global_step === st.global_step) st.best_model_checkpoint = finalPath;
    const path = await writeFolderAtomic(outputDir, name, async (tmp) => {
      await this.saveModel(tmp);
      if (!a.save_only_model) {
        await saveOptimizerState(tmp, await this.optimizer!.stateDict());
        await writeJson(join(tmp, SCHEDULER_NAME), this.lr_scheduler!.toJSON(this.#schedulerSteps));
        if (this.scaler) await writeJson(join(tmp, SCALER_NAME), this.scaler.state_dict());
        await writeJson(join(tmp, RNG_STATE_NAME), {
          seed: a.seed,
          data_seed: a.data_seed,
          per_step_seeding: true,
          note: 'dropout is reseeded from (seed, global_step) before every step; the data order and caption sampling follow (data_seed or seed, epoch, position)',
        });
        await writeJson(join(tmp, LOADER_STATE_NAME), this.#loaderState);
      }
      await writeJson(join(tmp, TRAINER_STATE_NAME), this.#stateJson());
      await writeJson(join(tmp, TRAINING_ARGS_NAME), a);
    });
    this.#lastCheckpoint = path;
    this.#lastSavedStep = st.global_step;
    this.#jsonl?.write({ event: 'save', step: st.global_step, checkpoint: path });
    const removed = await rotateCheckpoints(outputDir, a.save_total_limit, st.best_model_checkpoint);
    this.#line(`Saved ${name}${removed.length ? ` (removed ${removed.map((p) => `checkpoint-${checkpointStep(p)}`).join(', ')})` : ''}`);
    return path;
  }

  async #loadCheckpoint(path: string, loaderState: LoaderState | undefined): Promise<void> {
    const weights = join(path, 'model.safetensors');
    if (!existsSync(weights)) throw new InvalidArgumentError(`Expected model.safetensors in the checkpoint ${path} but found none`);
    const report = await this.model.loadWeightsFile(weights);
    if (report.missing.length || report.unexpected.length) {
      throw new TorchCaptionError(`The checkpoint ${path} does not match the model (missing: ${report.missing.slice(0, 10).join(', ')}; unexpected: ${report.unexpected.slice(0, 10).join(', ')})`);
    }
    if (existsSync(join(path, 'optimizer.safetensors'))) {
      await this.optimizer!.loadStateDict(await loadOptimizerState(path));
    } else {
      this.#line(`Note: ${path} has no optimizer state (saved with save_only_model); the optimizer starts fresh`);
    }
    const json = await readJsonFile(join(path, TRAINER_STATE_NAME));
    this.state = TrainerState.fromJSON(json);
    const stateful = (this.state.stateful_callbacks ?? {}) as Record<string, Record<string, unknown>>;
    for (const cb of this.callback_handler.callbacks) {
      const saved = stateful[cb.constructor.name];
      if (saved && typeof cb.loadState === 'function') cb.loadState(saved);
    }
    const sched = existsSync(join(path, SCHEDULER_NAME)) ? await readJsonFile(join(path, SCHEDULER_NAME)) : null;
    if (sched && sched.lr_scheduler_type !== this.args.lr_scheduler_type) {
      this.#line(`Note: the checkpoint used lr_scheduler_type '${String(sched.lr_scheduler_type)}', this run uses '${this.args.lr_scheduler_type}'`);
    }
    // Steps skipped by loss scaling did not advance the schedule (scheduler.json's last_epoch counts real steps).
    const lastEpoch = sched?.last_epoch;
    this.#schedulerSteps = typeof lastEpoch === 'number' && Number.isInteger(lastEpoch) && lastEpoch >= 0 && lastEpoch <= this.state.global_step
      ? lastEpoch : this.state.global_step;
    if (this.scaler && existsSync(join(path, SCALER_NAME))) {
      this.scaler.load_state_dict((await readJsonFile(join(path, SCALER_NAME))) as Partial<GradScalerState>);
    }
    this.#lastCheckpoint = path;
    this.#lastSavedStep = this.state.global_step;
    const where = loaderState
      ? `data position: epoch ${loaderState.epoch}, item ${loaderState.index} (no batches replayed)`
      : 'no loader_state.json: the data starts from the beginning of an epoch';
    this.#line(`Resuming from ${path}: global_step ${this.state.global_step}, epoch ${round(this.state.epoch ?? 0, 2)}, ${where}`);
  }

  // ------------------------------------------------------------------------------------------- evaluation

  #generateOptions(): Partial<GenerateOptions> {
    const o: Partial<GenerateOptions> = {};
    if (this.args.generation_max_length !== null) o.max_length = this.args.generation_max_length;
    if (this.args.generation_num_beams !== null) o.num_beams = this.args.generation_num_beams;
    return o;
  }

  async #predictionLoop(dataset: Dataset<DataItem>, prefix: string, generate: boolean): Promise<PredictionOutput> {
    const a = this.args;
    const wasTraining = this.model.isTraining;
    this.model.eval();
    const start = Date.now();
    // Data-parallel: each rank evaluates items rank, rank+W, ...; the rows are gathered below.
    const group = this.#group ?? ((distributed.group()?.worldSize ?? 1) > 1 ? distributed.group() : null);
    const loader = (group ? dataset.shard(group.rank, group.worldSize) : dataset).batches(this.#loaderOptions('eval'));
    const genOpts = this.#generateOptions();
    let lossSum = 0;
    let rows = 0;
    let steps = 0;
    const out: PredictionOutput = { predictions: [], references: [], ids: [], sequences: [], metrics: {} };
    try {
      for await (const loaded of loader) {
        const batch = await this.#collate(loaded);
        const n = batch.labels.shape[0]!;
        const f = await this.model.forward({ pixel_values: batch.pixel_values, labels: batch.labels }, { label_smoothing: a.label_smoothing_factor });
        if (typeof f.loss === 'number') lossSum += f.loss * n;
        rows += n;
        steps++;
        if (generate) {
          const g = await this.model.generate(batch.pixel_values, genOpts);
          for (let i = 0; i < n; i++) {
            const seq = g.sequences[i]!;
            out.sequences.push(seq);
            out.predictions.push(this.tokenizer.decode(seq, { skip_special_tokens: true }).trim());
          }
        }
        out.ids.push(...batch.ids);
        out.references.push(...batch.captions);
        await this.#emit('on_prediction_step');
      }
    } finally {
      this.model.train(wasTraining);
    }
    if (group) {
      const all = await gatherPredictions(group, { ...out, lossSum, rows, steps } satisfies RankPredictions);
      ({ lossSum, rows, steps } = all);
      Object.assign(out, { predictions: all.predictions, references: all.references, ids: all.ids, sequences: all.sequences });
    }
    if (rows === 0) throw new InvalidArgumentError(`The ${prefix} dataset gave no usable items`);
    const m: Record<string, number> = { [`${prefix}_loss`]: lossSum / rows };
    if (generate) {
      const metricsWanted = process.env.METEOR_JAR ? (['Bleu', 'METEOR', 'ROUGE_L', 'CIDEr'] as const) : (['Bleu', 'ROUGE_L', 'CIDEr'] as const);
      const scores = scoreCaptions(out.predictions.map((p) => p || ' '), out.references, { metrics: [...metricsWanted] }) as unknown as Record<string, number>;
      for (const [k, v] of Object.entries(scores)) if (typeof v === 'number') m[`${prefix}_${k}`] = v;
      if (this.compute_metrics) {
        const extra = await this.compute_metrics({ predictions: out.predictions, references: out.references, ids: out.ids, sequences: out.sequences });
        for (const [k, v] of Object.entries(extra ?? {})) {
          if (typeof v !== 'number') throw new InvalidArgumentError(`Expected numbers from compute_metrics but ${k} is ${describe(v)}`);
          m[k.startsWith(`${prefix}_`) ? k : `${prefix}_${k}`] = v;
        }
      }
    }
    const runtime = (Date.now() - start) / 1000;
    m[`${prefix}_runtime`] = round(runtime, 4);
    m[`${prefix}_samples_per_second`] = round(runtime > 0 ? rows / runtime : 0, 3);
    m[`${prefix}_steps_per_second`] = round(runtime > 0 ? steps / runtime : 0, 3);
    out.metrics = m;
    return out;
  }

  /**
   * Evaluate on eval_dataset (or the one given): eval_loss, and with predict_with_generate the COCO caption
   * metrics of generated captions against all references (eval_Bleu_1..4, eval_ROUGE_L, eval_CIDEr) plus
   * compute_metrics. Logged with the prefix, as HF does.
   */
  async evaluate(eval_dataset?: Dataset<DataItem>, opts: { metric_key_prefix?: string } = {}): Promise<Record<string, number>> {
    await this.#prepare();
    const ds = eval_dataset ?? this.eval_dataset;
    if (!ds) throw new InvalidArgumentError('Expected an eval_dataset for evaluate() but the Trainer has none');
    const prefix = opts.metric_key_prefix ?? 'eval';
    // compute_metrics always sees generated captions: HF's plain Trainer hands it the argmax of teacher-forced
    // logits, which for a captioner is not a caption (the GIT guide's WER on it scores teacher forcing).
    const generate = this.args.predict_with_generate || this.compute_metrics !== undefined;
    const out = await this.#predictionLoop(ds, prefix, generate);
    if (generate) this.#lastEval = out;
    await this.log(out.metrics);
    await this.#emit('on_evaluate', { metrics: out.metrics });
    return out.metrics;
  }

  /** Caption a dataset: generated captions, references and metrics prefixed `test_` (HF predict). */
  async predict(test_dataset: Dataset<DataItem>, opts: { metric_key_prefix?: string } = {}): Promise<PredictionOutput> {
    await this.#prepare();
    if (!test_dataset) throw new InvalidArgumentError('Expected a dataset for predict()');
    const out = await this.#predictionLoop(test_dataset, opts.metric_key_prefix ?? 'test', true);
    this.#lastEval = out;
    await this.#emit('on_predict', { metrics: out.metrics });
    return out;
  }

  /** Write the HTML report (curves from log_history, samples from the last generating evaluation). */
  async writeReport(path: string = join(this.args.output_dir, 'report.html'), opts: { samples?: number } = {}): Promise<void> {
    const n = opts.samples ?? 8;
    const samples: ReportSample[] = [];
    const last = this.#lastEval;
    if (last && n > 0) {
      const want = new Map<string, number>();
      last.ids.slice(0, n).forEach((id, i) => want.set(id, i));
      const images = new Map<string, string | undefined>();
      const ds = this.eval_dataset;
      if (ds) {
        let seen = 0;
        for await (const item of ds.items()) {
          if (want.has(String(item.id)) && !images.has(String(item.id))) images.set(String(item.id), await imageDataUri(item.image));
          if (++seen >= n * 4 || images.size >= want.size) break;
        }
      }
      for (const [id, i] of want) {
        samples.push({ id, image: images.get(id), prediction: last.predictions[i] ?? '', references: last.references[i] ?? [] });
      }
    }
    const summary: Record<string, number | string> = { global_step: this.state.global_step };
    for (const e of this.state.log_history) {
      for (const [k, v] of Object.entries(e)) if (k !== 'step' && (k.startsWith('train_') || k.startsWith('eval_') || k === 'epoch')) summary[k] = v;
    }
    if (this.state.best_model_checkpoint) summary.best_model_checkpoint = this.state.best_model_checkpoint;
    await mkdir(resolve(path, '..'), { recursive: true });
    await writeReport(path, {
      title: `torch-caption training report — ${this.args.run_name ?? resolve(this.args.output_dir)}`,
      log_history: this.state.log_history,
      summary,
      samples,
      args: this.args as unknown as Record<string, unknown>,
    });
  }

  /**
   * The last generating evaluation's output: predict()'s, or evaluate()'s with predict_with_generate (captions,
   * references, ids, sequences, metrics); null until one ran. Used by the report and the CLI.
   */
  get lastPredictions(): PredictionOutput | null {
    return this.#lastEval;
  }

  /**
   * HF's trainer.processing_class: what was passed as processing_class, else the tokenizer (as HF, where the
   * tokenizer argument becomes the processing_class).
   */
  get processing_class(): ProcessingClass {
    return this.#processingClass ?? this.tokenizer;
  }

  /** The last checkpoint written or resumed from by this Trainer (null when none). */
  get lastCheckpoint(): string | null {
    return this.#lastCheckpoint;
  }

  // ------------------------------------------------------------------------------------------- batches

  /**
   * A loader batch as the model gets it: through data_collator when given (features split from the batch,
   * the collated rows checked), else with labels padded to max_target_length when pad_to_max_length is set.
   */
  async #collate(batch: Batch): Promise<Batch> {
    const n = batch.labels.shape[0]!;
    if (this.data_collator) {
      const features = batchFeatures(batch);
      const out = await this.data_collator(features);
      if (out === null || typeof out !== 'object') throw new InvalidArgumentError(`Expected { pixel_values, labels } from data_collator but received ${describe(out)}`);
      const { pixel_values: pv, labels } = out;
      if (!(pv instanceof Tensor) || pv.dtype !== 'float32' || pv.shape.length !== 4 || pv.shape[0] !== n) {
        throw new InvalidArgumentError(`Expected float32 pixel_values [${n}, 3, H, W] from data_collator but received ${pv instanceof Tensor ? pv.toString() : describe(pv)}`);
      }
      if (!(labels instanceof Tensor) || labels.dtype !== 'int64' || labels.shape.length !== 2 || labels.shape[0] !== n) {
        throw new InvalidArgumentError(`Expected int64 labels [${n}, T] from data_collator (Tensor.int64(rows)) but received ${labels instanceof Tensor ? labels.toString() : describe(labels)}`);
      }
      return { ...batch, pixel_values: pv as Tensor<'float32'>, labels: labels as Tensor<'int64'> };
    }
    const width = this.args.max_target_length;
    if (!this.args.pad_to_max_length || batch.labels.shape[1]! >= width) return batch;
    const t = batch.labels.shape[1]!;
    const data = new BigInt64Array(n * width).fill(-100n);
    for (let i = 0; i < n; i++) data.set(batch.labels.data.subarray(i * t, (i + 1) * t), i * width);
    return { ...batch, labels: Tensor.from(data, [n, width]) as Tensor<'int64'> };
  }
}

function augmentationError(what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `cache_encoder_outputs needs the same pixel values for an image on every read, but ${what}: the training data looks randomly augmented ` +
      '(set_transform/with_transform/map, the data_collator or the image processor), or two items share an id. Cached states would keep one draw ' +
      'of the augmentation forever. Drop cache_encoder_outputs (freeze_encoder alone still skips the encoder\'s gradients), or make the transforms deterministic and the ids unique.',
  );
}

/** The examples of a loader batch, as a data_collator receives them. */
function batchFeatures(batch: Batch): CaptionFeature[] {
  const [n, t] = batch.labels.shape as [number, number];
  const imageShape = batch.pixel_values.shape.slice(1);
  const per = imageShape.reduce((a, b) => a * b, 1);
  const out: CaptionFeature[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from(batch.labels.data.subarray(i * t, (i + 1) * t), Number);
    let end = row.length;
    while (end > 0 && row[end - 1] === -100) end--;
    out.push({
      pixel_values: Tensor.from(batch.pixel_values.data.slice(i * per, (i + 1) * per), imageShape) as Tensor<'float32'>,
      labels: row.slice(0, end),
      id: batch.ids[i]!,
      text: batch.texts[i]!,
      captions: [...batch.captions[i]!],
    });
  }
  return out;
}

function isTokenizerLike(v: unknown): v is CaptionTokenizer {
  return typeof v === 'object' && v !== null && typeof (v as CaptionTokenizer).encode === 'function' && typeof (v as CaptionTokenizer).decode === 'function';
}

function isImageProcessorLike(v: unknown): v is CaptionImageProcessor {
  return typeof v === 'object' && v !== null && typeof (v as CaptionImageProcessor).preprocess === 'function';
}

/** processing_class's tokenizer and image processor. */
function splitProcessingClass(pc: unknown): { tokenizer?: CaptionTokenizer; image_processor?: CaptionImageProcessor } {
  if (pc === undefined) return {};
  if (isTokenizerLike(pc)) return { tokenizer: pc };
  if (isImageProcessorLike(pc)) return { image_processor: pc };
  if (typeof pc === 'object' && pc !== null && ('tokenizer' in pc || 'image_processor' in pc)) {
    const { tokenizer, image_processor } = pc as { tokenizer?: unknown; image_processor?: unknown };
    if (tokenizer !== undefined && !isTokenizerLike(tokenizer)) {
      throw new InvalidArgumentError(`Expected a tokenizer (with encode and decode) for processing_class.tokenizer but received ${describe(tokenizer)}`);
    }
    if (image_processor !== undefined && !isImageProcessorLike(image_processor)) {
      throw new InvalidArgumentError(`Expected an image processor (with preprocess) for processing_class.image_processor but received ${describe(image_processor)}`);
    }
    return { tokenizer: tokenizer as CaptionTokenizer | undefined, image_processor: image_processor as CaptionImageProcessor | undefined };
  }
  throw new InvalidArgumentError(`Expected a tokenizer, an image processor or { tokenizer, image_processor } for processing_class but received ${describe(pc)}`);
}

function formatLogLine(e: LogEntry): string {
  const parts = Object.entries(e)
    .filter(([k]) => k !== 'step')
    .map(([k, v]) => `${k} ${typeof v !== 'number' ? String(v) : Number.isInteger(v) ? v : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(4)}`);
  return `[step ${e.step}] ${parts.join(', ')}`;
}
