/** Optimization: the AdamW optimizer (torch.optim.AdamW on the native model) and the fp16 loss scaler. */
export { AdamW, HF_NO_DECAY, type AdamWOptions, type AdamWState } from './adamw.js';
export { GradScaler, type GradScalerOptions, type GradScalerState } from './grad-scaler.js';
