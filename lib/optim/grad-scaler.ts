/**
 * Dynamic loss scaling for float16 training, with the semantics and defaults of torch.amp.GradScaler.
 *
 * float16 gradients underflow to zero below about 6e-8, so the loss is multiplied by a large scale
 * before backward and the gradients divided by it before clipping and the optimizer step. When any
 * gradient overflows (inf/NaN) the step is skipped and the scale backs off; after `growth_interval`
 * clean steps in a row it grows again. The native train step does the scaling and reports a skipped
 * step; this class keeps the scale, so it is saved with checkpoints (scaler.json) and resumes exactly.
 */
import { InvalidArgumentError } from '../errors.js';

export interface GradScalerOptions {
  /** Starting scale (torch: 2**16). */
  init_scale?: number;
  /** Factor the scale grows by after growth_interval clean steps (torch: 2.0). */
  growth_factor?: number;
  /** Factor the scale shrinks by after a step with inf/NaN gradients (torch: 0.5). */
  backoff_factor?: number;
  /** Clean steps in a row before the scale grows (torch: 2000). */
  growth_interval?: number;
}

/** What scaler.json holds (torch GradScaler.state_dict() keys). */
export interface GradScalerState {
  scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  _growth_tracker: number;
}

export class GradScaler {
  /** The current loss scale. */
  scale: number;
  readonly growth_factor: number;
  readonly backoff_factor: number;
  readonly growth_interval: number;
  /** Clean steps since the last growth or backoff. */
  growth_tracker = 0;
  /** Steps skipped for inf/NaN gradients since this scaler was made (not saved). */
  skipped_steps = 0;

  constructor(opts: GradScalerOptions = {}) {
    // torch keeps the scale in a float32 tensor.
    this.scale = Math.fround(opts.init_scale ?? 2 ** 16);
    this.growth_factor = opts.growth_factor ?? 2.0;
    this.backoff_factor = opts.backoff_factor ?? 0.5;
    this.growth_interval = opts.growth_interval ?? 2000;
    if (!(this.scale > 0) || !Number.isFinite(this.scale)) throw new InvalidArgumentError(`GradScaler init_scale must be a positive number within float32 range (< 3.4e38) but is ${opts.init_scale}`);
    if (!(this.growth_factor > 1)) throw new InvalidArgumentError(`GradScaler growth_factor must be > 1 but is ${this.growth_factor}`);
    if (!(this.backoff_factor > 0 && this.backoff_factor < 1)) throw new InvalidArgumentError(`GradScaler backoff_factor must be in (0, 1) but is ${this.backoff_factor}`);
    if (!Number.isInteger(this.growth_interval) || this.growth_interval < 1) {
      throw new InvalidArgumentError(`GradScaler growth_interval must be a positive integer but is ${this.growth_interval}`);
    }
  }

  /**
   * torch._amp_update_scale_: back off on overflow, grow after growth_interval clean steps. The scale is
   * a float32 in torch, so it is rounded to float32 and never grows to infinity.
   */
  update(foundInf: boolean): void {
    if (foundInf) {
      this.scale = Math.fround(this.scale * this.backoff_factor);
      this.growth_tracker = 0;
      this.skipped_steps++;
      return;
    }
    const successful = this.growth_tracker + 1;
    if (successful === this.growth_interval) {
      const grown = Math.fround(this.scale * this.growth_factor);
      if (Number.isFinite(grown)) this.scale = grown;
      this.growth_tracker = 0;
    } else {
      this.growth_tracker = successful;
    }
  }

  state_dict(): GradScalerState {
    return {
      scale: this.scale, growth_factor: this.growth_factor, backoff_factor: this.backoff_factor,
      growth_interval: this.growth_interval, _growth_tracker: this.growth_tracker,
    };
  }

  /** Restores the scale and tracker; the factors stay as configured (as torch does with its own arguments). */
  load_state_dict(s: Partial<GradScalerState>): void {
    if (typeof s.scale !== 'number' || !(s.scale > 0) || !Number.isFinite(s.scale)) {
      throw new InvalidArgumentError(`scaler.json has no valid scale (found ${String(s.scale)}); delete the file to restart loss scaling from init_scale`);
    }
    this.scale = s.scale;
    this.growth_tracker = typeof s._growth_tracker === 'number' && s._growth_tracker >= 0 ? Math.floor(s._growth_tracker) : 0;
  }
}
