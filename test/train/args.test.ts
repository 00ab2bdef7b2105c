import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnsupportedConfigError } from '../../lib/errors.js';
import { editDistance, nearestName, resolveTrainingArguments, TRAINING_ARGS_DEFAULTS } from '../../lib/train/training-args.js';

describe('training arguments', () => {
  it('fills the Hugging Face defaults', () => {
    const a = resolveTrainingArguments({ output_dir: 'out' });
    expect(a.learning_rate).toBe(5e-5);
    expect(a.num_train_epochs).toBe(3);
    expect(a.max_steps).toBe(-1);
    expect(a.per_device_train_batch_size).toBe(8);
    expect(a.gradient_accumulation_steps).toBe(1);
    expect(a.adam_beta1).toBe(0.9);
    expect(a.adam_beta2).toBe(0.999);
    expect(a.adam_epsilon).toBe(1e-8);
    expect(a.max_grad_norm).toBe(1);
    expect(a.lr_scheduler_type).toBe('linear');
    expect(a.eval_strategy).toBe('no');
    expect(a.save_strategy).toBe('steps');
    expect(a.save_steps).toBe(500);
    expect(a.logging_steps).toBe(500);
    expect(a.seed).toBe(42);
    expect(a.report_to).toEqual([]);
    expect(Object.keys(TRAINING_ARGS_DEFAULTS)).toContain('label_smoothing_factor');
  });

  it('rejects an unknown key with its name and the right spelling', () => {
    expect(() => resolveTrainingArguments({ output_dir: 'o', learning_rat: 1e-4 } as never)).toThrow(/Unknown training argument 'learning_rat'; did you mean 'learning_rate'\?/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', per_device_batch_size: 4 } as never)).toThrow(/'per_device_batch_size'; did you mean 'per_device_(train|eval)_batch_size'/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', num_epochs: 2 } as never)).toThrow(InvalidArgumentError);
    // Far from anything: no suggestion.
    expect(() => resolveTrainingArguments({ output_dir: 'o', banana: 1 } as never)).toThrow(/^Unknown training argument 'banana'$/);
  });

  it('accepts evaluation_strategy as the old name of eval_strategy', () => {
    const a = resolveTrainingArguments({ output_dir: 'o', evaluation_strategy: 'epoch' });
    expect(a.eval_strategy).toBe('epoch');
    expect('evaluation_strategy' in a).toBe(false);
    expect(() => resolveTrainingArguments({ output_dir: 'o', evaluation_strategy: 'epoch', eval_strategy: 'steps' })).toThrow(/Both eval_strategy/);
  });

  it('validates values and names the key', () => {
    expect(() => resolveTrainingArguments({ output_dir: 'o', learning_rate: -1 })).toThrow(/learning_rate/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', per_device_train_batch_size: 0 })).toThrow(/per_device_train_batch_size/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', eval_strategy: 'step' as never })).toThrow(/eval_strategy/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', lr_scheduler_type: 'cosin' as never })).toThrow(/did you mean 'cosine'/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', report_to: 'wandb' })).toThrow(/report_to/);
    expect(() => resolveTrainingArguments({ output_dir: '' })).toThrow(/output_dir/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', fp16: true, bf16: true })).toThrow(/fp16 and bf16/);
  });

  it('normalizes report_to', () => {
    expect(resolveTrainingArguments({ output_dir: 'o', report_to: 'all' }).report_to).toEqual(['tensorboard']);
    expect(resolveTrainingArguments({ output_dir: 'o', report_to: 'none' }).report_to).toEqual([]);
    expect(resolveTrainingArguments({ output_dir: 'o', report_to: ['tensorboard'] }).report_to).toEqual(['tensorboard']);
  });

  it('fails on HF arguments that are not implemented, unless left at their default', () => {
    expect(() => resolveTrainingArguments({ output_dir: 'o', push_to_hub: true } as never)).toThrow(UnsupportedConfigError);
    expect(resolveTrainingArguments({ output_dir: 'o', push_to_hub: false } as never).output_dir).toBe('o');
    expect(() => resolveTrainingArguments({ output_dir: 'o', bf16_full_eval: true } as never)).toThrow(/bf16_full_eval = true is not supported/);
    expect(resolveTrainingArguments({ output_dir: 'o', fp16: true, half_precision_backend: 'auto', fp16_opt_level: 'O1' } as never).fp16).toBe(true);
  });

  it('checks load_best_model_at_end like TrainingArguments.__post_init__', () => {
    expect(() => resolveTrainingArguments({ output_dir: 'o', load_best_model_at_end: true })).toThrow(/eval_strategy/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', load_best_model_at_end: true, eval_strategy: 'steps', save_strategy: 'epoch' })).toThrow(/save_strategy/);
    expect(() => resolveTrainingArguments({ output_dir: 'o', load_best_model_at_end: true, eval_strategy: 'steps', eval_steps: 30, save_steps: 50 })).toThrow(/multiple of eval_steps/);
    const a = resolveTrainingArguments({ output_dir: 'o', load_best_model_at_end: true, eval_strategy: 'steps', eval_steps: 25, save_steps: 50 });
    expect(a.metric_for_best_model).toBe('loss');
    expect(a.greater_is_better).toBe(false);
    expect(resolveTrainingArguments({ output_dir: 'o', metric_for_best_model: 'CIDEr' }).greater_is_better).toBe(true);
    // eval_steps defaults to logging_steps (HF).
    expect(resolveTrainingArguments({ output_dir: 'o', eval_strategy: 'steps', logging_steps: 7 }).eval_steps).toBe(7);
  });

  it('edit distance and suggestions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(nearestName('warmup_step', ['warmup_steps', 'warmup_ratio'])).toBe('warmup_steps');
    expect(nearestName('zzzzzz', ['warmup_steps'])).toBeUndefined();
  });
});
