/** @acme/torch-caption: image captioning for Node.js on libtorch. */
export { Tensor, stack, type DType, type TensorData } from './tensor.js';
export {
  TorchCaptionError, InvalidArgumentError, FormatError, NativeLoadError, NativeError, UnsupportedConfigError, NonFiniteLossError,
  QueueFullError, ClosedError, DistributedError,
} from './errors.js';
export { VisionEncoderDecoder, type Device, type ModelDType, type LoadOptions, type ForwardInputs, type ForwardOutput } from './models/vision-encoder-decoder.js';
export { CaptioningModel, type SpecialTokenIds, type PromptTokenizer } from './models/captioning-model.js';
export { GitForCausalLM, type GitConfig, type GitVisionConfig } from './models/git.js';
export { BlipForConditionalGeneration, type BlipConfig, type BlipTextConfig, type BlipVisionConfig } from './models/blip.js';
export { AutoModelForVision2Seq, type CaptionModel } from './models/auto.js';
export {
  ViTModel, DeiTModel, BeitModel, SwinModel, CLIPVisionModel, GPT2LMHeadModel, BertLMHeadModel, RobertaForCausalLM,
  StandaloneModel, VisionEncoderModel, CausalLMModel, ComposedPart,
  type StandaloneClass, type EncoderForwardInputs, type EncoderForwardOutput, type CausalLMInputs, type CausalLMOutput,
} from './models/standalone.js';
export type { PretrainedPart } from './models/vision-encoder-decoder.js';
export { normalizeConfig, composeConfig, tinyConfig, type VisionEncoderDecoderConfig, type ViTConfig, type SwinConfig, type GPT2Config } from './models/config.js';
export { GENERATION_DEFAULTS, type GenerateOptions, type GenerateOutput } from './models/generation.js';
export { readSafetensors, writeSafetensors, readSafetensorsHeader } from './models/safetensors.js';
export { AdamW, HF_NO_DECAY, type AdamWOptions, type AdamWState } from './optim/index.js';
export { ImageProcessor, Tokenizer, buildLabels, type EncodeOptions, type TokenizerFamily } from './processing/index.js';
export type { TokenizerCallOptions, SingleEncoding, TensorBatchEncoding } from './processing/index.js';
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
export {
  Seq2SeqTrainer, Seq2SeqTrainingArguments, default_data_collator,
  type Seq2SeqTrainerOptions, type Seq2SeqTrainingArgumentsInput, type CaptionFeature, type CollatedBatch, type DataCollator, type ProcessingClass,
} from './train/index.js';
export { SummaryWriter, TensorBoardWriter, readTensorBoardEvents, type ReadEvent, type ReadValue } from './train/index.js';
export {
  distributed, ProcessGroup, launch, type DistributedBackend, type DistributedEnv, type DistributedInitOptions, type ReduceOp, type LaunchOptions,
} from './train/index.js';
export { doctor, type DoctorReport } from './doctor.js';
// Types the public API refers to (option, output and state types), exported so that they are nameable and in the API reference.
export type { TypedArrayFor } from './tensor.js';
export type { RawTensor } from './native.js';
export type { Saveable, TrainStepOptions, TrainStepResult, TrainStepProcessGroup } from './models/vision-encoder-decoder.js';
export type { EncoderConfig, DecoderConfig } from './models/config.js';
export type { GradScalerState } from './optim/index.js';
export type {
  ImageProcessorConfig, ImageProcessorConfigInput, PreprocessOptions, RgbImage, AddedTokenInfo, BatchEncodeOptions, BatchEncoding,
  DecodeOptions, SpecialTokensWrap, TokenizerLoadOptions, BuildLabelsOptions, LabelTokenizerExtras, Labels,
} from './processing/index.js';
export { DataLoader, SyntheticDataset } from './data/index.js';
export type {
  DataItem, ItemImage, DatasetNode, BatchSource, IterationContext, RandomAccess, StreamCursor, CursorValue, IterateOptions, ShuffleOptions, SplitOptions,
  Batch, BatchesOptions, CaptionSampling, EpochReport, LoaderState, LoaderStats,
  CocoOptions, KarpathyOptions, KarpathySplit, CsvOptions, ImageFolderOptions, JsonlOptions, ParquetOptions, WebDatasetOptions, SyntheticOptions, SyntheticItem,
} from './data/index.js';
export { CallbackHandler, LearningRateSchedule } from './train/index.js';
export type {
  CallbackEvent, CallbackExtras, CallbackFn, EarlyStoppingOptions, LogEntry, ComputeMetrics, EvalPrediction, PredictionOutput,
  SchedulerType, IntervalStrategy,
} from './train/index.js';
export type { CLIPVisionConfig, BeitConfig, BertConfig } from './models/config.js';
export type { TrainStepOptimizer, AutocastDType } from './models/vision-encoder-decoder.js';
export type { ImageSize, PilResample, Resizer, TruncationStrategy, PaddingStrategy } from './processing/index.js';
export type { ShapeKind, ShapeSize, Shape, Scene, SceneLayout, ResolvedSyntheticOptions } from './data/index.js';
export { CALLBACK_EVENTS } from './train/index.js';
export type { ScheduleOptions } from './train/index.js';
export type { CallbackResult } from './train/callbacks.js';
// pipeline inputs
export { FetchError, type FetchErrorCode } from './errors.js';
export { fetchImage, isImageUrl, resolveImageInput, DEFAULT_FETCH_MAX_BYTES, DEFAULT_FETCH_TIMEOUT_MS, type FetchImageOptions } from './processing/fetch-image.js';
export type {
  ImageToTextCallOptions, ImageToTextErrors, ImageToTextFailure, ImageToTextSequences, ImageToTextEntry, ImageToTextListOutput,
  ImageToTextCallErrors, ImageToTextCallNrs,
} from './pipeline.js';
