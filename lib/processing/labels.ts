/**
 * Caption labels for training: the one implementation the data loader and the Trainer use.
 *
 * Each caption is tokenized, truncated to leave room for the end token, and ends with it (so the model learns
 * where a caption ends). The end token is each decoder's convention:
 * - tokenizers whose encode() adds no special tokens (GPT-2, word level): EOS is appended, `encode(c) + [eos]`;
 * - tokenizers whose encode() wraps the text (BERT `[CLS] ... [SEP]`, RoBERTa `<s> ... </s>`, told by the
 *   tokenizer's `special_tokens_wrap`): the leading start token is dropped (decoder_start_token_id plays its role)
 *   and the trailing one is the end token, `encode(c)[1:]` (BERT: ... 102, RoBERTa: ... 2); none is appended.
 * Rows are padded to one length, and only the padding after the end token is masked: with padLabel -100
 * (default) the loss ignores it; an end token that belongs to the caption always keeps its label. This avoids
 * the classic GPT-2 captioning bug of setting pad = eos and then masking every eos-valued position, which
 * hides the end of every caption from the loss.
 */
import { expected, InvalidArgumentError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { LabelTokenizer } from '../types.js';

/**
 * What buildLabels also uses when a tokenizer has it (lib/processing's Tokenizer does): the special tokens
 * encode() puts around a text, and a batch encode (one call to the tokenizers library for the batch).
 */
export interface LabelTokenizerExtras {
  readonly special_tokens_wrap?: { readonly start: readonly number[]; readonly end: readonly number[] } | null;
  encodeBatch?(texts: readonly string[]): number[][];
}

export interface BuildLabelsOptions {
  /** Maximum row length including the end token. Captions longer than that are truncated. */
  max_length?: number;
  /**
   * End every caption with the end token (default true): EOS appended, or the trailing special token of a
   * wrapping tokenizer kept (BERT [SEP], RoBERTa </s>). false: caption tokens only.
   */
  appendEos?: boolean;
  /** Label of padding positions: -100 (ignored by the loss, default) or 'eos' (pad with the end token, tutorial style). */
  padLabel?: -100 | 'eos';
  /** 'longest' (default): pad to the longest row of the batch; 'max_length': pad every row to max_length. */
  padding?: 'longest' | 'max_length';
}

export interface Labels {
  /** int64 [B, T]. */
  labels: Tensor<'int64'>;
  /** Real tokens per row, end token included (the first `lengths[i]` labels of row i are never padding). */
  lengths: number[];
}

/** Tokenize captions into padded label rows (see the module comment for the masking rule). */
export function buildLabels(captions: readonly string[], tokenizer: LabelTokenizer & LabelTokenizerExtras, opts: BuildLabelsOptions = {}): Labels {
  if (!Array.isArray(captions)) expected('an array of caption strings', 'captions', captions);
  if (opts === null || typeof opts !== 'object') expected('an options object', 'buildLabels options', opts);
  const { max_length: maxLength, appendEos = true, padLabel = -100, padding = 'longest' } = opts;
  if (typeof appendEos !== 'boolean') expected('a boolean', 'appendEos', appendEos);
  if (padLabel !== -100 && padLabel !== 'eos') expected("-100 or 'eos'", 'padLabel', padLabel);
  if (padding !== 'longest' && padding !== 'max_length') expected("'longest' or 'max_length'", 'padding', padding);
  // A wrapping tokenizer: encode(c) = start + caption + end, with a non-empty end (BERT, RoBERTa).
  const wrap = tokenizer.special_tokens_wrap;
  const wrapped = wrap !== null && wrap !== undefined && wrap.end.length > 0;
  const endIds: readonly number[] = wrapped ? wrap.end : [];
  const eos = wrapped ? endIds[endIds.length - 1]! : tokenizer.eos_token_id;
  const endLength = appendEos ? (wrapped ? endIds.length : 1) : 0;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < Math.max(endLength, 1))) {
    expected(`an integer >= ${Math.max(endLength, 1)}`, 'max_length', maxLength);
  }
  if (padding === 'max_length' && maxLength === undefined) expected("a max_length with padding: 'max_length'", 'max_length', maxLength);
  if ((appendEos || padLabel === 'eos') && (eos === null || eos === undefined)) {
    throw new InvalidArgumentError('Expected a tokenizer with an eos token for buildLabels but eos_token_id is null');
  }
  captions.forEach((c, i) => {
    if (typeof c !== 'string') expected('a string', `captions[${i}]`, c);
  });
  const encoded = typeof tokenizer.encodeBatch === 'function' ? tokenizer.encodeBatch(captions) : captions.map((c) => tokenizer.encode(c));
  const rows = encoded.map((all) => {
    let ids = wrapped ? all.slice(wrap.start.length, all.length - endIds.length) : all;
    if (maxLength !== undefined && ids.length + endLength > maxLength) ids = ids.slice(0, maxLength - endLength);
    if (!appendEos) return ids;
    return wrapped ? [...ids, ...endIds] : [...ids, eos as number];
  });
  const lengths = rows.map((r) => r.length);
  const width = padding === 'max_length' ? (maxLength as number) : lengths.reduce((m, n) => Math.max(m, n), 0);
  const fill = BigInt(padLabel === 'eos' ? (eos as number) : -100);
  const data = new BigInt64Array(rows.length * width).fill(fill);
  rows.forEach((r, i) => {
    for (let j = 0; j < r.length; j++) data[i * width + j] = BigInt(r[j]!);
  });
  return { labels: Tensor.from(data, [rows.length, width]) as Tensor<'int64'>, lengths };
}
