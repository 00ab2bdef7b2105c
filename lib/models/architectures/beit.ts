/** BEiT (BeitModel) as an image encoder: relative position biases, layer scale, mean-pooling semantics. */
import { UnsupportedConfigError } from '../../errors.js';
import type { NativeBeitConfig } from '../../native.js';
import { activation, bool, divisible, int, prob, wholePatches, type EncoderArchitecture, type RawConfig } from './common.js';

export interface BeitConfig {
  model_type: 'beit';
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
  use_mask_token: boolean;
  use_absolute_position_embeddings: boolean;
  use_relative_position_bias: boolean;
  use_shared_relative_position_bias: boolean;
  layer_scale_init_value: number;
  drop_path_rate: number;
  /** true: last_hidden_state is the last layer's raw output (the final LayerNorm only serves pooler_output). */
  use_mean_pooling: boolean;
  [key: string]: unknown;
}

/** BeitConfig's defaults. */
const DEFAULTS = {
  vocab_size: 8192, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu',
  hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0, initializer_range: 0.02, layer_norm_eps: 1e-12, image_size: 224,
  patch_size: 16, num_channels: 3, use_mask_token: false, use_absolute_position_embeddings: false, use_relative_position_bias: false,
  use_shared_relative_position_bias: false, layer_scale_init_value: 0.1, drop_path_rate: 0.1, use_mean_pooling: true,
};

function normalize(raw: RawConfig): BeitConfig {
  const c = { ...DEFAULTS, ...raw, model_type: 'beit' } as BeitConfig;
  for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'image_size', 'patch_size', 'num_channels']) int(c, k, 'encoder');
  divisible(c, 'hidden_size', 'num_attention_heads', 'encoder');
  wholePatches(c, 'encoder');
  prob(c, 'hidden_dropout_prob', 'encoder');
  prob(c, 'attention_probs_dropout_prob', 'encoder');
  prob(c, 'drop_path_rate', 'encoder');
  activation(c, 'hidden_act', 'encoder');
  for (const k of ['use_mask_token', 'use_absolute_position_embeddings', 'use_relative_position_bias', 'use_shared_relative_position_bias', 'use_mean_pooling']) bool(c, k, 'encoder');
  if (typeof c.layer_scale_init_value !== 'number' || c.layer_scale_init_value < 0) {
    throw new UnsupportedConfigError(`Expected a non-negative encoder.layer_scale_init_value but received ${JSON.stringify(c.layer_scale_init_value)}`);
  }
  return c;
}

function native(c: BeitConfig): NativeBeitConfig {
  return {
    model_type: 'beit', hidden_size: c.hidden_size, num_hidden_layers: c.num_hidden_layers, num_attention_heads: c.num_attention_heads,
    intermediate_size: c.intermediate_size, image_size: c.image_size, patch_size: c.patch_size, num_channels: c.num_channels,
    hidden_dropout_prob: c.hidden_dropout_prob, attention_probs_dropout_prob: c.attention_probs_dropout_prob,
    initializer_range: c.initializer_range, layer_norm_eps: c.layer_norm_eps, layer_scale_init_value: c.layer_scale_init_value,
    drop_path_rate: c.drop_path_rate, hidden_act: c.hidden_act, use_mask_token: c.use_mask_token,
    use_absolute_position_embeddings: c.use_absolute_position_embeddings, use_relative_position_bias: c.use_relative_position_bias,
    use_shared_relative_position_bias: c.use_shared_relative_position_bias, use_mean_pooling: c.use_mean_pooling,
  };
}

export const beit: EncoderArchitecture<BeitConfig> = {
  modelTypes: ['beit'], normalize, native, hiddenSize: (c) => c.hidden_size, imageSize: (c) => c.image_size, checkpointPrefixes: ['beit.'],
};
