/** ViT (ViTModel) and DeiT (DeiTModel: ViT's fields plus a distillation token), as image encoders. */
import type { NativeViTConfig } from '../../native.js';
import { activation, bool, divisible, int, prob, wholePatches, type EncoderArchitecture, type RawConfig } from './common.js';

export interface ViTConfig {
  model_type: 'vit' | 'deit';
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  initializer_range: number;
  layer_norm_eps: number;
  image_size: number;
  patch_size: number;
  num_channels: number;
  qkv_bias: boolean;
  [key: string]: unknown;
}

/** ViTConfig's and DeiTConfig's defaults (the same). */
const DEFAULTS = {
  hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu',
  hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0, initializer_range: 0.02, layer_norm_eps: 1e-12,
  image_size: 224, patch_size: 16, num_channels: 3, qkv_bias: true,
};

function normalize(raw: RawConfig): ViTConfig {
  const c = { ...DEFAULTS, ...raw, model_type: raw.model_type === 'deit' ? 'deit' : 'vit' } as ViTConfig;
  for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'image_size', 'patch_size', 'num_channels']) int(c, k, 'encoder');
  divisible(c, 'hidden_size', 'num_attention_heads', 'encoder');
  wholePatches(c, 'encoder');
  prob(c, 'hidden_dropout_prob', 'encoder');
  prob(c, 'attention_probs_dropout_prob', 'encoder');
  activation(c, 'hidden_act', 'encoder');
  bool(c, 'qkv_bias', 'encoder');
  return c;
}

function native(c: ViTConfig): NativeViTConfig {
  return {
    model_type: c.model_type, hidden_size: c.hidden_size, num_hidden_layers: c.num_hidden_layers, num_attention_heads: c.num_attention_heads,
    intermediate_size: c.intermediate_size, image_size: c.image_size, patch_size: c.patch_size, num_channels: c.num_channels,
    layer_norm_eps: c.layer_norm_eps, hidden_dropout_prob: c.hidden_dropout_prob, attention_probs_dropout_prob: c.attention_probs_dropout_prob,
    initializer_range: c.initializer_range, qkv_bias: c.qkv_bias, hidden_act: c.hidden_act,
  };
}

export const vit: EncoderArchitecture<ViTConfig> = {
  modelTypes: ['vit'], normalize, native, hiddenSize: (c) => c.hidden_size, imageSize: (c) => c.image_size, checkpointPrefixes: ['vit.'],
};

/** DeiT: CLS + distillation token + patches all go to the decoder. DeiTForImageClassification* keys start with 'deit.'. */
export const deit: EncoderArchitecture<ViTConfig> = {
  modelTypes: ['deit'], normalize, native, hiddenSize: (c) => c.hidden_size, imageSize: (c) => c.image_size, checkpointPrefixes: ['deit.'],
};
