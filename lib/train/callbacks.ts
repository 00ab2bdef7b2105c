/**
 * Trainer callbacks with Hugging Face's event names and (args, state, control) arguments, TrainerState
 * (serialized as trainer_state.json with HF's fields) and TrainerControl (the flags callbacks set).
 */
import { InvalidArgumentError } from '../errors.js';
import { absoluteSteps, type TrainingArguments } from './training-args.js';

/** One entry of log_history: the logged values plus step (and epoch). */
export type LogEntry = Record<string, number> & { step: number };

export class TrainerState {
  epoch: number | null = null;
  global_step = 0;
  max_steps = 0;
  logging_steps = 500;
  eval_steps = 500;
  save_steps = 500;
  train_batch_size: number | null = null;
  num_train_epochs = 0;
  num_input_tokens_seen = 0;
  total_flos = 0;
  log_history: LogEntry[] = [];
  best_metric: number | null = null;
  best_global_step: number | null = null;
  best_model_checkpoint: string | null = null;
  is_local_process_zero = true;
  is_world_process_zero = true;
  is_hyper_param_search = false;
  trial_name: string | null = null;
  trial_params: Record<string, unknown> | null = null;
  stateful_callbacks: Record<string, unknown> = {};
  /** Data-parallel ranks of the run (a JS addition: resuming with another world size changes the data order). */
  world_size = 1;

  toJSON(): Record<string, unknown> {
    return {
      best_global_step: this.best_global_step,
      best_metric: this.best_metric,
      best_model_checkpoint: this.best_model_checkpoint,
      epoch: this.epoch,
      eval_steps: this.eval_steps,
      global_step: this.global_step,
      is_hyper_param_search: this.is_hyper_param_search,
      is_local_process_zero: this.is_local_process_zero,
      is_world_process_zero: this.is_world_process_zero,
      log_history: this.log_history,
      logging_steps: this.logging_steps,
      max_steps: this.max_steps,
      num_input_tokens_seen: this.num_input_tokens_seen,
      num_train_epochs: this.num_train_epochs,
      save_steps: this.save_steps,
      stateful_callbacks: this.stateful_callbacks,
      total_flos: this.total_flos,
      train_batch_size: this.train_batch_size,
      trial_name: this.trial_name,
      trial_params: this.trial_params,
      world_size: this.world_size,
    };
  }

  /** A state from trainer_state.json (unknown fields ignored). */
  static fromJSON(json: Record<string, unknown>): TrainerState {
    const s = new TrainerState();
    const target = s as unknown as Record<string, unknown>;
    for (const key of Object.keys(s)) if (json[key] !== undefined) target[key] = json[key];
    if (!Array.isArray(s.log_history)) s.log_history = [];
    return s;
  }
}

export class TrainerControl {
  should_training_stop = false;
  should_epoch_stop = false;
  should_save = false;
  should_evaluate = false;
  should_log = false;

  /** HF: reset at the start of training. */
  _new_training(): void {
    this.should_training_stop = false;
  }
  _new_epoch(): void {
    this.should_epoch_stop = false;
  }
  _new_step(): void {
    this.should_save = false;
    this.should_evaluate = false;
    this.should_log = false;
  }
}

/** What a callback receives besides (args, state, control), as the kwargs of HF's callbacks. */
export interface CallbackExtras {
  model?: unknown;
  tokenizer?: unknown;
  image_processor?: unknown;
  optimizer?: unknown;
  lr_scheduler?: unknown;
  train_dataloader?: unknown;
  eval_dataloader?: unknown;
  /** on_evaluate / on_predict: the metrics. */
  metrics?: Record<string, number>;
  /** on_log: the logged values. */
  logs?: Record<string, number>;
  /** on_step_end / on_substep_end: the loss of the step just taken. */
  loss?: number;
}

export type CallbackResult = void | TrainerControl | Promise<void | TrainerControl>;
export type CallbackFn = (args: TrainingArguments, state: TrainerState, control: TrainerControl, extras: CallbackExtras) => CallbackResult;

export const CALLBACK_EVENTS = [
  'on_init_end', 'on_train_begin', 'on_train_end', 'on_epoch_begin', 'on_epoch_end', 'on_step_begin', 'on_step_end',
  'on_substep_end', 'on_pre_optimizer_step', 'on_optimizer_step', 'on_evaluate', 'on_predict', 'on_save', 'on_log',
  'on_prediction_step',
] as const;
export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

/** A Trainer callback: any subset of the HF events. Return a TrainerControl (or mutate `control`) to steer training. */
export type TrainerCallback = Partial<Record<CallbackEvent, CallbackFn>> & {
  /** Saved in trainer_state.json's stateful_callbacks (HF ExportableState). */
  state?(): Record<string, unknown>;
  /** Restored from trainer_state.json on resume. */
  loadState?(state: Record<string, unknown>): void;
};

/** Calls the callbacks in order for each event; mirrors transformers' CallbackHandler (resets flags per event). */
export class CallbackHandler {
  readonly callbacks: TrainerCallback[] = [];

  constructor(callbacks: readonly TrainerCallback[]) {
    for (const cb of callbacks) this.add(cb);
  }

  add(cb: TrainerCallback): void {
    if (cb === null || typeof cb !== 'object') throw new InvalidArgumentError('Expected a callback object with on_* methods for callbacks');
    for (const key of Object.keys(cb)) {
      if (key.startsWith('on_') && !(CALLBACK_EVENTS as readonly string[]).includes(key)) {
        throw new InvalidArgumentError(`Unknown callback event '${key}' (events: ${CALLBACK_EVENTS.join(', ')})`);
      }
    }
    this.callbacks.push(cb);
  }

  async call(event: CallbackEvent, args: TrainingArguments, state: TrainerState, control: TrainerControl, extras: CallbackExtras = {}): Promise<TrainerControl> {
    switch (event) {
      case 'on_train_begin':
        control._new_training();
        break;
      case 'on_epoch_begin':
        control._new_epoch();
        break;
      case 'on_step_begin':
        control._new_step();
        break;
      default:
        break;
    }
    let current = control;
    for (const cb of this.callbacks) {
      const fn = cb[event];
      if (typeof fn !== 'function') continue;
      const result = await fn.call(cb, args, state, current, extras);
      if (result instanceof TrainerControl) current = result;
    }
    // As CallbackHandler: the flag that triggered the event is consumed after it ran.
    if (event === 'on_log') current.should_log = false;
    if (event === 'on_evaluate') current.should_evaluate = false;
    if (event === 'on_save') current.should_save = false;
    return current;
  }
}

/** transformers' DefaultFlowCallback: decides when to log, evaluate, save and stop. */
export class DefaultFlowCallback implements TrainerCallback {
  on_step_end(args: TrainingArguments, state: TrainerState, control: TrainerControl): TrainerControl {
    const step = state.global_step;
    if (step === 1 && args.logging_first_step) control.should_log = true;
    if (args.logging_strategy === 'steps' && step % state.logging_steps === 0) control.should_log = true;
    if (args.eval_strategy === 'steps' && step % state.eval_steps === 0 && args.eval_delay <= step) control.should_evaluate = true;
    if (args.save_strategy === 'steps' && state.save_steps > 0 && step % state.save_steps === 0) control.should_save = true;
    if (step >= state.max_steps) {
      control.should_training_stop = true;
      // Save at the end with the steps strategy (the epoch strategy saves in on_epoch_end, called next).
      if (args.save_strategy === 'steps') control.should_save = true;
    }
    return control;
  }

  on_epoch_end(args: TrainingArguments, state: TrainerState, control: TrainerControl): TrainerControl {
    if (args.logging_strategy === 'epoch') control.should_log = true;
    if (args.eval_strategy === 'epoch' && args.eval_delay <= (state.epoch ?? 0)) control.should_evaluate = true;
    if (args.save_strategy === 'epoch') control.should_save = true;
    return control;
  }
}

/** Fill the step intervals of the state from the arguments (ratios < 1 are fractions of max_steps). */
export function setStateIntervals(state: TrainerState, args: TrainingArguments): void {
  state.logging_steps = absoluteSteps(args.logging_steps, state.max_steps);
  state.eval_steps = absoluteSteps(args.eval_steps ?? args.logging_steps, state.max_steps);
  state.save_steps = absoluteSteps(args.save_steps, state.max_steps);
}

/** The metric a best-model comparison reads: `eval_` prefixed unless given with it (HF). */
export function metricKey(name: string): string {
  return name.startsWith('eval_') ? name : `eval_${name}`;
}

export interface EarlyStoppingOptions {
  /** Evaluations without improvement before stopping. Default 1. */
  early_stopping_patience?: number;
  /** How much better than the best a metric must be to count as an improvement. Default 0. */
  early_stopping_threshold?: number;
}

/**
 * Stops training when `metric_for_best_model` has not improved (by more than the threshold) for
 * `early_stopping_patience` evaluations, as transformers' EarlyStoppingCallback.
 */
export class EarlyStoppingCallback implements TrainerCallback {
  readonly early_stopping_patience: number;
  readonly early_stopping_threshold: number;
  early_stopping_patience_counter = 0;

  constructor(opts: EarlyStoppingOptions = {}) {
    const patience = opts.early_stopping_patience ?? 1;
    const threshold = opts.early_stopping_threshold ?? 0;
    if (!Number.isInteger(patience) || patience < 1) {
      throw new InvalidArgumentError(`Expected an integer >= 1 for early_stopping_patience but received ${String(patience)}`);
    }
    if (typeof threshold !== 'number' || !(threshold >= 0)) {
      throw new InvalidArgumentError(`Expected a number >= 0 for early_stopping_threshold but received ${String(threshold)}`);
    }
    this.early_stopping_patience = patience;
    this.early_stopping_threshold = threshold;
  }

  on_train_begin(args: TrainingArguments): void {
    if (args.metric_for_best_model === null) {
      throw new InvalidArgumentError('EarlyStoppingCallback needs metric_for_best_model (e.g. "loss" or "CIDEr") in the training arguments');
    }
    if (args.eval_strategy === 'no') {
      throw new InvalidArgumentError('EarlyStoppingCallback needs an eval_strategy (steps or epoch): it decides after each evaluation');
    }
  }

  on_evaluate(args: TrainingArguments, state: TrainerState, control: TrainerControl, extras: CallbackExtras): void {
    const key = metricKey(args.metric_for_best_model ?? 'loss');
    const value = extras.metrics?.[key];
    if (value === undefined) {
      process.emitWarning(`early stopping needs the metric ${key} but the evaluation did not report it; early stopping is disabled for this evaluation`);
      return;
    }
    const better = args.greater_is_better ?? !key.endsWith('loss');
    const improved = state.best_metric === null
      || ((better ? value > state.best_metric : value < state.best_metric) && Math.abs(value - state.best_metric) > this.early_stopping_threshold);
    this.early_stopping_patience_counter = improved ? 0 : this.early_stopping_patience_counter + 1;
    if (this.early_stopping_patience_counter >= this.early_stopping_patience) control.should_training_stop = true;
  }

  state(): Record<string, unknown> {
    return {
      args: { early_stopping_patience: this.early_stopping_patience, early_stopping_threshold: this.early_stopping_threshold },
      attributes: { early_stopping_patience_counter: this.early_stopping_patience_counter },
    };
  }

  loadState(state: Record<string, unknown>): void {
    const attrs = state.attributes as Record<string, unknown> | undefined;
    if (attrs && typeof attrs.early_stopping_patience_counter === 'number') this.early_stopping_patience_counter = attrs.early_stopping_patience_counter;
  }
}
