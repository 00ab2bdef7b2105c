/**
 * What every architecture module (vit.ts, deit.ts, swin.ts, gpt2.ts, bert.ts, ...) provides, and the checks
 * they share. An architecture owns its Hugging Face defaults, its validation, the object the native side is
 * built from, and how its standalone checkpoints map into a VisionEncoderDecoder: adding one is adding a
 * file here (and its native pair), plus a line in index.ts.
 */
import { InvalidArgumentError, UnsupportedConfigError } from '../../errors.js';
import type { NativeDecoderConfig, NativeEncoderConfig } from '../../native.js';

export type RawConfig = Record<string, unknown>;

export interface EncoderArchitecture<C extends RawConfig = RawConfig> {
  /** config.json model_type values this module reads. */
  readonly modelTypes: readonly string[];
  /** HF defaults filled in and every value checked; model_type as given. */
  normalize(raw: RawConfig): C;
  native(c: C): NativeEncoderConfig;
  hiddenSize(c: C): number;
  imageSize(c: C): number;
  /** Key prefixes of standalone checkpoints (ViTModel 'vit.', DeiTForImageClassification 'deit.', ...), stripped on load. */
  readonly checkpointPrefixes: readonly string[];
}

export interface DecoderArchitecture<C extends RawConfig = RawConfig> {
  readonly modelTypes: readonly string[];
  normalize(raw: RawConfig): C;
  native(c: C): NativeDecoderConfig;
  hiddenSize(c: C): number;
  vocabSize(c: C): number;
  /** The longest sequence (start token included) the position table allows, and the field that sets it. */
  maxLength(c: C): number;
  readonly positionsField: string;
  /** A standalone checkpoint key (GPT2LMHeadModel, BertModel, ...) as the decoder names it, or null to drop it. */
  decoderKey(name: string): string | null;
  /** Parameters that from_encoder_decoder_pretrained creates fresh (cross-attention). */
  readonly newWhenComposed: RegExp;
}

const ACTIVATIONS = new Set(['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish', 'tanh', 'quick_gelu']);

export function int(obj: RawConfig, key: string, where: string, min = 1): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new InvalidArgumentError(`Expected an integer >= ${min} for ${where}.${key} but received ${JSON.stringify(v)}`);
  }
  return v;
}

export function prob(obj: RawConfig, key: string, where: string): void {
  const v = obj[key];
  if (typeof v !== 'number' || v < 0 || v >= 1) {
    throw new InvalidArgumentError(`Expected a number in [0, 1) for ${where}.${key} but received ${JSON.stringify(v)}`);
  }
}

export function positive(obj: RawConfig, key: string, where: string): void {
  const v = obj[key];
  if (typeof v !== 'number' || !(v > 0)) throw new InvalidArgumentError(`Expected a positive number for ${where}.${key} but received ${JSON.stringify(v)}`);
}

export function activation(obj: RawConfig, key: string, where: string): void {
  const v = obj[key];
  if (typeof v !== 'string' || !ACTIVATIONS.has(v)) {
    throw new UnsupportedConfigError(`${where}.${key} = ${JSON.stringify(v)} is not supported (supported: ${[...ACTIVATIONS].join(', ')})`);
  }
}

export function bool(obj: RawConfig, key: string, where: string): void {
  if (typeof obj[key] !== 'boolean') throw new InvalidArgumentError(`Expected true or false for ${where}.${key} but received ${JSON.stringify(obj[key])}`);
}

export function divisible(c: RawConfig, width: string, heads: string, where: string): void {
  const w = c[width] as number;
  const h = c[heads] as number;
  if (w % h !== 0) throw new InvalidArgumentError(`${where}.${width} (${w}) must be divisible by ${where}.${heads} (${h})`);
}

/** Patch-embedding encoders: positions exist only for a grid of whole patches. */
export function wholePatches(c: RawConfig, where: string): void {
  const size = c.image_size as number;
  const patch = c.patch_size as number;
  if (size % patch !== 0) throw new UnsupportedConfigError(`${where}.image_size (${size}) must be a multiple of ${where}.patch_size (${patch})`);
}

/**
 * The checks every BERT-style text stack shares (the BERT/RoBERTa decoders, GIT's text side, BLIP's
 * text_config): positive sizes, heads dividing the width, a known activation, dropouts in [0, 1), a positive eps.
 */
export function checkBertText(c: RawConfig, where: string): void {
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings']) int(c, k, where);
  divisible(c, 'hidden_size', 'num_attention_heads', where);
  activation(c, 'hidden_act', where);
  prob(c, 'hidden_dropout_prob', where);
  prob(c, 'attention_probs_dropout_prob', where);
  positive(c, 'layer_norm_eps', where);
}
