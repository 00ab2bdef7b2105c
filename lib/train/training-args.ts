/**
 * Training arguments with the names and defaults of Hugging Face transformers' TrainingArguments /
 * Seq2SeqTrainingArguments. `resolveTrainingArguments` validates a user object: unknown keys fail with the
 * key's name and, for a near miss, the right spelling; HF arguments that are not implemented here fail only
 * when set to something other than their default.
 */
import { InvalidArgumentError, UnsupportedConfigError, describe } from '../errors.js';
import { SCHEDULER_TYPES, type SchedulerType } from './schedules.js';

export type IntervalStrategy = 'no' | 'steps' | 'epoch';
/** Logging integrations (the JSONL log in output_dir is always written). */
export type ReportTarget = 'tensorboard';

/** Resolved training arguments (every field set). HF names; see docs/training.md for the table. */
export interface TrainingArguments {
  output_dir: string;
  overwrite_output_dir: boolean;
  do_train: boolean;
  do_eval: boolean;
  do_predict: boolean;
  num_train_epochs: number;
  max_steps: number;
  per_device_train_batch_size: number;
  per_device_eval_batch_size: number;
  gradient_accumulation_steps: number;
  learning_rate: number;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  max_grad_norm: number;
  optim: string;
  lr_scheduler_type: SchedulerType;
  lr_scheduler_kwargs: { num_cycles?: number; power?: number; lr_end?: number; timescale?: number };
  warmup_steps: number;
  warmup_ratio: number;
  eval_strategy: IntervalStrategy;
  eval_steps: number | null;
  eval_delay: number;
  eval_on_start: boolean;
  logging_dir: string | null;
  logging_strategy: IntervalStrategy;
  logging_steps: number;
  logging_first_step: boolean;
  logging_nan_inf_filter: boolean;
  save_strategy: IntervalStrategy;
  save_steps: number;
  save_total_limit: number | null;
  save_only_model: boolean;
  load_best_model_at_end: boolean;
  metric_for_best_model: string | null;
  greater_is_better: boolean | null;
  predict_with_generate: boolean;
  generation_max_length: number | null;
  generation_num_beams: number | null;
  seed: number;
  data_seed: number | null;
  bf16: boolean;
  fp16: boolean;
  label_smoothing_factor: number;
  dataloader_num_workers: number;
  dataloader_drop_last: boolean;
  dataloader_prefetch_factor: number | null;
  report_to: ReportTarget[];
  resume_from_checkpoint: string | boolean | null;
  run_name: string | null;
  disable_tqdm: boolean;
  /** Label length cap for the data loader (JS-side addition; HF tutorials pass it to the tokenizer). */
  max_target_length: number;
  /**
   * Pad every label row to max_target_length (with -100, ignored by the loss), as the HF tutorials'
   * `tokenizer(captions, padding="max_length", max_length=max_target_length)` and the HF example scripts'
   * `pad_to_max_length` do. Default false: rows are padded to the longest caption of the batch (HF's
   * DataCollatorForSeq2Seq). The loss is the same either way; fixed shapes are what this buys.
   */
  pad_to_max_length: boolean;
  /**
   * JS addition: freeze the vision tower for the run, as HF users do with `model.encoder.requires_grad_(False)`
   * (`model.vision_model` for BLIP, `model.git.image_encoder` for GIT): no gradients and no AdamW state for its
   * parameters, and its forward runs under no-grad. The rest (VisionEncoderDecoder's enc_to_dec_proj, GIT's
   * visual_projection) trains. The Trainer restores requires_grad when fit() ends.
   */
  freeze_encoder: boolean;
  /**
   * JS addition (needs freeze_encoder): compute the frozen tower's last hidden state of each image once, keep it
   * in output_dir/encoder_cache, and train on it in later epochs (and after a resume). Training data that gives
   * an image other pixel values on another read (random augmentation) is refused.
   */
  cache_encoder_outputs: boolean;
  /** Storage dtype of the encoder cache: 'float32' (exact) or 'bfloat16' (half the disk and reads). */
  cache_encoder_dtype: 'float32' | 'bfloat16';
  /**
   * Data-parallel (see docs/training.md): this process's rank on its node; -1 = read LOCAL_RANK from the
   * environment. The launch itself (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) always comes from the environment.
   */
  local_rank: number;
  /** 'gloo' (CPU) or 'nccl' (CUDA); null: nccl when the model is on CUDA, else gloo. */
  ddp_backend: 'gloo' | 'nccl' | null;
  /** Seconds the rendezvous and each collective may take before the run fails (HF's 1800). */
  ddp_timeout: number;
  /**
   * Accepted for HF configs. Every trainable parameter's gradient is summed each step, and one that got no
   * gradient on any rank is skipped by AdamW as in one process, so unused parameters need no search.
   */
  ddp_find_unused_parameters: boolean | null;
  /** Largest flat buffer of one gradient all-reduce, in MB (null: 25, as PyTorch's DDP). */
  ddp_bucket_cap_mb: number | null;
  /** Accepted for HF configs: rank 0's buffers are copied to every rank once at the start (they do not train). */
  ddp_broadcast_buffers: boolean | null;
}

/** What users pass: any subset (output_dir required), `evaluation_strategy` accepted as the old alias. */
export type TrainingArgumentsInput = Partial<Omit<TrainingArguments, 'report_to'>> & {
  output_dir: string;
  evaluation_strategy?: IntervalStrategy;
  report_to?: string | string[] | null;
};

export const TRAINING_ARGS_DEFAULTS: Omit<TrainingArguments, 'output_dir'> = {
  overwrite_output_dir: false,
  do_train: false,
  do_eval: false,
  do_predict: false,
  num_train_epochs: 3,
  max_steps: -1,
  per_device_train_batch_size: 8,
  per_device_eval_batch_size: 8,
  gradient_accumulation_steps: 1,
  learning_rate: 5e-5,
  weight_decay: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  max_grad_norm: 1.0,
  optim: 'adamw_torch',
  lr_scheduler_type: 'linear',
  lr_scheduler_kwargs: {},
  warmup_steps: 0,
  warmup_ratio: 0,
  eval_strategy: 'no',
  eval_steps: null,
  eval_delay: 0,
  eval_on_start: false,
  logging_dir: null,
  logging_strategy: 'steps',
  logging_steps: 500,
  logging_first_step: false,
  logging_nan_inf_filter: true,
  save_strategy: 'steps',
  save_steps: 500,
  save_total_limit: null,
  save_only_model: false,
  load_best_model_at_end: false,
  metric_for_best_model: null,
  greater_is_better: null,
  predict_with_generate: false,
  generation_max_length: null,
  generation_num_beams: null,
  seed: 42,
  data_seed: null,
  bf16: false,
  fp16: false,
  label_smoothing_factor: 0,
  dataloader_num_workers: 0,
  dataloader_drop_last: false,
  dataloader_prefetch_factor: null,
  report_to: [],
  resume_from_checkpoint: null,
  run_name: null,
  disable_tqdm: false,
  max_target_length: 64,
  pad_to_max_length: false,
  freeze_encoder: false,
  cache_encoder_outputs: false,
  cache_encoder_dtype: 'float32',
  local_rank: -1,
  ddp_backend: null,
  ddp_timeout: 1800,
  ddp_find_unused_parameters: null,
  ddp_bucket_cap_mb: null,
  ddp_broadcast_buffers: null,
};

/**
 * HF arguments that exist in transformers but are not implemented here, with the default they must keep.
 * Passing the default is accepted (configs copied from Python keep working); anything else fails.
 */
export const UNSUPPORTED_ARGS: Readonly<Record<string, unknown>> = Object.freeze({
  push_to_hub: false,
  hub_model_id: null,
  hub_token: null,
  hub_strategy: 'every_save',
  deepspeed: null,
  fsdp: '',
  torch_compile: false,
  gradient_checkpointing: false,
  group_by_length: false,
  sortish_sampler: false,
  eval_accumulation_steps: null,
  tf32: null,
  use_cpu: false,
  no_cuda: false,
  jit_mode_eval: false,
  full_determinism: false,
  auto_find_batch_size: false,
  generation_config: null,
  include_inputs_for_metrics: false,
  prediction_loss_only: false,
  adafactor: false,
  neftune_noise_alpha: null,
  torch_empty_cache_steps: null,
  fp16_full_eval: false,
  bf16_full_eval: false,
  half_precision_backend: 'auto',
});

/** HF arguments accepted and ignored because they have no effect here (documented in docs/training.md). */
const IGNORED_ARGS = new Set([
  'logging_dir_name', 'skip_memory_metrics', 'dataloader_pin_memory', 'dataloader_persistent_workers',
  'disable_tqdm_bar', 'log_level', 'log_level_replica', 'log_on_each_node', 'save_on_each_node', 'save_safetensors',
  'ignore_data_skip', 'past_index', 'include_num_input_tokens_seen', 'fp16_opt_level',
  // Batches are built from whole items, never column-pruned, and the labels are always `labels`.
  'remove_unused_columns',
]);

/** HF arguments accepted at the values that mean what this Trainer does. */
const ACCEPTED_VALUES: Readonly<Record<string, readonly string[]>> = { label_names: ['null', '["labels"]'] };

const STRATEGIES: readonly IntervalStrategy[] = ['no', 'steps', 'epoch'];
const OPTIMIZERS = new Set(['adamw_torch', 'adamw_hf', 'adamw_torch_fused', 'adamw']);
const REPORT_TARGETS: readonly ReportTarget[] = ['tensorboard'];

/** Levenshtein distance (for "did you mean"). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate when it is close enough to be a typo, else undefined. */
export function nearestName(key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const k = key.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(k, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(key.length / 4));
  return bestD <= limit ? best : undefined;
}

function bad(what: string, key: string, value: unknown): never {
  throw new InvalidArgumentError(`Expected ${what} for ${key} but received ${describe(value)}`);
}

function num(v: unknown, key: string, opts: { int?: boolean; min?: number; max?: number; minExclusive?: boolean } = {}): number {
  const { int = false, min, max, minExclusive = false } = opts;
  const what = `${int ? 'an integer' : 'a number'}${min !== undefined ? (minExclusive ? ` > ${min}` : ` >= ${min}`) : ''}${max !== undefined ? ` <= ${max}` : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v))) bad(what, key, v);
  if (min !== undefined && (minExclusive ? v <= min : v < min)) bad(what, key, v);
  if (max !== undefined && v > max) bad(what, key, v);
  return v;
}

function bool(v: unknown, key: string): boolean {
  if (typeof v !== 'boolean') bad('true or false', key, v);
  return v;
}

function strategy(v: unknown, key: string): IntervalStrategy {
  if (typeof v !== 'string' || !(STRATEGIES as readonly string[]).includes(v)) bad(`one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}`, key, v);
  return v as IntervalStrategy;
}

/** A steps value: an integer >= 1, or (HF) a ratio in (0, 1) of the total training steps. */
function stepsValue(v: unknown, key: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (v >= 1 && !Number.isInteger(v))) {
    bad('an integer >= 1 or a ratio in (0, 1) of the training steps', key, v);
  }
  return v;
}

function normalizeReportTo(v: unknown): ReportTarget[] {
  if (v === null || v === undefined || v === 'none') return [];
  if (v === 'all') return ['tensorboard'];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) bad("'none', 'all', 'tensorboard' or a list of them", 'report_to', v);
  const out: ReportTarget[] = [];
  for (const t of list) {
    if (t === 'none') continue;
    if (t === 'all') {
      if (!out.includes('tensorboard')) out.push('tensorboard');
      continue;
    }
    if (typeof t !== 'string' || !(REPORT_TARGETS as readonly string[]).includes(t)) {
      const near = typeof t === 'string' ? nearestName(t, REPORT_TARGETS) : undefined;
      throw new InvalidArgumentError(
        `Expected 'none', 'all' or one of ${REPORT_TARGETS.join(', ')} in report_to but received ${describe(t)}` +
          `${near ? `; did you mean '${near}'?` : ''} (wandb, mlflow and other integrations are not available here)`,
      );
    }
    if (!out.includes(t as ReportTarget)) out.push(t as ReportTarget);
  }
  return out;
}

const KNOWN_KEYS = new Set<string>([...Object.keys(TRAINING_ARGS_DEFAULTS), 'output_dir', 'evaluation_strategy']);

/** Every name accepted as a training argument (for suggestions and docs). */
export function trainingArgumentNames(): string[] {
  return [...KNOWN_KEYS, ...Object.keys(UNSUPPORTED_ARGS), ...IGNORED_ARGS].sort();
}

/**
 * Validate and complete training arguments. Throws InvalidArgumentError naming the key (with a suggestion for
 * a near miss) and UnsupportedConfigError for HF arguments this implementation does not have.
 */
export function resolveTrainingArguments(input: TrainingArgumentsInput): TrainingArguments {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) bad('an object of training arguments', 'args', input);
  const raw = input as unknown as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (raw[key] === undefined) continue;
    if (KNOWN_KEYS.has(key) || IGNORED_ARGS.has(key)) continue;
    if (key in ACCEPTED_VALUES) {
      if (ACCEPTED_VALUES[key]!.includes(JSON.stringify(raw[key]))) continue;
      throw new UnsupportedConfigError(`Training argument ${key} = ${JSON.stringify(raw[key])} is not supported by this Trainer (accepted: ${ACCEPTED_VALUES[key]!.join(', ')})`);
    }
    if (key in UNSUPPORTED_ARGS) {
      if (JSON.stringify(raw[key]) === JSON.stringify(UNSUPPORTED_ARGS[key])) continue;
      throw new UnsupportedConfigError(`Training argument ${key} = ${JSON.stringify(raw[key])} is not supported by this Trainer (leave it at ${JSON.stringify(UNSUPPORTED_ARGS[key])})`);
    }
    const near = nearestName(key, [...KNOWN_KEYS, ...Object.keys(UNSUPPORTED_ARGS), ...Object.keys(ACCEPTED_VALUES)]);
    throw new InvalidArgumentError(`Unknown training argument '${key}'${near ? `; did you mean '${near}'?` : ''}`);
  }
  if (raw.evaluation_strategy !== undefined && raw.eval_strategy !== undefined && raw.evaluation_strategy !== raw.eval_strategy) {
    throw new InvalidArgumentError(`Both eval_strategy (${JSON.stringify(raw.eval_strategy)}) and its old name evaluation_strategy (${JSON.stringify(raw.evaluation_strategy)}) are set; keep eval_strategy`);
  }
  const given = Object.fromEntries(Object.entries(raw).filter(([k, v]) => v !== undefined && KNOWN_KEYS.has(k)));
  if (given.evaluation_strategy !== undefined) {
    given.eval_strategy ??= given.evaluation_strategy;
    delete given.evaluation_strategy;
  }
  const a = { ...TRAINING_ARGS_DEFAULTS, ...given } as unknown as Record<string, unknown>;

  if (typeof a.output_dir !== 'string' || a.output_dir.length === 0) bad('a folder path', 'output_dir', a.output_dir);
  for (const k of ['overwrite_output_dir', 'do_train', 'do_eval', 'do_predict', 'logging_first_step', 'logging_nan_inf_filter', 'save_only_model',
    'load_best_model_at_end', 'predict_with_generate', 'bf16', 'fp16', 'dataloader_drop_last', 'disable_tqdm', 'eval_on_start', 'pad_to_max_length',
    'freeze_encoder', 'cache_encoder_outputs']) bool(a[k], k);
  if (a.cache_encoder_dtype !== 'float32' && a.cache_encoder_dtype !== 'bfloat16') bad("'float32' or 'bfloat16'", 'cache_encoder_dtype', a.cache_encoder_dtype);
  num(a.local_rank, 'local_rank', { int: true, min: -1 });
  if (a.ddp_backend !== null && a.ddp_backend !== 'gloo' && a.ddp_backend !== 'nccl') bad("'gloo', 'nccl' or null", 'ddp_backend', a.ddp_backend);
  num(a.ddp_timeout, 'ddp_timeout', { min: 1 });
  for (const k of ['ddp_find_unused_parameters', 'ddp_broadcast_buffers']) if (a[k] !== null) bool(a[k], k);
  if (a.ddp_bucket_cap_mb !== null) num(a.ddp_bucket_cap_mb, 'ddp_bucket_cap_mb', { min: 0, minExclusive: true });
  num(a.num_train_epochs, 'num_train_epochs', { min: 0 });
  num(a.max_steps, 'max_steps', { int: true, min: -1 });
  if (a.max_steps === 0) bad('a positive integer (or -1 to use num_train_epochs)', 'max_steps', a.max_steps);
  if ((a.max_steps as number) < 0 && (a.num_train_epochs as number) <= 0) bad('a positive number (or set max_steps)', 'num_train_epochs', a.num_train_epochs);
  for (const k of ['per_device_train_batch_size', 'per_device_eval_batch_size', 'gradient_accumulation_steps']) num(a[k], k, { int: true, min: 1 });
  num(a.learning_rate, 'learning_rate', { min: 0 });
  num(a.weight_decay, 'weight_decay', { min: 0 });
  num(a.adam_beta1, 'adam_beta1', { min: 0, max: 0.999999999 });
  num(a.adam_beta2, 'adam_beta2', { min: 0, max: 0.999999999 });
  num(a.adam_epsilon, 'adam_epsilon', { min: 0 });
  num(a.max_grad_norm, 'max_grad_norm', { min: 0 });
  if (typeof a.optim !== 'string' || !OPTIMIZERS.has(a.optim)) {
    throw new UnsupportedConfigError(`optim = ${JSON.stringify(a.optim)} is not supported (AdamW only: ${[...OPTIMIZERS].join(', ')})`);
  }
  if (typeof a.lr_scheduler_type !== 'string' || !(SCHEDULER_TYPES as readonly string[]).includes(a.lr_scheduler_type)) {
    const near = typeof a.lr_scheduler_type === 'string' ? nearestName(a.lr_scheduler_type, SCHEDULER_TYPES) : undefined;
    throw new InvalidArgumentError(`Expected one of ${SCHEDULER_TYPES.join(', ')} for lr_scheduler_type but received ${describe(a.lr_scheduler_type)}${near ? `; did you mean '${near}'?` : ''}`);
  }
  const kw = a.lr_scheduler_kwargs;
  if (kw === null || typeof kw !== 'object' || Array.isArray(kw)) bad('an object', 'lr_scheduler_kwargs', kw);
  for (const [k, v] of Object.entries(kw as Record<string, unknown>)) {
    if (!['num_cycles', 'power', 'lr_end', 'timescale'].includes(k)) {
      throw new InvalidArgumentError(`Unknown lr_scheduler_kwargs key '${k}' (supported: num_cycles, power, lr_end, timescale)`);
    }
    num(v, `lr_scheduler_kwargs.${k}`, { min: 0 });
  }
  num(a.warmup_steps, 'warmup_steps', { int: true, min: 0 });
  num(a.warmup_ratio, 'warmup_ratio', { min: 0, max: 1 });
  a.eval_strategy = strategy(a.eval_strategy, 'eval_strategy');
  a.logging_strategy = strategy(a.logging_strategy, 'logging_strategy');
  a.save_strategy = strategy(a.save_strategy, 'save_strategy');
  a.logging_steps = stepsValue(a.logging_steps, 'logging_steps');
  a.save_steps = stepsValue(a.save_steps, 'save_steps');
  if (a.eval_steps !== null) stepsValue(a.eval_steps, 'eval_steps');
  if (a.eval_strategy === 'steps' && a.eval_steps === null) a.eval_steps = a.logging_steps; // HF: eval_steps defaults to logging_steps
  num(a.eval_delay, 'eval_delay', { min: 0 });
  if (a.logging_dir !== null && typeof a.logging_dir !== 'string') bad('a folder path or null', 'logging_dir', a.logging_dir);
  if (a.save_total_limit !== null) num(a.save_total_limit, 'save_total_limit', { int: true, min: 1 });
  if (a.metric_for_best_model !== null && (typeof a.metric_for_best_model !== 'string' || !a.metric_for_best_model)) bad('a metric name or null', 'metric_for_best_model', a.metric_for_best_model);
  if (a.greater_is_better !== null) bool(a.greater_is_better, 'greater_is_better');
  if (a.generation_max_length !== null) num(a.generation_max_length, 'generation_max_length', { int: true, min: 1 });
  if (a.generation_num_beams !== null) num(a.generation_num_beams, 'generation_num_beams', { int: true, min: 1 });
  num(a.seed, 'seed', { int: true, min: 0 });
  if (a.data_seed !== null) num(a.data_seed, 'data_seed', { int: true, min: 0 });
  num(a.label_smoothing_factor, 'label_smoothing_factor', { min: 0, max: 0.999999 });
  num(a.dataloader_num_workers, 'dataloader_num_workers', { int: true, min: 0 });
  if (a.dataloader_prefetch_factor !== null) num(a.dataloader_prefetch_factor, 'dataloader_prefetch_factor', { int: true, min: 1 });
  a.report_to = normalizeReportTo(a.report_to);
  const r = a.resume_from_checkpoint;
  if (r !== null && typeof r !== 'boolean' && (typeof r !== 'string' || !r)) bad('true, false, null or a checkpoint folder', 'resume_from_checkpoint', r);
  if (a.run_name !== null && typeof a.run_name !== 'string') bad('a string or null', 'run_name', a.run_name);
  num(a.max_target_length, 'max_target_length', { int: true, min: 2 });

  // Cross-field rules, as TrainingArguments.__post_init__ checks them.
  if (a.fp16 && a.bf16) throw new InvalidArgumentError('fp16 and bf16 are both true; choose one');
  if (a.cache_encoder_outputs && !a.freeze_encoder) {
    throw new InvalidArgumentError('cache_encoder_outputs needs freeze_encoder = true: cached encoder outputs are only right while the encoder does not change; set freeze_encoder: true too (or drop cache_encoder_outputs)');
  }
  if (a.load_best_model_at_end) {
    if (a.eval_strategy === 'no') throw new InvalidArgumentError('load_best_model_at_end needs an eval_strategy (steps or epoch) to find the best model');
    if (a.eval_strategy !== a.save_strategy) {
      throw new InvalidArgumentError(`load_best_model_at_end needs save_strategy to match eval_strategy but received save_strategy '${a.save_strategy}' and eval_strategy '${a.eval_strategy}'`);
    }
    if (a.eval_strategy === 'steps') {
      const ev = a.eval_steps as number;
      const sv = a.save_steps as number;
      const ratios = ev < 1 || sv < 1;
      if (!ratios && sv % ev !== 0) {
        throw new InvalidArgumentError(`load_best_model_at_end needs save_steps to be a multiple of eval_steps but received save_steps ${sv} and eval_steps ${ev}`);
      }
    }
    a.metric_for_best_model ??= 'loss';
  }
  if (a.metric_for_best_model !== null && a.greater_is_better === null) {
    a.greater_is_better = !(a.metric_for_best_model as string).endsWith('loss');
  }
  return a as unknown as TrainingArguments;
}

/** Turn a steps value that may be a ratio (< 1) into a step count for a run of maxSteps (HF rounds up). */
export function absoluteSteps(value: number, maxSteps: number): number {
  return value < 1 ? Math.max(1, Math.ceil(maxSteps * value)) : value;
}

/** HF's Seq2SeqTrainingArguments input: the same object as TrainingArgumentsInput (one argument set serves both). */
export type Seq2SeqTrainingArgumentsInput = TrainingArgumentsInput;

// The instance has every resolved training argument as a field (declaration merging with the class below).
export interface Seq2SeqTrainingArguments extends TrainingArguments {}

/**
 * Hugging Face's `Seq2SeqTrainingArguments(output_dir=..., predict_with_generate=True, ...)` as
 * `new Seq2SeqTrainingArguments({ output_dir, predict_with_generate: true, ... })`: validated at once
 * (resolveTrainingArguments: unknown keys, near misses, unsupported values fail here), every field then set
 * with its default. Pass it as a Trainer's `args`; a plain object works the same. TrainingArguments has no
 * separate class because one argument set serves the Trainer and the Seq2SeqTrainer (they are one class here).
 */
export class Seq2SeqTrainingArguments {
  constructor(args: Seq2SeqTrainingArgumentsInput) {
    Object.assign(this, resolveTrainingArguments(args));
  }

  /** HF's to_dict(): the arguments as a plain object (what training_args.json holds). */
  to_dict(): TrainingArguments {
    return { ...this } as TrainingArguments;
  }
}
