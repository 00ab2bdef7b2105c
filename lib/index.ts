/** @acme/torch-caption: image captioning for Node.js on libtorch. */
export { Tensor, stack, type DType, type TensorData } from './tensor.js';
export {
  TorchCaptionError, InvalidArgumentError, FormatError, NativeLoadError, NativeError, UnsupportedConfigError, NonFiniteLossError,
  QueueFullError, ClosedError,
} from './errors.js';
export { VisionEncoderDecoder, type Device, type ModelDType, type LoadOptions, type ForwardInputs, type ForwardOutput } from './models/vision-encoder-decoder.js';
export { normalizeConfig, composeConfig, tinyConfig, type VisionEncoderDecoderConfig, type ViTConfig, type SwinConfig, type GPT2Config } from './models/config.js';
export { GENERATION_DEFAULTS, type GenerateOptions, type GenerateOutput } from './models/generation.js';
export { readSafetensors, writeSafetensors, readSafetensorsHeader } from './models/safetensors.js';
export { AdamW, HF_NO_DECAY, type AdamWOptions, type AdamWState } from './optim/index.js';
export { ImageProcessor, Tokenizer, buildLabels, type EncodeOptions, type TokenizerFamily } from './processing/index.js';
export {
  isRawImage, tokenizerIdCount,
  type RawImage, type ImageSource, type ImageInput, type CaptionTokenizer, type LabelTokenizer, type CaptionImageProcessor, type ImagePreprocessor,
} from './types.js';
export { pipeline, type ImageToTextPipeline, type ImageToTextOutput, type PipelineOptions } from './pipeline.js';
export {
  Captioner, type CaptionerOptions, type BatchingOptions, type CaptionOptions, type CaptionOutput, type CaptionerStats,
} from './serve/captioner.js';
export { CaptionServer, startServer, type ServerOptions, type StartServerOptions, type ListenInfo } from './serve/server.js';
export { datasets, Dataset } from './data/index.js';
export { scoreCaptions } from './metrics/index.js';
export * as metrics from './metrics/index.js';
export {
  Trainer, EarlyStoppingCallback, GradScaler, TrainerControl, TrainerState, TRAINING_ARGS_DEFAULTS, resolveTrainingArguments,
  type GradScalerOptions,
  type TrainerOptions, type TrainingArguments, type TrainingArgumentsInput, type TrainerCallback, type TrainOutput,
} from './train/index.js';
export { doctor, type DoctorReport } from './doctor.js';
