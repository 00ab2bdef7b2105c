/**
 * Typed facade over the native addon. Which binary loads (a local build, or a CPU/CUDA prebuild) is
 * lib/native-binary.ts's; when none loads the error names the cause and the fix rather than showing a raw
 * dlopen message.
 */
import { createRequire } from 'node:module';
import { DistributedError, FormatError, InvalidArgumentError, NativeError, NativeLoadError } from './errors.js';
import { binaryCandidates, explainLoadFailures, type BinaryCandidate, type PrebuildInfo } from './native-binary.js';
import { packageRoot } from './paths.js';
import type { DType } from './tensor.js';

const require = createRequire(import.meta.url);

/** A tensor as it crosses the boundary: plain object, typed array data. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

export interface NativeBuildInfo {
  addonVersion: string;
  torchVersion: string;
  torchDir: string;
  cxx11Abi: boolean;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cudaDeviceName: string | null;
  numThreads: number;
  numInteropThreads: number;
  /** The BLAS's own thread count (OpenBLAS's), libtorch's intra-op count where the BLAS does not say. */
  blasThreads: number;
  parallelInfo: string;
  /** The c10d backends this build can create ('gloo', 'nccl'). */
  distributedBackends: string[];
}

// ---- The objects that cross the boundary. TypeScript fills every field (defaults and user-facing checks
// live on this side only); the addon reads them with no fallbacks and keeps only invariant checks.

export interface NativeViTConfig {
  /** DeiT has ViT's fields (and a distillation token). */
  model_type: 'vit' | 'deit';
  hidden_size: number; num_hidden_layers: number; num_attention_heads: number; intermediate_size: number;
  image_size: number; patch_size: number; num_channels: number;
  layer_norm_eps: number; hidden_dropout_prob: number; attention_probs_dropout_prob: number; initializer_range: number;
  qkv_bias: boolean; hidden_act: string;
}

export interface NativeSwinConfig {
  model_type: 'swin';
  image_size: number; patch_size: number; num_channels: number; embed_dim: number; window_size: number;
  depths: number[]; num_heads: number[];
  mlp_ratio: number; layer_norm_eps: number; hidden_dropout_prob: number; attention_probs_dropout_prob: number;
  drop_path_rate: number; initializer_range: number; qkv_bias: boolean; hidden_act: string;
}

export interface NativeGPT2Config {
  model_type: 'gpt2';
  vocab_size: number; n_positions: number; n_embd: number; n_layer: number; n_head: number;
  /** Resolved: config.json's null is 4 * n_embd. */
  n_inner: number;
  layer_norm_epsilon: number; resid_pdrop: number; embd_pdrop: number; attn_pdrop: number; initializer_range: number;
  activation_function: string;
  add_cross_attention: boolean; scale_attn_weights: boolean; scale_attn_by_inverse_layer_idx: boolean; tie_word_embeddings: boolean;
}

/** BERT and RoBERTa decoders (RobertaConfig has BertConfig's fields), and GIT's and BLIP's text parts. */
export interface NativeBertConfig {
  model_type: 'bert' | 'roberta' | 'git' | 'blip_text_model';
  vocab_size: number; hidden_size: number; num_hidden_layers: number; num_attention_heads: number; intermediate_size: number;
  /** 0: no token_type_embeddings (GIT, BLIP). */
  max_position_embeddings: number; type_vocab_size: number; pad_token_id: number;
  /** Input width of the cross-attention keys/values (hidden_size in a VisionEncoderDecoder, the vision width in BLIP). */
  encoder_hidden_size: number;
  hidden_dropout_prob: number; attention_probs_dropout_prob: number; initializer_range: number; layer_norm_eps: number;
  hidden_act: string; add_cross_attention: boolean; tie_word_embeddings: boolean;
}

export interface NativeCLIPVisionConfig {
  model_type: 'clip_vision_model';
  hidden_size: number; intermediate_size: number; num_hidden_layers: number; num_attention_heads: number;
  image_size: number; patch_size: number; num_channels: number;
  layer_norm_eps: number; dropout: number; attention_dropout: number; initializer_range: number; initializer_factor: number;
  hidden_act: string;
}

export interface NativeBeitConfig {
  model_type: 'beit';
  hidden_size: number; num_hidden_layers: number; num_attention_heads: number; intermediate_size: number;
  image_size: number; patch_size: number; num_channels: number;
  hidden_dropout_prob: number; attention_probs_dropout_prob: number; initializer_range: number; layer_norm_eps: number;
  layer_scale_init_value: number; drop_path_rate: number; hidden_act: string;
  use_mask_token: boolean; use_absolute_position_embeddings: boolean; use_relative_position_bias: boolean;
  use_shared_relative_position_bias: boolean; use_mean_pooling: boolean;
}

export type NativeEncoderConfig = NativeViTConfig | NativeSwinConfig | NativeCLIPVisionConfig | NativeBeitConfig;
export type NativeDecoderConfig = NativeGPT2Config | NativeBertConfig;

export interface NativeBlipVisionConfig {
  model_type: 'blip_vision_model';
  hidden_size: number; intermediate_size: number; num_hidden_layers: number; num_attention_heads: number;
  image_size: number; patch_size: number; layer_norm_eps: number; attention_dropout: number; initializer_range: number;
  hidden_act: string;
}

/** What `new Model(config)` reads (each model class's nativeConfig builds it), by the captioner's model_type. */
export type NativeModelConfig = NativeSpecialTokens & (
  | { model_type: 'vision-encoder-decoder'; encoder: NativeEncoderConfig; decoder: NativeDecoderConfig }
  | { model_type: 'git'; vision: NativeCLIPVisionConfig; text: NativeBertConfig }
  | { model_type: 'blip'; vision: NativeBlipVisionConfig; text: NativeBertConfig }
  // ViTModel, GPT2LMHeadModel, ... on their own (lib/models/standalone.ts).
  | { model_type: 'standalone-encoder'; encoder: NativeEncoderConfig }
  | { model_type: 'standalone-decoder'; decoder: NativeDecoderConfig }
);

/**
 * A batch as the native forward/backward/trainStep read it. input_ids is HF's text input (decoder_input_ids for
 * a VisionEncoderDecoder, input_ids for GIT and BLIP); without it the text is the labels shifted right.
 */
export interface NativeInputs {
  /** The images; absent when vision_hidden is given, and a standalone decoder reads its encoder_hidden_states here. */
  pixel_values?: RawTensor;
  /** The vision tower's last hidden state per image (cached encoder outputs): the tower does not run. */
  vision_hidden?: RawTensor;
  labels?: RawTensor;
  input_ids?: RawTensor;
  attention_mask?: RawTensor;
}

export interface NativeSpecialTokens {
  decoder_start_token_id: number | null;
  pad_token_id: number | null;
  eos_token_id: number | null;
}

/** Validated, complete generation options (lib/models/generation.ts nativeGenerateOptions builds them). */
export interface NativeGenerateOptions {
  max_length: number; min_length: number; num_beams: number; num_return_sequences: number; no_repeat_ngram_size: number;
  length_penalty: number; repetition_penalty: number; early_stopping: boolean;
  do_sample: boolean; temperature: number; top_k: number; top_p: number; seed: number;
  decoder_start_token_id: number; eos_token_id: number | null; pad_token_id: number | null;
  bad_words_ids: number[][];
  /** The prompt every sequence starts with, one row per image, rows of one length; null: [decoder_start_token_id]. */
  start_ids: number[][] | null;
}

/** One optimizer step (CaptioningModel.trainStep builds it). */
export interface NativeTrainStepOptions {
  optimizer: NativeOptimizerHandle;
  max_grad_norm: number;
  learning_rate: number;
  label_smoothing: number;
  /** '' for float32. */
  autocast: '' | 'bfloat16' | 'float16';
  /** 1 without loss scaling; a positive finite float32 value. */
  loss_scale: number;
  /** Reseeds libtorch's generators inside the step (dropout), or null to leave them. */
  seed: number | null;
  /** Data-parallel: the group whose ranks sum their gradients (and token counts) in this step; null = one process. */
  process_group: NativeProcessGroupHandle | null;
  /** This rank asks to stop after the step; the result's `stop` is true when any rank asked. */
  stop: boolean;
  /** Compare a checksum of the weights across ranks after the step (a debug check). */
  check_replicas: boolean;
  /** Largest flat buffer of one gradient all-reduce. */
  bucket_bytes: number;
}

/** What `new ProcessGroup(...)` of the addon takes (lib/train/distributed.ts fills it from the torchrun env). */
export interface NativeProcessGroupOptions {
  rank: number;
  world_size: number;
  master_addr: string;
  master_port: number;
  backend: 'gloo' | 'nccl';
  timeout_ms: number;
  /** 'cpu' (Gloo) or this rank's 'cuda:N' (NCCL). */
  device: string;
}

/** A c10d process group. Every method is a job on the group's strand; collectives run in call order. */
export interface NativeProcessGroupHandle {
  /** TCPStore rendezvous (rank 0 hosts it) and the backend; waits up to the timeout for every rank. */
  connect(): Promise<void>;
  allReduce(tensor: RawTensor, op: 'sum' | 'min' | 'max'): Promise<RawTensor>;
  broadcast(tensor: RawTensor, root: number): Promise<RawTensor>;
  allGather(tensor: RawTensor): Promise<RawTensor[]>;
  barrier(): Promise<void>;
  destroy(): Promise<void>;
}

export interface NativeForwardOptions {
  label_smoothing: number;
  logits: boolean;
}

export interface NativeBackwardOptions {
  label_smoothing: number;
  loss_scale: number;
  /** Also return the forward's logits and encoder states. */
  logits: boolean;
}

export interface NativeAdamWOptions {
  lr: number; beta1: number; beta2: number; eps: number; weight_decay: number;
  no_decay: string[];
}

export interface NativeParameterInfo {
  name: string;
  shape: number[];
  dtype: string;
  requiresGrad: boolean;
  numel: number;
}

export interface NativeLoadReport {
  missing: string[];
  unexpected: string[];
}

/**
 * A native model. Every method that touches libtorch is a job on the model's strand: jobs run one at a
 * time in the order they were called, off the event loop. device/parameterInfo/numParameters read the
 * snapshot that the last finished job published and never wait.
 */
export interface NativeModelHandle {
  /** init false: no HF-style init (the caller loads every tensor, or initializes what a checkpoint lacked). */
  build(opts: { seed: number; device: string; init: boolean }): Promise<void>;
  forward(inputs: NativeInputs, opts: NativeForwardOptions): Promise<{ loss?: number; logits?: RawTensor; encoder_last_hidden_state: RawTensor }>;
  backward(inputs: NativeInputs, opts: NativeBackwardOptions): Promise<{ loss: number; logits?: RawTensor; encoder_last_hidden_state?: RawTensor }>;
  trainStep(microBatches: NativeInputs[], opts: NativeTrainStepOptions): Promise<{ loss: number; grad_norm: number; skipped: boolean; stop: boolean; comm_ms: number; comm_bytes: number }>;
  /** Rank 0's parameters and buffers copied to every rank of the group (data-parallel start). */
  broadcastState(group: NativeProcessGroupHandle, bucketBytes: number): Promise<void>;
  generate(pixelValues: RawTensor, opts: NativeGenerateOptions): Promise<{ sequences: RawTensor; sequences_scores?: RawTensor }>;
  gradients(): Promise<Record<string, RawTensor>>;
  setGradients(grads: Record<string, RawTensor>): Promise<void>;
  zeroGrad(): Promise<void>;
  stateDict(): Promise<Record<string, RawTensor>>;
  loadStateDict(state: Record<string, RawTensor>): Promise<NativeLoadReport>;
  /** One weights file: model.safetensors, a shard of it, or pytorch_model.bin. */
  loadWeights(path: string): Promise<NativeLoadReport>;
  saveSafetensors(path: string): Promise<void>;
  initWeights(opts: { seed: number; only: string[] | null }): Promise<void>;
  setTraining(on: boolean): Promise<void>;
  setSpecialTokens(ids: NativeSpecialTokens): Promise<void>;
  /** device: 'cpu' | 'cuda' | 'cuda:N' (resolved and checked by lib/models). */
  to(device: string, dtype: 'float32' | 'bfloat16' | 'float16'): Promise<void>;
  device(): string;
  parameterInfo(): NativeParameterInfo[];
  numParameters(trainableOnly: boolean): number;
  /** requires_grad false (frozen) or true on the vision tower, which the architecture names (its module path). */
  setVisionFrozen(frozen: boolean): Promise<{ prefix: string; tensors: number }>;
  /** The vision tower's last hidden state, under no-grad and in eval mode. */
  encodeImages(pixelValues: RawTensor): Promise<RawTensor>;
}

export interface NativeOptimizerHandle {
  step(opts: { max_grad_norm: number }): Promise<void>;
  setLearningRate(lr: number): Promise<void>;
  stateDict(): Promise<{ step: number; tensors: Record<string, RawTensor> }>;
  loadStateDict(state: { step: number; tensors: Record<string, RawTensor> }): Promise<void>;
  /** Steps taken as of the last finished optimizer job. */
  stepCount(): number;
}

/** Hooks that prove the error and threading contract; used by the test suite only. */
export interface NativeTesting {
  throwError(kind: 'c10' | 'std' | 'argument' | 'format' | 'arg'): Promise<void>;
  sleep(ms: number): Promise<number>;
  /** A job of `ms` on the model's strand. */
  sleepOnModel(model: NativeModelHandle, ms: number): Promise<number>;
  addTensors(a: RawTensor, b: RawTensor): Promise<RawTensor>;
  /** x [M, K] @ w [K, N] + bias, or x @ w^T + bias for w [N, K] (N != K), through the decoding product kernels. */
  thinGemm(x: RawTensor, w: RawTensor, bias: RawTensor | null): Promise<RawTensor>;
  /** The training loss on logits [N, C] and labels [N] (int64, -100 ignored) and its gradient; F::cross_entropy's when `reference`. */
  crossEntropy(logits: RawTensor, labels: RawTensor, labelSmoothing: number, reference: boolean): Promise<{ loss: RawTensor; grad: RawTensor }>;
  /** a @ b (b^T when `transposeB`) and both operands' gradients for upstream g: through the attention products, the same one matrix at a time on single-threaded OpenBLAS, or torch::matmul. */
  batchedMatmul(
    a: RawTensor,
    b: RawTensor,
    g: RawTensor,
    transposeB: boolean,
    mode: 'ours' | 'single-threaded' | 'torch',
  ): Promise<{ out: RawTensor; gradA: RawTensor; gradB: RawTensor; /** threads the forward stack was split over (1: not split) */ workers: number }>;
}

/** Options of one preprocessRgb call (copied into a C++ struct before the job starts). */
export interface NativePreprocessOptions {
  outWidth: number;
  outHeight: number;
  /** PIL filter number 0..5. */
  filter: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface NativeProcessing {
  /**
   * Interleaved RGB uint8 [height, width, 3] -> planar float32 [3, outHeight, outWidth], written into `out` at
   * `outOffset` (in elements) when given, else into a new array. Resolves with the array written.
   */
  preprocessRgb(
    rgb: Uint8Array,
    width: number,
    height: number,
    opts: NativePreprocessOptions,
    out?: Float32Array,
    outOffset?: number,
  ): Promise<Float32Array>;
  /** Pillow-exact resize alone: interleaved RGB uint8 out. */
  resampleRgb(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, filter: number): Promise<Uint8Array>;
  /** The same resize through the plain scalar loops (test reference for the vectorized path). */
  resampleRgbReference(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, filter: number): Promise<Uint8Array>;
}

export interface NativeAddon extends NativeProcessing {
  /** Whether the caching CPU allocator is installed (libtorch 1.x, unless TORCH_CAPTION_MALLOC=default). */
  cachingAllocator: boolean;
  buildInfo(): NativeBuildInfo;
  setNumThreads(n: number): void;
  /** Seeds libtorch's default generators, as a job. */
  manualSeed(seed: number): Promise<void>;
  Model: new (config: NativeModelConfig) => NativeModelHandle;
  AdamW: new (model: NativeModelHandle, opts: NativeAdamWOptions) => NativeOptimizerHandle;
  ProcessGroup: new (opts: NativeProcessGroupOptions) => NativeProcessGroupHandle;
  readSafetensors(path: string): Promise<{ tensors: Record<string, RawTensor>; metadata: Record<string, string> | null }>;
  readSafetensorsHeader(path: string): Promise<{ name: string; dtype: string; shape: number[]; offsets: [number, number] }[]>;
  writeSafetensors(path: string, tensors: Record<string, RawTensor>, metadata: Record<string, string> | null): Promise<void>;
  readTorchPickle(path: string): Promise<Record<string, RawTensor>>;
  /** Memory copy bandwidth (GB/s, over `threads` workers) and float32 matmul rate (GFLOP/s): the bench's floor. */
  measureMachine(): Promise<{ copyGBps: number; matmulGFLOPs: number; threads: number }>;
  setErrorClasses(classes: { InvalidArgumentError: ErrorClass; FormatError: ErrorClass; NativeError: ErrorClass; DistributedError: ErrorClass }): void;
  testing: NativeTesting;
}

type ErrorClass = new (message: string) => Error;

export interface LoadedAddon {
  addon: NativeAddon;
  /** Which file was loaded: a local build, or the CPU or CUDA prebuild shipped in the package. */
  path: string;
  prebuilt: boolean;
  kind: BinaryCandidate['kind'];
  /** The prebuild's sidecar (libtorch version, ABI, CUDA), null for a local build. */
  prebuild: PrebuildInfo | null;
}

let loaded: LoadedAddon | undefined;

/**
 * OpenBLAS's workers spin for about 2^28 cycles after each product before they sleep, holding a core that the
 * addon's own threads (the training loss's rows, attention's split products, the decoding kernel) then share
 * with a spinner: on a 2-core machine that cost the tiny model ~10% of its training speed. OpenBLAS reads the
 * setting once, when libtorch loads it with the addon, so the default is set here, before the first load, and
 * only where the environment does not set it (OPENBLAS_THREAD_TIMEOUT=28 restores OpenBLAS's own).
 */
const openblasThreadTimeout = '4';

/** Load the addon once (see lib/native-binary.ts for which file); throw a NativeLoadError that says what to do when none loads. */
export function loadAddon(): LoadedAddon {
  if (loaded) return loaded;
  process.env.OPENBLAS_THREAD_TIMEOUT ??= openblasThreadTimeout;
  const root = packageRoot();
  const failures: { candidate: BinaryCandidate; error: unknown }[] = [];
  for (const candidate of binaryCandidates(root)) {
    let addon: NativeAddon;
    try {
      addon = require(candidate.path) as NativeAddon;
    } catch (error) {
      failures.push({ candidate, error });
      continue;
    }
    // Native rejections and throws carry the library's classes (better-sqlite3 hands its SqliteError over
    // the same way), so `instanceof InvalidArgumentError` works whichever side found the problem.
    addon.setErrorClasses({ InvalidArgumentError, FormatError, NativeError, DistributedError });
    loaded = { addon, path: candidate.path, prebuilt: candidate.kind !== 'local', kind: candidate.kind, prebuild: candidate.info };
    return loaded;
  }
  throw new NativeLoadError(explainLoadFailures(failures, root), { cause: failures[0]?.error });
}

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  return loadAddon().addon;
}
