/** Swin Transformer (SwinModel) as an image encoder: the last stage's tokens go to the decoder. */
import { InvalidArgumentError, UnsupportedConfigError } from '../../errors.js';
import type { NativeSwinConfig } from '../../native.js';
import { activation, bool, int, positive, prob, type EncoderArchitecture, type RawConfig } from './common.js';

export interface SwinConfig {
  model_type: 'swin';
  image_size: number;
  patch_size: number;
  num_channels: number;
  embed_dim: number;
  depths: number[];
  num_heads: number[];
  window_size: number;
  mlp_ratio: number;
  qkv_bias: boolean;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  drop_path_rate: number;
  hidden_act: string;
  use_absolute_embeddings: boolean;
  initializer_range: number;
  layer_norm_eps: number;
  /** Width of the last stage (embed_dim doubled at every patch merging). */
  hidden_size: number;
  [key: string]: unknown;
}

const DEFAULTS = {
  image_size: 224, patch_size: 4, num_channels: 3, embed_dim: 96, depths: [2, 2, 6, 2], num_heads: [3, 6, 12, 24],
  window_size: 7, mlp_ratio: 4.0, qkv_bias: true, hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0,
  drop_path_rate: 0.1, hidden_act: 'gelu', use_absolute_embeddings: false, initializer_range: 0.02, layer_norm_eps: 1e-5,
};

function normalize(raw: RawConfig): SwinConfig {
  const c = { ...DEFAULTS, ...raw, model_type: 'swin' } as SwinConfig;
  for (const k of ['image_size', 'patch_size', 'num_channels', 'embed_dim', 'window_size']) int(c, k, 'encoder');
  if (!Array.isArray(c.depths) || !Array.isArray(c.num_heads) || c.depths.length !== c.num_heads.length || c.depths.length === 0) {
    throw new InvalidArgumentError('Expected encoder.depths and encoder.num_heads to be arrays of the same, non-zero length');
  }
  if (c.use_absolute_embeddings) throw new UnsupportedConfigError('encoder.use_absolute_embeddings = true is not supported yet (Swin checkpoints on the hub use false)');
  activation(c, 'hidden_act', 'encoder');
  prob(c, 'hidden_dropout_prob', 'encoder');
  prob(c, 'attention_probs_dropout_prob', 'encoder');
  positive(c, 'mlp_ratio', 'encoder');
  bool(c, 'qkv_bias', 'encoder');
  c.hidden_size = c.embed_dim * 2 ** (c.depths.length - 1);
  return c;
}

function native(c: SwinConfig): NativeSwinConfig {
  return {
    model_type: 'swin', image_size: c.image_size, patch_size: c.patch_size, num_channels: c.num_channels, embed_dim: c.embed_dim,
    window_size: c.window_size, depths: [...c.depths], num_heads: [...c.num_heads], mlp_ratio: c.mlp_ratio, layer_norm_eps: c.layer_norm_eps,
    hidden_dropout_prob: c.hidden_dropout_prob, attention_probs_dropout_prob: c.attention_probs_dropout_prob, drop_path_rate: c.drop_path_rate,
    initializer_range: c.initializer_range, qkv_bias: c.qkv_bias, hidden_act: c.hidden_act,
  };
}

export const swin: EncoderArchitecture<SwinConfig> = {
  modelTypes: ['swin'], normalize, native, hiddenSize: (c) => c.hidden_size, imageSize: (c) => c.image_size, checkpointPrefixes: ['swin.'],
};
