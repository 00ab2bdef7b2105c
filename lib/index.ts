/** @acme/torch-caption: image captioning for Node.js on libtorch. */
export { Tensor, stack, type DType, type TensorData } from './tensor.js';
export {
  TorchCaptionError, InvalidArgumentError, FormatError, NativeLoadError, NativeError, UnsupportedConfigError, NonFiniteLossError,
} from './errors.js';
export { VisionEncoderDecoder, type Device, type ModelDType, type LoadOptions, type ForwardInputs, type ForwardOutput } from './models/vision-encoder-decoder.js';
export { normalizeConfig, composeConfig, tinyConfig, type VisionEncoderDecoderConfig, type ViTConfig, type SwinConfig, type GPT2Config } from './models/config.js';
export { GENERATION_DEFAULTS, type GenerateOptions, type GenerateOutput } from './models/generation.js';
export { readSafetensors, writeSafetensors, readSafetensorsHeader } from './models/safetensors.js';
export { AdamW, HF_NO_DECAY, type AdamWOptions, type AdamWState } from './optim/index.js';
export { ImageProcessor, Tokenizer, buildLabels, type EncodeOptions, type TokenizerFamily } from './processing/index.js';
export {
  type BatchEncodeOptions, type BatchEncoding, type DecodeOptions, type PaddingStrategy, type TruncationStrategy,
  type TokenizerCallOptions, type SingleEncoding, type TensorBatchEncoding,
} from './processing/index.js';
export {
  isRawImage, tokenizerIdCount,
  type RawImage, type ImageSource, type ImageInput, type CaptionTokenizer, type LabelTokenizer, type CaptionImageProcessor, type ImagePreprocessor,
} from './types.js';
export { pipeline, type ImageToTextPipeline, type ImageToTextOutput } from './pipeline.js';
export { datasets, Dataset } from './data/index.js';
export { scoreCaptions } from './metrics/index.js';
export * as metrics from './metrics/index.js';
export {
  Trainer, EarlyStoppingCallback, GradScaler, TrainerControl, TrainerState, TRAINING_ARGS_DEFAULTS, resolveTrainingArguments,
  type GradScalerOptions,
  type TrainerOptions, type TrainingArguments, type TrainingArgumentsInput, type TrainerCallback, type TrainOutput,
} from './train/index.js';
export {
  Seq2SeqTrainer, Seq2SeqTrainingArguments, default_data_collator,
  type Seq2SeqTrainerOptions, type Seq2SeqTrainingArgumentsInput, type CaptionFeature, type CollatedBatch, type DataCollator, type ProcessingClass,
  type PredictionOutput, type EvalPrediction, type ComputeMetrics,
} from './train/index.js';
export { SummaryWriter, TensorBoardWriter, readTensorBoardEvents, type ReadEvent, type ReadValue } from './train/index.js';
export { doctor, type DoctorReport } from './doctor.js';
