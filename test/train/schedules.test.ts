import { describe, expect, it } from 'vitest';
import { LearningRateSchedule, lrLambda, warmupSteps } from '../../lib/train/schedules.js';

// Expected values worked out from transformers.optimization's lr_lambda functions by hand.
describe('learning-rate schedules (transformers.optimization formulas)', () => {
  const o = { num_warmup_steps: 10, num_training_steps: 110 };

  it('linear', () => {
    expect(lrLambda('linear', 0, o)).toBe(0);
    expect(lrLambda('linear', 5, o)).toBe(0.5);
    expect(lrLambda('linear', 10, o)).toBe(1);
    expect(lrLambda('linear', 60, o)).toBe(0.5);
    expect(lrLambda('linear', 110, o)).toBe(0);
    expect(lrLambda('linear', 200, o)).toBe(0);
    // No warmup: max(1, warmup) in the denominator.
    expect(lrLambda('linear', 0, { num_warmup_steps: 0, num_training_steps: 4 })).toBe(1);
    expect(lrLambda('linear', 1, { num_warmup_steps: 0, num_training_steps: 4 })).toBe(0.75);
  });

  it('cosine (half a cycle)', () => {
    expect(lrLambda('cosine', 5, o)).toBe(0.5);
    expect(lrLambda('cosine', 10, o)).toBe(1);
    expect(lrLambda('cosine', 60, o)).toBeCloseTo(0.5, 15);
    expect(lrLambda('cosine', 35, o)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.25)), 15);
    expect(lrLambda('cosine', 110, o)).toBeCloseTo(0, 15);
    expect(lrLambda('cosine', 60, { ...o, num_cycles: 1 })).toBeCloseTo(0, 15);
  });

  it('cosine_with_restarts', () => {
    const r = { ...o, num_cycles: 2 };
    expect(lrLambda('cosine_with_restarts', 10, r)).toBe(1);
    expect(lrLambda('cosine_with_restarts', 35, r)).toBeCloseTo(0.5, 15);
    expect(lrLambda('cosine_with_restarts', 60, r)).toBeCloseTo(1, 15); // restart
    expect(lrLambda('cosine_with_restarts', 110, r)).toBe(0);
  });

  it('constant and constant_with_warmup', () => {
    expect(lrLambda('constant', 0, o)).toBe(1);
    expect(lrLambda('constant', 1000, o)).toBe(1);
    expect(lrLambda('constant_with_warmup', 2, o)).toBe(0.2);
    expect(lrLambda('constant_with_warmup', 10, o)).toBe(1);
    expect(lrLambda('constant_with_warmup', 500, o)).toBe(1);
  });

  it('polynomial (lr_end 1e-7, power 1 by default)', () => {
    const p = { ...o, lr_init: 1e-3 };
    expect(lrLambda('polynomial', 5, p)).toBe(0.5);
    expect(lrLambda('polynomial', 10, p)).toBeCloseTo(1, 15);
    expect(lrLambda('polynomial', 60, p)).toBeCloseTo(((1e-3 - 1e-7) * 0.5 + 1e-7) / 1e-3, 15);
    expect(lrLambda('polynomial', 110, p)).toBeCloseTo(1e-7 / 1e-3, 15);
    expect(lrLambda('polynomial', 111, p)).toBeCloseTo(1e-7 / 1e-3, 15);
    expect(lrLambda('polynomial', 60, { ...p, power: 2, lr_end: 0 })).toBeCloseTo(0.25, 15);
    expect(() => new LearningRateSchedule('polynomial', 1e-8, o)).toThrow(/lr_end/);
  });

  it('inverse_sqrt', () => {
    expect(lrLambda('inverse_sqrt', 5, o)).toBe(0.5);
    expect(lrLambda('inverse_sqrt', 10, o)).toBe(1);
    expect(lrLambda('inverse_sqrt', 40, o)).toBeCloseTo(0.5, 15); // 1/sqrt(40/10)
  });

  it('a bound schedule gives the learning rate the HF Trainer uses at each step', () => {
    const s = new LearningRateSchedule('linear', 2e-3, { num_warmup_steps: 2, num_training_steps: 10 });
    // optimizer step k (1-based) runs with lr = base * lambda(k - 1): the first warmup step has lr 0
    expect([0, 1, 2, 6, 10].map((k) => s.at(k))).toEqual([0, 1e-3, 2e-3, 1e-3, 0]);
    expect(s.toJSON(4)).toMatchObject({ last_epoch: 4, base_lrs: [2e-3], lr_scheduler_type: 'linear' });
  });

  it('warmup steps from warmup_ratio (rounded up), warmup_steps winning when set', () => {
    expect(warmupSteps(1000, 0, 0.1)).toBe(100);
    expect(warmupSteps(15, 0, 0.1)).toBe(2);
    expect(warmupSteps(1000, 7, 0.1)).toBe(7);
  });
});
