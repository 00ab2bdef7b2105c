/**
 * Learning-rate schedules with the formulas of transformers.optimization (get_scheduler): each returns the
 * multiplier of the base learning rate after `step` scheduler steps. The HF Trainer steps the scheduler after
 * every optimizer step, so optimizer step k (1-based) runs with lr = base * lambda(k - 1).
 */
import { InvalidArgumentError } from '../errors.js';

export type SchedulerType =
  | 'linear'
  | 'cosine'
  | 'cosine_with_restarts'
  | 'polynomial'
  | 'constant'
  | 'constant_with_warmup'
  | 'inverse_sqrt';

export const SCHEDULER_TYPES: readonly SchedulerType[] = [
  'linear', 'cosine', 'cosine_with_restarts', 'polynomial', 'constant', 'constant_with_warmup', 'inverse_sqrt',
];

export interface ScheduleOptions {
  num_warmup_steps: number;
  num_training_steps: number;
  /** cosine: 0.5 (half a cosine, HF default); cosine_with_restarts: 1. */
  num_cycles?: number;
  /** polynomial: the power (HF default 1.0). */
  power?: number;
  /** polynomial: the final learning rate (HF default 1e-7). */
  lr_end?: number;
  /** polynomial needs the base learning rate (optimizer.defaults['lr']). */
  lr_init?: number;
  /** inverse_sqrt: HF default num_warmup_steps, or 10000 without warmup. */
  timescale?: number;
}

function warmupFactor(step: number, warmup: number): number {
  return step / Math.max(1, warmup);
}

/** Multiplier of the base learning rate after `step` scheduler steps. */
export function lrLambda(type: SchedulerType, step: number, o: ScheduleOptions): number {
  const warmup = o.num_warmup_steps;
  const total = o.num_training_steps;
  switch (type) {
    case 'constant':
      return 1;
    case 'constant_with_warmup':
      return step < warmup ? warmupFactor(step, warmup) : 1;
    case 'linear':
      if (step < warmup) return warmupFactor(step, warmup);
      return Math.max(0, (total - step) / Math.max(1, total - warmup));
    case 'cosine': {
      if (step < warmup) return warmupFactor(step, warmup);
      const cycles = o.num_cycles ?? 0.5;
      const progress = (step - warmup) / Math.max(1, total - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
    }
    case 'cosine_with_restarts': {
      if (step < warmup) return warmupFactor(step, warmup);
      const cycles = o.num_cycles ?? 1;
      const progress = (step - warmup) / Math.max(1, total - warmup);
      if (progress >= 1) return 0;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * ((cycles * progress) % 1))));
    }
    case 'polynomial': {
      const lrInit = o.lr_init;
      const lrEnd = o.lr_end ?? 1e-7;
      const power = o.power ?? 1.0;
      if (lrInit === undefined) throw new InvalidArgumentError('The polynomial schedule needs lr_init (the base learning rate)');
      if (!(lrInit > lrEnd)) throw new InvalidArgumentError(`lr_end (${lrEnd}) must be smaller than the initial learning rate (${lrInit})`);
      if (step < warmup) return warmupFactor(step, warmup);
      if (step > total) return lrEnd / lrInit;
      const decaySteps = total - warmup;
      const pctRemaining = 1 - (step - warmup) / decaySteps;
      return ((lrInit - lrEnd) * pctRemaining ** power + lrEnd) / lrInit;
    }
    case 'inverse_sqrt': {
      const timescale = o.timescale ?? (warmup || 10_000);
      if (step < warmup) return warmupFactor(step, warmup);
      const shift = timescale - warmup;
      return 1 / Math.sqrt((step + shift) / timescale);
    }
    default:
      throw new InvalidArgumentError(`Expected one of ${SCHEDULER_TYPES.join(', ')} for lr_scheduler_type but received ${String(type)}`);
  }
}

/** HF TrainingArguments.get_warmup_steps: warmup_steps when > 0, else ceil(num_training_steps * warmup_ratio). */
export function warmupSteps(numTrainingSteps: number, warmup_steps: number, warmup_ratio: number): number {
  return warmup_steps > 0 ? warmup_steps : Math.ceil(numTrainingSteps * warmup_ratio);
}

/** A schedule bound to its base learning rate: what the Trainer keeps and saves as scheduler.json. */
export class LearningRateSchedule {
  constructor(
    readonly type: SchedulerType,
    readonly base_lr: number,
    readonly options: ScheduleOptions,
  ) {
    // Validate eagerly (polynomial checks lr_end < lr).
    lrLambda(type, 0, this.withInit());
  }

  private withInit(): ScheduleOptions {
    return { ...this.options, lr_init: this.options.lr_init ?? this.base_lr };
  }

  /** Learning rate after `step` scheduler steps (the one optimizer step step+1 uses). */
  at(step: number): number {
    return this.base_lr * lrLambda(this.type, step, this.withInit());
  }

  /** What scheduler.json holds (torch LambdaLR's last_epoch is the number of scheduler steps taken). */
  toJSON(lastEpoch: number): Record<string, unknown> {
    return {
      lr_scheduler_type: this.type,
      base_lrs: [this.base_lr],
      last_epoch: lastEpoch,
      _step_count: lastEpoch + 1,
      _last_lr: [this.at(lastEpoch)],
      ...this.options,
    };
  }
}
