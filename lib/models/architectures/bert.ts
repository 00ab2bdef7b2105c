/**
 * BERT (BertLMHeadModel) and RoBERTa (RobertaForCausalLM) as caption decoders: BertConfig's fields, with
 * cross-attention added for captioning. RoBERTa's positions start after its padding row.
 */
import { UnsupportedConfigError } from '../../errors.js';
import type { NativeBertConfig } from '../../native.js';
import { bool, checkBertText, int, type DecoderArchitecture, type RawConfig } from './common.js';

export interface BertConfig {
  model_type: 'bert' | 'roberta';
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  bos_token_id: number | null;
  eos_token_id: number | null;
  position_embedding_type: string;
  add_cross_attention: boolean;
  is_decoder: boolean;
  tie_word_embeddings: boolean;
  [key: string]: unknown;
}

/** BertConfig's defaults. */
const BERT_DEFAULTS = {
  vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu',
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512, type_vocab_size: 2, initializer_range: 0.02,
  layer_norm_eps: 1e-12, pad_token_id: 0, bos_token_id: null, eos_token_id: null, position_embedding_type: 'absolute',
  add_cross_attention: false, is_decoder: false, tie_word_embeddings: true,
};

/** RobertaConfig's: BERT's with RoBERTa's vocabulary and special ids. */
const ROBERTA_DEFAULTS = { ...BERT_DEFAULTS, vocab_size: 50265, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2 };

function normalizeWith(defaults: RawConfig, modelType: 'bert' | 'roberta'): (raw: RawConfig) => BertConfig {
  return (raw) => {
    const c = { ...defaults, ...raw, model_type: modelType } as BertConfig;
    checkBertText(c, 'decoder');
    int(c, 'type_vocab_size', 'decoder');
    int(c, 'pad_token_id', 'decoder', 0);
    for (const k of ['add_cross_attention', 'tie_word_embeddings']) bool(c, k, 'decoder');
    if (c.position_embedding_type !== 'absolute') {
      throw new UnsupportedConfigError(`decoder.position_embedding_type = ${JSON.stringify(c.position_embedding_type)} is not supported (supported: absolute)`);
    }
    return c;
  };
}

/** The fields of a BERT-style text config that the native side reads, under the same keys in every family. */
export type BertTextFields = Pick<NativeBertConfig, 'vocab_size' | 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'intermediate_size'
  | 'max_position_embeddings' | 'pad_token_id' | 'hidden_dropout_prob' | 'attention_probs_dropout_prob' | 'initializer_range' | 'layer_norm_eps' | 'hidden_act'>;

/** The native text config of a BERT-style stack; `shape` says what differs per family (token types, cross-attention, head). */
export function nativeBertText(
  c: BertTextFields,
  shape: Pick<NativeBertConfig, 'model_type' | 'type_vocab_size' | 'encoder_hidden_size' | 'add_cross_attention' | 'tie_word_embeddings'>,
): NativeBertConfig {
  return {
    vocab_size: c.vocab_size, hidden_size: c.hidden_size, num_hidden_layers: c.num_hidden_layers, num_attention_heads: c.num_attention_heads,
    intermediate_size: c.intermediate_size, max_position_embeddings: c.max_position_embeddings, pad_token_id: c.pad_token_id,
    hidden_dropout_prob: c.hidden_dropout_prob, attention_probs_dropout_prob: c.attention_probs_dropout_prob, initializer_range: c.initializer_range,
    layer_norm_eps: c.layer_norm_eps, hidden_act: c.hidden_act, ...shape,
  };
}

function native(c: BertConfig): NativeBertConfig {
  return nativeBertText(c, {
    model_type: c.model_type, type_vocab_size: c.type_vocab_size, encoder_hidden_size: c.hidden_size,
    add_cross_attention: c.add_cross_attention, tie_word_embeddings: c.tie_word_embeddings,
  });
}

/** Standalone keys: BertLMHeadModel/BertForMaskedLM already say bert.* and cls.*; a bare BertModel lacks the prefix; poolers and NSP heads go. */
function keyUnder(prefix: string, head: string): (name: string) => string | null {
  return (name) => {
    if (name.startsWith(`${prefix}.pooler.`) || name.startsWith('pooler.') || name.startsWith('cls.seq_relationship.')) return null;
    if (name.startsWith(`${prefix}.`) || name.startsWith(`${head}.`)) return name;
    return `${prefix}.${name}`;
  };
}

export const bert: DecoderArchitecture<BertConfig> = {
  modelTypes: ['bert'], normalize: normalizeWith(BERT_DEFAULTS, 'bert'), native,
  hiddenSize: (c) => c.hidden_size, vocabSize: (c) => c.vocab_size, positionsField: 'max_position_embeddings', maxLength: (c) => c.max_position_embeddings,
  decoderKey: keyUnder('bert', 'cls'),
  newWhenComposed: /crossattention/,
};

export const roberta: DecoderArchitecture<BertConfig> = {
  modelTypes: ['roberta'], normalize: normalizeWith(ROBERTA_DEFAULTS, 'roberta'), native,
  hiddenSize: (c) => c.hidden_size, vocabSize: (c) => c.vocab_size,
  // Positions 0 .. pad are reserved: the first token sits at pad + 1.
  positionsField: 'max_position_embeddings', maxLength: (c) => c.max_position_embeddings - c.pad_token_id - 1,
  decoderKey: keyUnder('roberta', 'lm_head'),
  newWhenComposed: /crossattention/,
};
