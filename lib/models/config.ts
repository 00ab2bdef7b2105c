/**
 * Hugging Face config.json for vision-encoder-decoder models: parsed, filled with the HF defaults that
 * matter here, and validated. Unsupported values fail loudly, naming the key.
 */
import { FormatError, InvalidArgumentError, UnsupportedConfigError } from '../errors.js';
import type { NativeModelConfig, NativeSpecialTokens } from '../native.js';
import { decoderArchitecture, encoderArchitecture, type BeitConfig, type BertConfig, type CLIPVisionConfig, type GPT2Config, type SwinConfig, type ViTConfig } from './architectures/index.js';

export type { ViTConfig, SwinConfig, GPT2Config, BertConfig, CLIPVisionConfig, BeitConfig } from './architectures/index.js';

/** Any supported image encoder's config (model_type vit, deit, beit, swin, clip_vision_model). */
export type EncoderConfig = ViTConfig | SwinConfig | CLIPVisionConfig | BeitConfig;
/** Any supported caption decoder's config (model_type gpt2, bert, roberta). */
export type DecoderConfig = GPT2Config | BertConfig;

export interface VisionEncoderDecoderConfig {
  model_type: 'vision-encoder-decoder';
  architectures?: string[];
  is_encoder_decoder: boolean;
  encoder: EncoderConfig;
  decoder: DecoderConfig;
  decoder_start_token_id: number | null;
  pad_token_id: number | null;
  eos_token_id: number | null;
  bos_token_id: number | null;
  tie_word_embeddings: boolean;
  [key: string]: unknown;
}

/** Hugging Face's defaults filled in and every value checked, by the encoder's architecture module. */
export function normalizeEncoderConfig(raw: Record<string, unknown>): EncoderConfig {
  return encoderArchitecture(raw).normalize(raw) as EncoderConfig;
}

export function normalizeDecoderConfig(raw: Record<string, unknown>): DecoderConfig {
  return decoderArchitecture(raw).normalize(raw) as DecoderConfig;
}

/** Width of the encoder's output and of the decoder (enc_to_dec_proj exists when they differ). */
export function encoderHiddenSize(c: VisionEncoderDecoderConfig): number {
  return encoderArchitecture(c.encoder).hiddenSize(c.encoder);
}

/** The input resolution of the encoder. */
export function encoderImageSize(c: VisionEncoderDecoderConfig): number {
  return encoderArchitecture(c.encoder).imageSize(c.encoder);
}

/** The longest generated sequence (start token included) the decoder's positions allow. */
export function decoderMaxLength(c: VisionEncoderDecoderConfig): number {
  return decoderArchitecture(c.decoder).maxLength(c.decoder);
}

export function decoderVocabSize(c: VisionEncoderDecoderConfig): number {
  return decoderArchitecture(c.decoder).vocabSize(c.decoder);
}

/** Parse and validate a vision-encoder-decoder config.json object. */
export function normalizeConfig(raw: unknown): VisionEncoderDecoderConfig {
  if (typeof raw !== 'object' || raw === null) throw new FormatError('config.json must hold a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.model_type !== 'vision-encoder-decoder') {
    throw new UnsupportedConfigError(
      `model_type = ${JSON.stringify(r.model_type)}: expected "vision-encoder-decoder". For separate encoder and decoder ` +
        'checkpoints use VisionEncoderDecoder.fromEncoderDecoderPretrained(encoderDir, decoderDir); for GIT and BLIP folders ' +
        'GitForCausalLM / BlipForConditionalGeneration, or AutoModelForVision2Seq, which picks the class from config.json.',
    );
  }
  if (typeof r.encoder !== 'object' || r.encoder === null || typeof r.decoder !== 'object' || r.decoder === null) {
    throw new FormatError('config.json lacks the nested "encoder" and "decoder" configs');
  }
  const encoder = normalizeEncoderConfig(r.encoder as Record<string, unknown>);
  const decoder = normalizeDecoderConfig(r.decoder as Record<string, unknown>);
  if (!decoder.add_cross_attention) {
    throw new UnsupportedConfigError(`decoder.add_cross_attention is false: the ${decoder.model_type} decoder has no cross-attention. Build the model with fromEncoderDecoderPretrained, which adds it.`);
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
  return {
    model_type: 'vision-encoder-decoder',
    encoder: encoderArchitecture(c.encoder).native(c.encoder),
    decoder: decoderArchitecture(c.decoder).native(c.decoder),
    ...specialTokens(c),
  };
}

/** The token ids the native model uses to build decoder inputs from labels. */
export function specialTokens(c: VisionEncoderDecoderConfig): NativeSpecialTokens {
  return { decoder_start_token_id: c.decoder_start_token_id, pad_token_id: c.pad_token_id, eos_token_id: c.eos_token_id };
}
