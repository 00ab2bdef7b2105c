/**
 * The library's shared vocabulary: one name per concept for images, tokenizers and image processors.
 *
 * Why here, at the lib root, and not in lib/processing: these are interfaces with no implementation, and
 * every layer speaks them. lib/processing implements them (ImageProcessor, Tokenizer), lib/data carries
 * images in its items and calls a processor and a tokenizer in the loader, lib/train and lib/pipeline take
 * user-supplied ones. In the base layer (beside errors.ts, tensor.ts, json.ts) any layer may import them
 * without depending on a sibling layer's implementation (see docs/architecture.md, "Layers and imports").
 */
import type { Tensor } from './tensor.js';

/**
 * Decoded pixels handed straight to the image processor, skipping file decoding: 8-bit samples,
 * interleaved (HWC, row-major), `data.length === width * height * channels`; 1 = L, 2 = LA, 3 = RGB,
 * 4 = RGBA. The synthetic shapes set produces these (channels 3, RGB).
 */
export interface RawImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/**
 * True for an object shaped like a RawImage ({data: Uint8Array, width, height, channels} numbers). It checks
 * the shape only: whether the numbers are valid (positive integers, channels 1..4, the byte count) is for the
 * consumer to check, so that it can name the problem (the loader counts such items as 'bad_image', the image
 * processor throws InvalidArgumentError).
 */
export function isRawImage(value: unknown): value is RawImage {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  const v = value as Partial<RawImage>;
  return v.data instanceof Uint8Array && typeof v.width === 'number' && typeof v.height === 'number'
    && typeof v.channels === 'number';
}

/** An encoded image: a file path or the bytes of one (JPEG, PNG, WebP, GIF, TIFF, AVIF, ...; a Buffer is a Uint8Array). */
export type ImageSource = string | Uint8Array;

/** Anything an image processor's preprocess takes: an encoded image (path or bytes) or raw pixels. */
export type ImageInput = ImageSource | RawImage;

/**
 * The tokenizer interface: what the data loader, the Trainer and the pipeline call. lib/processing's Tokenizer
 * implements it, as do the word-level demo tokenizer and user classes. Functions that need less take a
 * `Pick<CaptionTokenizer, ...>` (see LabelTokenizer).
 */
export interface CaptionTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skip_special_tokens?: boolean }): string;
  readonly eos_token_id: number | null;
  readonly pad_token_id: number | null;
  readonly bos_token_id: number | null;
  /** BERT-style tokenizers have [CLS]/[SEP] instead of bos/eos: captioning uses them as start and end. */
  readonly cls_token_id?: number | null;
  readonly sep_token_id?: number | null;
  /** Base vocabulary size (HF vocab_size). */
  readonly vocab_size: number;
  /** Ids including added tokens (HF len(tokenizer)), when it differs from vocab_size. */
  readonly vocabSizeWithAddedTokens?: number;
  /** Writes the tokenizer files (tokenizer.json, tokenizer_config.json, ...) into a folder. */
  save?(dir: string): Promise<void>;
}

/** What caption labels need from a tokenizer (buildLabels, the data loader). */
export type LabelTokenizer = Pick<CaptionTokenizer, 'encode' | 'eos_token_id'>;

/**
 * The image processor interface: images in, float32 pixel_values [B, 3, H, W] out. lib/processing's
 * ImageProcessor implements it (raw pixels included); functions that need less take a Pick (see ImagePreprocessor).
 */
export interface CaptionImageProcessor {
  preprocess(inputs: ImageInput | readonly ImageInput[]): Promise<Tensor>;
  /** Writes preprocessor_config.json into a folder. */
  save?(dir: string): Promise<void>;
  /** preprocessor_config.json fields (image_mean/image_std are used to turn pixels back into images for the report). */
  readonly config?: { image_mean?: readonly number[]; image_std?: readonly number[]; do_normalize?: boolean; rescale_factor?: number };
}

/** What the data loader needs from an image processor: preprocess only. */
export type ImagePreprocessor = Pick<CaptionImageProcessor, 'preprocess'>;

/** Number of distinct token ids a tokenizer can produce. */
export function tokenizerIdCount(t: Pick<CaptionTokenizer, 'vocab_size' | 'vocabSizeWithAddedTokens'>): number {
  return Math.max(t.vocab_size, t.vocabSizeWithAddedTokens ?? 0);
}
