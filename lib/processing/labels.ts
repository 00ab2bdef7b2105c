/**
 * Caption labels for training: the one implementation the data loader and the Trainer use.
 *
 * Each caption is tokenized, truncated to leave room for the end-of-sequence token, and EOS is appended (so
 * the model learns where a caption ends). Rows are padded to one length, and only the padding after the
 * EOS is masked: with padLabel -100 (default) the loss ignores it; an EOS that belongs to the caption always
 * keeps its label. This avoids the classic GPT-2 captioning bug of setting pad = eos and then masking every
 * eos-valued position, which hides the end of every caption from the loss.
 */
import { expected, InvalidArgumentError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { LabelTokenizer } from '../types.js';

export interface BuildLabelsOptions {
  /** Maximum row length including the appended EOS. Captions longer than that are truncated. */
  max_length?: number;
  /** Append EOS to every caption (default true). */
  appendEos?: boolean;
  /** Label of padding positions: -100 (ignored by the loss, default) or 'eos' (pad with EOS, tutorial style). */
  padLabel?: -100 | 'eos';
  /** 'longest' (default): pad to the longest row of the batch; 'max_length': pad every row to max_length. */
  padding?: 'longest' | 'max_length';
}

export interface Labels {
  /** int64 [B, T]. */
  labels: Tensor<'int64'>;
  /** Real tokens per row, EOS included (the first `lengths[i]` labels of row i are never padding). */
  lengths: number[];
}

/** Tokenize captions into padded label rows (see the module comment for the masking rule). */
export function buildLabels(captions: readonly string[], tokenizer: LabelTokenizer, opts: BuildLabelsOptions = {}): Labels {
  if (!Array.isArray(captions)) expected('an array of caption strings', 'captions', captions);
  if (opts === null || typeof opts !== 'object') expected('an options object', 'buildLabels options', opts);
  const { max_length: maxLength, appendEos = true, padLabel = -100, padding = 'longest' } = opts;
  if (typeof appendEos !== 'boolean') expected('a boolean', 'appendEos', appendEos);
  if (padLabel !== -100 && padLabel !== 'eos') expected("-100 or 'eos'", 'padLabel', padLabel);
  if (padding !== 'longest' && padding !== 'max_length') expected("'longest' or 'max_length'", 'padding', padding);
  const minLength = appendEos ? 1 : 0;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < Math.max(minLength, 1))) {
    expected(`an integer >= ${Math.max(minLength, 1)}`, 'max_length', maxLength);
  }
  if (padding === 'max_length' && maxLength === undefined) expected("a max_length with padding: 'max_length'", 'max_length', maxLength);
  const eos = tokenizer.eos_token_id;
  if ((appendEos || padLabel === 'eos') && (eos === null || eos === undefined)) {
    throw new InvalidArgumentError('Expected a tokenizer with an eos token for buildLabels but eos_token_id is null');
  }
  const rows = captions.map((c, i) => {
    if (typeof c !== 'string') expected('a string', `captions[${i}]`, c);
    let ids = tokenizer.encode(c);
    if (maxLength !== undefined && ids.length + minLength > maxLength) ids = ids.slice(0, maxLength - minLength);
    return appendEos ? [...ids, eos as number] : ids;
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
