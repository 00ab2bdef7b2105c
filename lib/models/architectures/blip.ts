/**
 * BLIP (BlipForConditionalGeneration, model_type blip): nested text_config (blip_text_model) and
 * vision_config (blip_vision_model), with Hugging Face's defaults for absent keys (hub configs omit every
 * default). As BlipConfig does, text_config.encoder_hidden_size is the vision width whatever the file says.
 */
import { FormatError, UnsupportedConfigError } from '../../errors.js';
import type { NativeBertConfig, NativeBlipVisionConfig, NativeSpecialTokens } from '../../native.js';
import { activation, bool, checkBertText, divisible, int, positive, prob, wholePatches, type RawConfig } from './common.js';
import { nativeBertText } from './bert.js';

export interface BlipVisionConfig {
  model_type: 'blip_vision_model';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  image_size: number;
  patch_size: number;
  hidden_act: string;
  layer_norm_eps: number;
  attention_dropout: number;
  initializer_range: number;
  [key: string]: unknown;
}

export interface BlipTextConfig {
  model_type: 'blip_text_model';
  vocab_size: number;
  hidden_size: number;
  encoder_hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: string;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  initializer_range: number;
  bos_token_id: number;
  eos_token_id: number;
  sep_token_id: number;
  pad_token_id: number;
  /** The loss's label smoothing (HF since early 2024; 0.0 unless the file says). */
  label_smoothing: number;
  [key: string]: unknown;
}

export interface BlipConfig {
  model_type: 'blip';
  architectures?: string[];
  text_config: BlipTextConfig;
  vision_config: BlipVisionConfig;
  [key: string]: unknown;
}

/** BlipTextConfig's defaults. */
const TEXT_DEFAULTS = {
  vocab_size: 30524, hidden_size: 768, encoder_hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 8,
  max_position_embeddings: 512, hidden_act: 'gelu', layer_norm_eps: 1e-12, hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0,
  initializer_range: 0.02, bos_token_id: 30522, eos_token_id: 2, pad_token_id: 0, sep_token_id: 102, label_smoothing: 0.0,
};

/** BlipVisionConfig's defaults. */
const VISION_DEFAULTS = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 384, patch_size: 16,
  hidden_act: 'gelu', layer_norm_eps: 1e-5, attention_dropout: 0.0, initializer_range: 1e-10,
};

function object(v: unknown): RawConfig {
  return typeof v === 'object' && v !== null ? (v as RawConfig) : {};
}

export function normalizeBlipConfig(raw: unknown): BlipConfig {
  if (typeof raw !== 'object' || raw === null) throw new FormatError('config.json must hold a JSON object');
  const r = raw as RawConfig;
  if (r.model_type !== 'blip') throw new UnsupportedConfigError(`model_type = ${JSON.stringify(r.model_type)}: BlipForConditionalGeneration reads model_type "blip"`);
  const vision = { ...VISION_DEFAULTS, ...object(r.vision_config), model_type: 'blip_vision_model' } as BlipVisionConfig;
  for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'image_size', 'patch_size']) int(vision, k, 'vision_config');
  divisible(vision, 'hidden_size', 'num_attention_heads', 'vision_config');
  wholePatches(vision, 'vision_config');
  prob(vision, 'attention_dropout', 'vision_config');
  positive(vision, 'layer_norm_eps', 'vision_config');
  activation(vision, 'hidden_act', 'vision_config');
  const text = { ...TEXT_DEFAULTS, ...object(r.text_config), model_type: 'blip_text_model', encoder_hidden_size: vision.hidden_size } as BlipTextConfig;
  checkBertText(text, 'text_config');
  for (const k of ['bos_token_id', 'sep_token_id', 'pad_token_id']) int(text, k, 'text_config', 0);
  prob(text, 'label_smoothing', 'text_config');
  if (text.tie_word_embeddings !== undefined) bool(text, 'tie_word_embeddings', 'text_config');
  if (text.tie_word_embeddings === false) throw new UnsupportedConfigError('text_config.tie_word_embeddings = false is not supported for BLIP (its LM head is tied to the word embeddings)');
  return { ...r, model_type: 'blip', text_config: text, vision_config: vision };
}

/** BLIP's generate: text starts with bos ([DEC]), ends with sep ([SEP], not text_config.eos_token_id), pads with pad. */
export function blipTokens(c: BlipConfig): NativeSpecialTokens {
  return { decoder_start_token_id: c.text_config.bos_token_id, pad_token_id: c.text_config.pad_token_id, eos_token_id: c.text_config.sep_token_id };
}

export function blipNativeVision(v: BlipVisionConfig): NativeBlipVisionConfig {
  return {
    model_type: 'blip_vision_model', hidden_size: v.hidden_size, intermediate_size: v.intermediate_size, num_hidden_layers: v.num_hidden_layers,
    num_attention_heads: v.num_attention_heads, image_size: v.image_size, patch_size: v.patch_size, layer_norm_eps: v.layer_norm_eps,
    attention_dropout: v.attention_dropout, initializer_range: v.initializer_range, hidden_act: v.hidden_act,
  };
}

export function blipNativeText(t: BlipTextConfig): NativeBertConfig {
  return nativeBertText(t, { model_type: 'blip_text_model', type_vocab_size: 0, encoder_hidden_size: t.encoder_hidden_size, add_cross_attention: true, tie_word_embeddings: true });
}
