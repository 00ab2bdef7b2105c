/** Preprocessing: images (sharp + Pillow-exact resize), text (BERT / RoBERTa / GPT-2 tokenizers), caption labels. */
export {
  ImageProcessor,
  PIL_RESAMPLE_NAMES,
  parseImageProcessorConfig,
  type ImageProcessorConfig,
  type ImageProcessorConfigInput,
  type ImageSize,
  type PilResample,
  type PreprocessOptions,
  type Resizer,
} from './image-processor.js';
export { decodeRgb, DEFAULT_LIMIT_INPUT_PIXELS, type DecodeOptions as ImageDecodeOptions, type ResizeKernel, type RgbImage } from './decode.js';
export {
  Tokenizer,
  cleanUpTokenization,
  type AddedTokenInfo,
  type BatchEncodeOptions,
  type BatchEncoding,
  type DecodeOptions,
  type EncodeOptions,
  type PaddingStrategy,
  type SingleEncoding,
  type TensorBatchEncoding,
  type TokenizerCallOptions,
  type SpecialTokensWrap,
  type TokenizerFamily,
  type TokenizerLoadOptions,
  type TruncationStrategy,
} from './tokenizer.js';
export { loadTokenizer } from './load-tokenizer.js';
export { buildLabels, type BuildLabelsOptions, type LabelTokenizerExtras, type Labels } from './labels.js';
// The shared image and label-tokenizer types (lib/types.ts); RawPixels and isRawPixels are this module's old names.
export {
  isRawImage,
  isRawImage as isRawPixels,
  type ImageInput,
  type ImageSource,
  type LabelTokenizer,
  type RawImage,
  type RawImage as RawPixels,
} from '../types.js';
