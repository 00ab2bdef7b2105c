/**
 * What the Trainer needs from a tokenizer and an image processor: the subset of lib/processing's Tokenizer and
 * ImageProcessor it calls, so the word-level demo tokenizer (demo-tokenizer.ts) and user classes fit too.
 */
import type { Tensor } from '../tensor.js';
import type { ItemImage as ImageInput } from '../data/types.js';

export interface CaptionTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skip_special_tokens?: boolean }): string;
  readonly eos_token_id: number | null;
  readonly pad_token_id: number | null;
  readonly bos_token_id: number | null;
  /** Base vocabulary size (HF vocab_size). */
  readonly vocab_size: number;
  /** Ids including added tokens (HF len(tokenizer)), when it differs from vocab_size. */
  readonly vocabSizeWithAddedTokens?: number;
  /** Writes the tokenizer files (tokenizer.json, tokenizer_config.json, ...) into a folder. */
  save?(dir: string): Promise<void>;
}

export interface CaptionImageProcessor {
  preprocess(inputs: ImageInput | ImageInput[]): Promise<Tensor>;
  /** Writes preprocessor_config.json into a folder. */
  save?(dir: string): Promise<void>;
  /** preprocessor_config.json fields (image_mean/image_std are used to turn pixels back into images for the report). */
  readonly config?: { image_mean?: readonly number[]; image_std?: readonly number[]; do_normalize?: boolean; rescale_factor?: number };
}

/** Number of distinct token ids a tokenizer can produce. */
export function tokenizerIdCount(t: CaptionTokenizer): number {
  return Math.max(t.vocab_size, t.vocabSizeWithAddedTokens ?? 0);
}
