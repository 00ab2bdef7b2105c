/** GPT-2 (GPT2LMHeadModel) as a caption decoder, with cross-attention added for captioning. */
import type { NativeGPT2Config } from '../../native.js';
import { activation, bool, divisible, int, prob, type DecoderArchitecture, type RawConfig } from './common.js';

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

const DEFAULTS = {
  vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, n_inner: null, activation_function: 'gelu_new',
  resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1, layer_norm_epsilon: 1e-5, initializer_range: 0.02,
  add_cross_attention: false, is_decoder: false, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false,
  tie_word_embeddings: true, bos_token_id: 50256, eos_token_id: 50256,
};

function normalize(raw: RawConfig): GPT2Config {
  const c = { ...DEFAULTS, ...raw } as GPT2Config;
  for (const k of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head']) int(c, k, 'decoder');
  divisible(c, 'n_embd', 'n_head', 'decoder');
  activation(c, 'activation_function', 'decoder');
  for (const k of ['resid_pdrop', 'embd_pdrop', 'attn_pdrop']) prob(c, k, 'decoder');
  for (const k of ['add_cross_attention', 'scale_attn_weights', 'scale_attn_by_inverse_layer_idx', 'tie_word_embeddings']) bool(c, k, 'decoder');
  // reorder_and_upcast_attn is accepted as is: it only changes numerics under fp16/bf16 autocast.
  return c;
}

function native(d: GPT2Config): NativeGPT2Config {
  return {
    model_type: 'gpt2', vocab_size: d.vocab_size, n_positions: d.n_positions, n_embd: d.n_embd, n_layer: d.n_layer, n_head: d.n_head,
    n_inner: d.n_inner ?? 4 * d.n_embd, // GPT2MLP: inner_dim = n_inner if not None else 4 * hidden_size
    layer_norm_epsilon: d.layer_norm_epsilon, resid_pdrop: d.resid_pdrop, embd_pdrop: d.embd_pdrop, attn_pdrop: d.attn_pdrop,
    initializer_range: d.initializer_range, activation_function: d.activation_function, add_cross_attention: d.add_cross_attention,
    scale_attn_weights: d.scale_attn_weights, scale_attn_by_inverse_layer_idx: d.scale_attn_by_inverse_layer_idx,
    tie_word_embeddings: d.tie_word_embeddings,
  };
}

export const gpt2: DecoderArchitecture<GPT2Config> = {
  modelTypes: ['gpt2'], normalize, native,
  hiddenSize: (c) => c.n_embd, vocabSize: (c) => c.vocab_size, positionsField: 'n_positions', maxLength: (c) => c.n_positions,
  // GPT2LMHeadModel keys are transformer.* and lm_head.*; a bare GPT2Model's lack the transformer. prefix.
  decoderKey: (name) => (name.startsWith('transformer.') || name.startsWith('lm_head.') ? name : `transformer.${name}`),
  newWhenComposed: /crossattention|ln_cross_attn/,
};
