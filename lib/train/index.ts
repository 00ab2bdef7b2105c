/** Training: the Trainer, its arguments, schedules, callbacks, checkpoints, logging, the data-parallel launcher and the demo. See docs/training.md. */
export { Trainer, type TrainerOptions, type TrainOutput, type PredictionOutput, type EvalPrediction, type ComputeMetrics } from './trainer.js';
// HF's Seq2SeqTrainer is this Trainer (predict_with_generate, generation_max_length, generation_num_beams): one class, two names.
export {
  Trainer as Seq2SeqTrainer, default_data_collator,
  type TrainerOptions as Seq2SeqTrainerOptions, type CaptionFeature, type CollatedBatch, type DataCollator, type ProcessingClass,
} from './trainer.js';
export {
  resolveTrainingArguments, trainingArgumentNames, TRAINING_ARGS_DEFAULTS,
  type TrainingArguments, type TrainingArgumentsInput, type IntervalStrategy, type ReportTarget,
} from './training-args.js';
export { Seq2SeqTrainingArguments, type Seq2SeqTrainingArgumentsInput } from './training-args.js';
export { lrLambda, warmupSteps, LearningRateSchedule, SCHEDULER_TYPES, type SchedulerType, type ScheduleOptions } from './schedules.js';
export {
  CallbackHandler, DefaultFlowCallback, EarlyStoppingCallback, TrainerControl, TrainerState, CALLBACK_EVENTS,
  type TrainerCallback, type CallbackEvent, type CallbackExtras, type CallbackFn, type EarlyStoppingOptions, type LogEntry,
} from './callbacks.js';
export { listCheckpoints, latestCheckpoint, rotateCheckpoints, type CheckpointInfo } from './checkpoint.js';
export { TensorBoardWriter, SummaryWriter, readTensorBoardEvents, type ReadEvent, type ReadValue, type EventValue } from './tensorboard.js';
export { WordLevelTokenizer, loadTokenizer, type WordLevelBuildOptions, type TokenizersTokenizer, type TokenizersEncoding } from './demo-tokenizer.js';
export { RawImageSupport } from './raw-images.js';
export {
  distributed, distributedEnv, isDistributedLaunch, ProcessGroup,
  type DistributedBackend, type DistributedEnv, type DistributedInitOptions, type ReduceOp,
} from './distributed.js';
export { launch, type LaunchOptions } from './launcher.js';
export { runDemo, DEMO_DEFAULTS, type DemoOptions, type DemoResult, type DemoSample } from './demo.js';
// lib/optim's names, re-exported here as before the move.
export { GradScaler, type GradScalerOptions, type GradScalerState } from '../optim/grad-scaler.js';
export { AdamW, HF_NO_DECAY, type AdamWOptions, type AdamWState } from '../optim/adamw.js';
export type { CaptionTokenizer, CaptionImageProcessor } from '../types.js';
