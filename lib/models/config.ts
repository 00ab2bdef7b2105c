/**
 * Hugging Face config.json for vision-encoder-decoder models: parsed, filled with the HF defaults that
 * matter here, and validated. Unsupported values fail loudly, naming the key.
 */
import { FormatError, InvalidArgumentError, UnsupportedConfigError } from '../errors.js';
import type { NativeModelConfig, NativeSpecialTokens } from '../native.js';

export interface ViTConfig {
  model_type: 'vit';
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
  hidden_size: number;
  [key: string]: unknown;
}

export interface GPT2Config {
  model_type: 'gpt2';
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner: number | null;
  activation_function: string;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  add_cross_attention: boolean;
  is_decoder: boolean;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | null;
  [key: string]: unknown;
}

export type EncoderConfig = ViTConfig | SwinConfig;

export interface VisionEncoderDecoderConfig {
  model_type: 'vision-encoder-decoder';
  architectures?: string[];
  is_encoder_decoder: boolean;
  encoder: EncoderConfig;
  decoder: GPT2Config;
  decoder_start_token_id: number | null;
  pad_token_id: number | null;
  eos_token_id: number | null;
  bos_token_id: number | null;
  tie_word_embeddings: boolean;
  [key: string]: unknown;
}

const VIT_DEFAULTS = {
  hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu',
  hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0, initializer_range: 0.02, layer_norm_eps: 1e-12,
  image_size: 224, patch_size: 16, num_channels: 3, qkv_bias: true,
};

const SWIN_DEFAULTS = {
  image_size: 224, patch_size: 4, num_channels: 3, embed_dim: 96, depths: [2, 2, 6, 2], num_heads: [3, 6, 12, 24],
  window_size: 7, mlp_ratio: 4.0, qkv_bias: true, hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0,
  drop_path_rate: 0.1, hidden_act: 'gelu', use_absolute_embeddings: false, initializer_range: 0.02, layer_norm_eps: 1e-5,
};

const GPT2_DEFAULTS = {
  vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, n_inner: null, activation_function: 'gelu_new',
  resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1, layer_norm_epsilon: 1e-5, initializer_range: 0.02,
  add_cross_attention: false, is_decoder: false, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false,
  tie_word_embeddings: true, bos_token_id: 50256, eos_token_id: 50256,
};

const ACTIVATIONS = new Set(['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish', 'tanh']);

function int(obj: Record<string, unknown>, key: string, where: string, min = 1): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new InvalidArgumentError(`Expected an integer >= ${min} for ${where}.${key} but received ${JSON.stringify(v)}`);
  }
  return v;
}

function prob(obj: Record<string, unknown>, key: string, where: string): void {
  const v = obj[key];
  if (typeof v !== 'number' || v < 0 || v >= 1) {
    throw new InvalidArgumentError(`Expected a number in [0, 1) for ${where}.${key} but received ${JSON.stringify(v)}`);
  }
}

function activation(obj: Record<string, unknown>, key: string, where: string): void {
  const v = obj[key];
  if (typeof v !== 'string' || !ACTIVATIONS.has(v)) {
    throw new UnsupportedConfigError(`${where}.${key} = ${JSON.stringify(v)} is not supported (supported: ${[...ACTIVATIONS].join(', ')})`);
  }
}

export function normalizeEncoderConfig(raw: Record<string, unknown>): EncoderConfig {
  const type = raw.model_type;
  if (type === 'vit' || type === 'deit') {
    const c = { ...VIT_DEFAULTS, ...raw, model_type: 'vit' } as ViTConfig;
    for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'image_size', 'patch_size', 'num_channels']) int(c, k, 'encoder');
    if (c.hidden_size % c.num_attention_heads !== 0) throw new InvalidArgumentError(`encoder.hidden_size (${c.hidden_size}) must be divisible by encoder.num_attention_heads (${c.num_attention_heads})`);
    if (c.image_size % c.patch_size !== 0) throw new UnsupportedConfigError(`encoder.image_size (${c.image_size}) must be a multiple of encoder.patch_size (${c.patch_size})`);
    prob(c, 'hidden_dropout_prob', 'encoder');
    prob(c, 'attention_probs_dropout_prob', 'encoder');
    activation(c, 'hidden_act', 'encoder');
    return c;
  }
  if (type === 'swin') {
    const c = { ...SWIN_DEFAULTS, ...raw, model_type: 'swin' } as SwinConfig;
    for (const k of ['image_size', 'patch_size', 'num_channels', 'embed_dim', 'window_size']) int(c, k, 'encoder');
    if (!Array.isArray(c.depths) || !Array.isArray(c.num_heads) || c.depths.length !== c.num_heads.length || c.depths.length === 0) {
      throw new InvalidArgumentError('Expected encoder.depths and encoder.num_heads to be arrays of the same, non-zero length');
    }
    if (c.use_absolute_embeddings) throw new UnsupportedConfigError('encoder.use_absolute_embeddings = true is not supported yet (Swin checkpoints on the hub use false)');
    activation(c, 'hidden_act', 'encoder');
    prob(c, 'hidden_dropout_prob', 'encoder');
    prob(c, 'attention_probs_dropout_prob', 'encoder');
    c.hidden_size = c.embed_dim * 2 ** (c.depths.length - 1);
    return c;
  }
  throw new UnsupportedConfigError(`encoder.model_type = ${JSON.stringify(type)} is not supported (supported: vit, swin)`);
}

export function normalizeDecoderConfig(raw: Record<string, unknown>): GPT2Config {
  if (raw.model_type !== 'gpt2') {
    throw new UnsupportedConfigError(`decoder.model_type = ${JSON.stringify(raw.model_type)} is not supported (supported: gpt2)`);
  }
  const c = { ...GPT2_DEFAULTS, ...raw } as GPT2Config;
  for (const k of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head']) int(c, k, 'decoder');
  if (c.n_embd % c.n_head !== 0) throw new InvalidArgumentError(`decoder.n_embd (${c.n_embd}) must be divisible by decoder.n_head (${c.n_head})`);
  activation(c, 'activation_function', 'decoder');
  for (const k of ['resid_pdrop', 'embd_pdrop', 'attn_pdrop']) prob(c, k, 'decoder');
  // reorder_and_upcast_attn is accepted as is: it only changes numerics under fp16/bf16 autocast.
  return c;
}

/** Parse and validate a vision-encoder-decoder config.json object. */
export function normalizeConfig(raw: unknown): VisionEncoderDecoderConfig {
  if (typeof raw !== 'object' || raw === null) throw new FormatError('config.json must hold a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.model_type !== 'vision-encoder-decoder') {
    throw new UnsupportedConfigError(
      `model_type = ${JSON.stringify(r.model_type)}: expected "vision-encoder-decoder". For separate encoder and decoder ` +
        'checkpoints use VisionEncoderDecoder.fromEncoderDecoderPretrained(encoderDir, decoderDir).',
    );
  }
  if (typeof r.encoder !== 'object' || r.encoder === null || typeof r.decoder !== 'object' || r.decoder === null) {
    throw new FormatError('config.json lacks the nested "encoder" and "decoder" configs');
  }
  const encoder = normalizeEncoderConfig(r.encoder as Record<string, unknown>);
  const decoder = normalizeDecoderConfig(r.decoder as Record<string, unknown>);
  if (!decoder.add_cross_attention) {
    throw new UnsupportedConfigError('decoder.add_cross_attention is false: the GPT-2 decoder has no cross-attention. Build the model with fromEncoderDecoderPretrained, which adds it.');
  }
  if (r.tie_word_embeddings === true) throw new UnsupportedConfigError('tie_word_embeddings = true (sharing weights between encoder and decoder) is not supported');
  if (decoder.cross_attention_hidden_size !== undefined && decoder.cross_attention_hidden_size !== null) {
    throw new UnsupportedConfigError('decoder.cross_attention_hidden_size is not supported yet (the encoder output is projected with enc_to_dec_proj instead)');
  }
  const tok = (k: string): number | null => (typeof r[k] === 'number' ? (r[k] as number) : null);
  return {
    ...r,
    model_type: 'vision-encoder-decoder',
    is_encoder_decoder: true,
    encoder,
    decoder,
    decoder_start_token_id: tok('decoder_start_token_id'),
    pad_token_id: tok('pad_token_id'),
    eos_token_id: tok('eos_token_id') ?? decoder.eos_token_id ?? null,
    bos_token_id: tok('bos_token_id') ?? decoder.bos_token_id ?? null,
    tie_word_embeddings: false,
  };
}

/** A fresh config from separate encoder and decoder configs, as from_encoder_decoder_pretrained builds it. */
export function composeConfig(encoder: Record<string, unknown>, decoder: Record<string, unknown>): VisionEncoderDecoderConfig {
  const dec: Record<string, unknown> = { ...decoder, add_cross_attention: true, is_decoder: true };
  return normalizeConfig({
    model_type: 'vision-encoder-decoder',
    architectures: ['VisionEncoderDecoderModel'],
    is_encoder_decoder: true,
    encoder,
    decoder: dec,
    tie_word_embeddings: false,
    decoder_start_token_id: (dec.bos_token_id as number | undefined) ?? null,
    pad_token_id: (dec.pad_token_id as number | undefined) ?? (dec.eos_token_id as number | undefined) ?? null,
    eos_token_id: (dec.eos_token_id as number | undefined) ?? null,
  });
}

/** Tiny configs for tests and the demo. */
export function tinyConfig(opts: { imageSize?: number; vocabSize?: number; encoder?: 'vit' | 'swin'; hidden?: number; layers?: number } = {}): VisionEncoderDecoderConfig {
  const hidden = opts.hidden ?? 32;
  const layers = opts.layers ?? 2;
  const encoder = opts.encoder === 'swin'
    ? { model_type: 'swin', image_size: opts.imageSize ?? 32, patch_size: 4, embed_dim: 16, depths: [2, 2], num_heads: [2, 4], window_size: 4, drop_path_rate: 0.0 }
    : { model_type: 'vit', image_size: opts.imageSize ?? 32, patch_size: 8, hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: 4, intermediate_size: hidden * 2 };
  const vocab = opts.vocabSize ?? 50257;
  return composeConfig(encoder, {
    model_type: 'gpt2', vocab_size: vocab, n_positions: 64, n_embd: hidden, n_layer: layers, n_head: 4,
    resid_pdrop: 0.0, embd_pdrop: 0.0, attn_pdrop: 0.0, bos_token_id: vocab - 1, eos_token_id: vocab - 1, pad_token_id: vocab - 1,
  });
}

/**
 * The complete object the native model is built from: every field the C++ side reads, with Hugging Face's
 * defaults already applied by normalizeConfig (the addon has no defaults of its own).
 */
export function nativeModelConfig(c: VisionEncoderDecoderConfig): NativeModelConfig {
  const e = c.encoder;
  const encoder: NativeModelConfig['encoder'] = e.model_type === 'vit'
    ? {
        model_type: 'vit', hidden_size: e.hidden_size, num_hidden_layers: e.num_hidden_layers, num_attention_heads: e.num_attention_heads,
        intermediate_size: e.intermediate_size, image_size: e.image_size, patch_size: e.patch_size, num_channels: e.num_channels,
        layer_norm_eps: e.layer_norm_eps, hidden_dropout_prob: e.hidden_dropout_prob, attention_probs_dropout_prob: e.attention_probs_dropout_prob,
        initializer_range: e.initializer_range, qkv_bias: e.qkv_bias, hidden_act: e.hidden_act,
      }
    : {
        model_type: 'swin', image_size: e.image_size, patch_size: e.patch_size, num_channels: e.num_channels, embed_dim: e.embed_dim,
        window_size: e.window_size, depths: [...e.depths], num_heads: [...e.num_heads], mlp_ratio: e.mlp_ratio, layer_norm_eps: e.layer_norm_eps,
        hidden_dropout_prob: e.hidden_dropout_prob, attention_probs_dropout_prob: e.attention_probs_dropout_prob, drop_path_rate: e.drop_path_rate,
        initializer_range: e.initializer_range, qkv_bias: e.qkv_bias, hidden_act: e.hidden_act,
      };
  const d = c.decoder;
  return {
    encoder,
    decoder: {
      model_type: 'gpt2', vocab_size: d.vocab_size, n_positions: d.n_positions, n_embd: d.n_embd, n_layer: d.n_layer, n_head: d.n_head,
      n_inner: d.n_inner ?? 4 * d.n_embd, // GPT2MLP: inner_dim = n_inner if not None else 4 * hidden_size
      layer_norm_epsilon: d.layer_norm_epsilon, resid_pdrop: d.resid_pdrop, embd_pdrop: d.embd_pdrop, attn_pdrop: d.attn_pdrop,
      initializer_range: d.initializer_range, activation_function: d.activation_function, add_cross_attention: d.add_cross_attention,
      scale_attn_weights: d.scale_attn_weights, scale_attn_by_inverse_layer_idx: d.scale_attn_by_inverse_layer_idx,
      tie_word_embeddings: d.tie_word_embeddings,
    },
    ...specialTokens(c),
  };
}

/** The token ids the native model uses to build decoder inputs from labels. */
export function specialTokens(c: VisionEncoderDecoderConfig): NativeSpecialTokens {
  return { decoder_start_token_id: c.decoder_start_token_id, pad_token_id: c.pad_token_id, eos_token_id: c.eos_token_id };
}
