// GradScaler on its own: torch.amp.GradScaler's defaults, growth and backoff, state round trip, option errors.
// (Its use in the train step and the Trainer: test/train/mixed-precision.test.ts.)
import { describe, expect, it } from 'vitest';
import { GradScaler } from '../../lib/optim/grad-scaler.js';

describe('GradScaler (torch.amp.GradScaler semantics)', () => {
  it('has torch defaults, backs off on overflow and grows after growth_interval clean steps', () => {
    const d = new GradScaler();
    expect(d.state_dict()).toEqual({ scale: 65536, growth_factor: 2, backoff_factor: 0.5, growth_interval: 2000, _growth_tracker: 0 });
    const s = new GradScaler({ init_scale: 4, growth_interval: 2 });
    s.update(false);
    expect([s.scale, s.growth_tracker]).toEqual([4, 1]);
    s.update(false);
    expect([s.scale, s.growth_tracker]).toEqual([8, 0]);
    s.update(false);
    s.update(true); // an overflow resets the run of clean steps
    expect([s.scale, s.growth_tracker, s.skipped_steps]).toEqual([4, 0, 1]);
    s.update(false);
    expect([s.scale, s.growth_tracker]).toEqual([4, 1]);
  });

  it('never grows past float32 range and round-trips its state', () => {
    const s = new GradScaler({ init_scale: 2 ** 127, growth_interval: 1 });
    s.update(false);
    expect(s.scale).toBe(2 ** 127); // 2**128 is inf in float32: torch keeps the old scale
    s.update(true);
    const t = new GradScaler({ init_scale: 1, growth_interval: 1 });
    t.load_state_dict(s.state_dict());
    expect(t.state_dict()).toEqual({ ...s.state_dict(), growth_interval: 1 });
    expect(() => t.load_state_dict({ scale: Number.NaN })).toThrow(/scaler.json has no valid scale.*delete the file/);
  });

  it('rejects invalid options by name', () => {
    expect(() => new GradScaler({ init_scale: 0 })).toThrow(/init_scale must be a positive/);
    expect(() => new GradScaler({ init_scale: 2 ** 130 })).toThrow(/within float32 range/);
    expect(() => new GradScaler({ growth_factor: 1 })).toThrow(/growth_factor must be > 1/);
    expect(() => new GradScaler({ backoff_factor: 1 })).toThrow(/backoff_factor must be in \(0, 1\)/);
    expect(() => new GradScaler({ growth_interval: 1.5 })).toThrow(/growth_interval must be a positive integer/);
  });
});
