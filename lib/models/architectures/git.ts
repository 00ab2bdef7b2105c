/**
 * GIT (GitForCausalLM, model_type git): GitConfig's text fields at the top level and a CLIP-style
 * vision_config (model_type git_vision_model), with Hugging Face's defaults for absent keys (hub configs
 * omit every default).
 */
import { FormatError, UnsupportedConfigError } from '../../errors.js';
import type { NativeBertConfig, NativeCLIPVisionConfig, NativeSpecialTokens } from '../../native.js';
import { activation, bool, checkBertText, divisible, int, positive, prob, wholePatches, type RawConfig } from './common.js';
import { nativeBertText } from './bert.js';

export interface GitVisionConfig {
  model_type: 'git_vision_model';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_channels: number;
  image_size: number;
  patch_size: number;
  hidden_act: string;
  layer_norm_eps: number;
  attention_dropout: number;
  initializer_range: number;
  [key: string]: unknown;
}

export interface GitConfig {
  model_type: 'git';
  architectures?: string[];
  vision_config: GitVisionConfig;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
  /** GIT has no decoder_start_token_id of its own: text starts with bos ([CLS]). Set here to override. */
  decoder_start_token_id?: number | null;
  tie_word_embeddings: boolean;
  position_embedding_type: string;
  num_image_with_embedding: number | null;
  [key: string]: unknown;
}

/** GitConfig's defaults. */
const TEXT_DEFAULTS = {
  vocab_size: 30522, hidden_size: 768, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu',
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 1024, initializer_range: 0.02,
  layer_norm_eps: 1e-12, pad_token_id: 0, bos_token_id: 101, eos_token_id: 102, tie_word_embeddings: false,
  position_embedding_type: 'absolute', num_image_with_embedding: null,
};

/** GitVisionConfig's defaults. */
const VISION_DEFAULTS = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, num_channels: 3, image_size: 224,
  patch_size: 16, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, attention_dropout: 0.0, initializer_range: 0.02,
};

function normalizeVision(raw: RawConfig): GitVisionConfig {
  const c = { ...VISION_DEFAULTS, ...raw, model_type: 'git_vision_model' } as GitVisionConfig;
  for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_channels', 'image_size', 'patch_size']) int(c, k, 'vision_config');
  divisible(c, 'hidden_size', 'num_attention_heads', 'vision_config');
  wholePatches(c, 'vision_config');
  prob(c, 'attention_dropout', 'vision_config');
  positive(c, 'layer_norm_eps', 'vision_config');
  activation(c, 'hidden_act', 'vision_config');
  return c;
}

export function normalizeGitConfig(raw: unknown): GitConfig {
  if (typeof raw !== 'object' || raw === null) throw new FormatError('config.json must hold a JSON object');
  const r = raw as RawConfig;
  if (r.model_type !== 'git') throw new UnsupportedConfigError(`model_type = ${JSON.stringify(r.model_type)}: GitForCausalLM reads model_type "git"`);
  const vision = typeof r.vision_config === 'object' && r.vision_config !== null ? (r.vision_config as RawConfig) : {};
  const c = { ...TEXT_DEFAULTS, ...r, model_type: 'git', vision_config: normalizeVision(vision) } as GitConfig;
  checkBertText(c, 'config');
  for (const k of ['pad_token_id', 'bos_token_id', 'eos_token_id']) int(c, k, 'config', 0);
  bool(c, 'tie_word_embeddings', 'config');
  if (c.tie_word_embeddings) throw new UnsupportedConfigError('tie_word_embeddings = true is not supported for GIT (its `output` head is its own matrix in every released checkpoint)');
  if (c.position_embedding_type !== 'absolute') {
    throw new UnsupportedConfigError(`position_embedding_type = ${JSON.stringify(c.position_embedding_type)} is not supported (supported: absolute)`);
  }
  if (c.num_image_with_embedding !== null) {
    throw new UnsupportedConfigError(`num_image_with_embedding = ${JSON.stringify(c.num_image_with_embedding)} (GIT's multi-frame video variant) is not supported`);
  }
  return c;
}

/** The start token: decoder_start_token_id when set, else bos ([CLS]) as GIT's generate starts from it. */
export function gitTokens(c: GitConfig): NativeSpecialTokens {
  return { decoder_start_token_id: c.decoder_start_token_id ?? c.bos_token_id, pad_token_id: c.pad_token_id, eos_token_id: c.eos_token_id };
}

export function gitNativeVision(v: GitVisionConfig): NativeCLIPVisionConfig {
  return {
    model_type: 'clip_vision_model', hidden_size: v.hidden_size, intermediate_size: v.intermediate_size, num_hidden_layers: v.num_hidden_layers,
    num_attention_heads: v.num_attention_heads, image_size: v.image_size, patch_size: v.patch_size, num_channels: v.num_channels,
    layer_norm_eps: v.layer_norm_eps, dropout: 0, attention_dropout: v.attention_dropout, initializer_range: v.initializer_range,
    initializer_factor: 1, hidden_act: v.hidden_act,
  };
}

export function gitNativeText(c: GitConfig): NativeBertConfig {
  return nativeBertText(c, { model_type: 'git', type_vocab_size: 0, encoder_hidden_size: c.hidden_size, add_cross_attention: false, tie_word_embeddings: false });
}
