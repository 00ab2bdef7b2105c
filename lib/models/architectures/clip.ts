/**
 * CLIP's vision tower (CLIPVisionModel, model_type clip_vision_model) as an image encoder. A full CLIP
 * config (model_type clip) is accepted too: its vision_config is the encoder, and a CLIPModel checkpoint's
 * text tower and projections are reported as unused.
 */
import type { NativeCLIPVisionConfig } from '../../native.js';
import { activation, divisible, int, positive, prob, wholePatches, type EncoderArchitecture, type RawConfig } from './common.js';

export interface CLIPVisionConfig {
  model_type: 'clip_vision_model';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  image_size: number;
  patch_size: number;
  num_channels: number;
  hidden_act: string;
  layer_norm_eps: number;
  dropout: number;
  attention_dropout: number;
  initializer_range: number;
  initializer_factor: number;
  [key: string]: unknown;
}

/** CLIPVisionConfig's defaults. */
const DEFAULTS = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 32,
  num_channels: 3, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, dropout: 0.0, attention_dropout: 0.0, initializer_range: 0.02,
  initializer_factor: 1.0, projection_dim: 512,
};

function normalize(raw: RawConfig): CLIPVisionConfig {
  // CLIPVisionModel.from_pretrained on a CLIPModel folder reads its vision_config the same way.
  const vision = raw.model_type === 'clip' && typeof raw.vision_config === 'object' && raw.vision_config !== null ? (raw.vision_config as RawConfig) : raw;
  const c = { ...DEFAULTS, ...vision, model_type: 'clip_vision_model' } as CLIPVisionConfig;
  for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'image_size', 'patch_size', 'num_channels']) int(c, k, 'encoder');
  divisible(c, 'hidden_size', 'num_attention_heads', 'encoder');
  wholePatches(c, 'encoder');
  prob(c, 'dropout', 'encoder');
  prob(c, 'attention_dropout', 'encoder');
  positive(c, 'layer_norm_eps', 'encoder');
  activation(c, 'hidden_act', 'encoder');
  return c;
}

function native(c: CLIPVisionConfig): NativeCLIPVisionConfig {
  return {
    model_type: 'clip_vision_model', hidden_size: c.hidden_size, intermediate_size: c.intermediate_size, num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads, image_size: c.image_size, patch_size: c.patch_size, num_channels: c.num_channels,
    layer_norm_eps: c.layer_norm_eps, dropout: c.dropout, attention_dropout: c.attention_dropout, initializer_range: c.initializer_range,
    initializer_factor: c.initializer_factor, hidden_act: c.hidden_act,
  };
}

export const clipVision: EncoderArchitecture<CLIPVisionConfig> = {
  modelTypes: ['clip_vision_model', 'clip'], normalize, native, hiddenSize: (c) => c.hidden_size, imageSize: (c) => c.image_size,
  // CLIPVisionModel and CLIPModel keys already say vision_model.*, as the encoder names them.
  checkpointPrefixes: [],
};
