/**
 * AdamW with torch.optim.AdamW semantics, run natively. By default weight decay applies to every parameter
 * (torch semantics); pass no_decay patterns (e.g. HF_NO_DECAY) to exempt biases and LayerNorm weights as the
 * HF Trainer does.
 */
import { InvalidArgumentError } from '../errors.js';
import { native, type NativeOptimizerHandle, type RawTensor } from '../native.js';
import type { CaptioningModel } from '../models/captioning-model.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weight_decay?: number;
  /** Substrings of parameter names that get no weight decay. */
  no_decay?: string[];
}

/**
 * The HF Trainer's exemptions: every parameter whose name contains "bias" (so Swin's and BEiT's
 * relative_position_bias_table too) and the LayerNorm weights, by the names each architecture gives them
 * (ViT/BEiT/Swin layernorm*, Swin .norm., BERT LayerNorm, RoBERTa/CLIP layer_norm*, CLIP pre_layrnorm, GPT-2 ln_*).
 */
export const HF_NO_DECAY = ['bias', 'layernorm', 'LayerNorm', 'layer_norm', 'layrnorm', '.ln_', 'ln_f.', '.norm.'];

export interface AdamWState {
  step: number;
  tensors: Record<string, RawTensor>;
}

export class AdamW {
  /** @internal */
  readonly handle: NativeOptimizerHandle;
  private lr: number;
  /** @internal The model this optimizer updates (trainStep checks that they match). */
  readonly model: CaptioningModel;

  constructor(model: CaptioningModel, opts: AdamWOptions = {}) {
    this.model = model;
    const lr = opts.lr ?? 1e-3;
    const [beta1, beta2] = opts.betas ?? [0.9, 0.999];
    const eps = opts.eps ?? 1e-8;
    const weight_decay = opts.weight_decay ?? 0.01;
    if (!(lr >= 0)) throw new InvalidArgumentError(`Expected a non-negative number for lr but received ${lr}`);
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new InvalidArgumentError(`Expected betas in [0, 1) but received [${beta1}, ${beta2}]`);
    if (!(eps >= 0)) throw new InvalidArgumentError(`Expected a non-negative number for eps but received ${eps}`);
    if (!(weight_decay >= 0)) throw new InvalidArgumentError(`Expected a non-negative number for weight_decay but received ${weight_decay}`);
    this.lr = lr;
    this.handle = new (native().AdamW)(model.handle, { lr, beta1, beta2, eps, weight_decay, no_decay: opts.no_decay ?? [] });
  }

  /** One update from the accumulated gradients (optionally clipping them to max_grad_norm first). */
  async step(opts: { max_grad_norm?: number } = {}): Promise<void> {
    await this.handle.step({ max_grad_norm: opts.max_grad_norm ?? 0 });
  }

  /** Clear the gradients of the optimized model (set to none, as torch's zero_grad(set_to_none=True)). */
  zeroGrad(): Promise<void> {
    return this.model.zeroGrad();
  }

  /** Takes effect for the next step: queued on the model's strand behind the jobs already called. */
  setLearningRate(lr: number): void {
    if (!(lr >= 0)) throw new InvalidArgumentError(`Expected a non-negative number for lr but received ${lr}`);
    this.lr = lr;
    this.handle.setLearningRate(lr).catch(() => undefined); // cannot fail: the value is checked above
  }

  get learningRate(): number {
    return this.lr;
  }

  get stepCount(): number {
    return this.handle.stepCount();
  }

  async stateDict(): Promise<AdamWState> {
    return this.handle.stateDict();
  }

  async loadStateDict(state: AdamWState): Promise<void> {
    await this.handle.loadStateDict(state);
  }
}
