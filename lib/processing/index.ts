/** Preprocessing: images (sharp + Pillow-exact resize), text (byte-level BPE), caption labels. */
export {
  ImageProcessor,
  isRawPixels,
  type RawPixels,
  PIL_RESAMPLE_NAMES,
  parseImageProcessorConfig,
  type ImageInput,
  type ImageProcessorConfig,
  type ImageProcessorConfigInput,
  type ImageSize,
  type PilResample,
  type PreprocessOptions,
  type Resizer,
} from './image-processor.js';
export { decodeRgb, DEFAULT_LIMIT_INPUT_PIXELS, type DecodeOptions as ImageDecodeOptions, type RgbImage } from './decode.js';
export {
  Tokenizer,
  cleanUpTokenization,
  type AddedTokenInfo,
  type BatchEncodeOptions,
  type BatchEncoding,
  type DecodeOptions,
  type PaddingStrategy,
  type TokenizerLoadOptions,
  type TruncationStrategy,
} from './tokenizer.js';
export { buildLabels, type BuildLabelsOptions, type LabelTokenizer, type Labels } from './labels.js';
