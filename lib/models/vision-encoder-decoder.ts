/**
 * VisionEncoderDecoder: the public model class. Every method that touches tensors is one native call
 * that runs off the event loop; calls on one model are serialized by the addon.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, InvalidArgumentError, TorchCaptionError } from '../errors.js';
import { native, type NativeLoadReport, type NativeModelHandle, type NativeOptimizerHandle, type RawTensor } from '../native.js';
import { readJson } from '../json.js';
import { Tensor } from '../tensor.js';
import { decoderArchitecture, encoderArchitecture } from './architectures/index.js';
import { composeConfig, decoderVocabSize, nativeModelConfig, normalizeConfig, specialTokens, type VisionEncoderDecoderConfig } from './config.js';
import { resolveModelDir, SAFETENSORS_INDEX, weightFiles } from './hub.js';
import { generationDefaults, nativeGenerateOptions, validateGenerateOptions, type GenerateOptions, type GenerateOutput } from './generation.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}` | 'auto';
export type ModelDType = 'float32' | 'bfloat16' | 'float16';

export interface LoadOptions {
  device?: Device;
  dtype?: ModelDType;
  /** Accept a checkpoint that lacks some parameters (they keep their fresh HF-style init). */
  allowMissing?: boolean;
  revision?: string;
}

export interface ForwardInputs {
  pixel_values: Tensor;
  labels?: Tensor;
  decoder_input_ids?: Tensor;
}

export interface ForwardOutput {
  loss?: number;
  logits: Tensor<'float32'>;
  encoder_last_hidden_state: Tensor<'float32'>;
}

/** Things a saved model folder can carry beside the weights (processor and tokenizer). */
export interface Saveable {
  save(dir: string): Promise<void>;
}

export function fromRaw(raw: RawTensor): Tensor {
  return Tensor.from(raw.data, raw.shape);
}

function toRaw(t: Tensor, name: string): RawTensor {
  if (!(t instanceof Tensor)) throw new InvalidArgumentError(`Expected a Tensor for ${name} but received ${typeof t}`);
  return { dtype: t.dtype, shape: [...t.shape], data: t.data };
}

function toRawInputs(inputs: ForwardInputs): Record<string, RawTensor> {
  if (typeof inputs !== 'object' || inputs === null || !inputs.pixel_values) {
    throw new InvalidArgumentError('Expected an object with pixel_values (and labels) for the model inputs');
  }
  const out: Record<string, RawTensor> = { pixel_values: toRaw(inputs.pixel_values, 'pixel_values') };
  if (inputs.pixel_values.dtype !== 'float32') throw new InvalidArgumentError(`Expected float32 pixel_values but received ${inputs.pixel_values.dtype}`);
  if (inputs.labels) {
    if (inputs.labels.dtype !== 'int64') throw new InvalidArgumentError(`Expected int64 labels but received ${inputs.labels.dtype}`);
    out.labels = toRaw(inputs.labels, 'labels');
  }
  if (inputs.decoder_input_ids) out.decoder_input_ids = toRaw(inputs.decoder_input_ids, 'decoder_input_ids');
  return out;
}


function weightsOf(dir: string): string[] {
  const files = weightFiles(dir);
  if (!files.length) throw new TorchCaptionError(`No model.safetensors (or ${SAFETENSORS_INDEX} with its shards, or pytorch_model.bin) in ${dir}`);
  return files;
}

const DTYPES: readonly ModelDType[] = ['float32', 'bfloat16', 'float16'];

/**
 * The device string the addon gets: 'auto' resolved, the spelling checked, CUDA checked to be there. The
 * one place where devices are validated (the addon only asserts).
 */
export function resolveDevice(device: unknown): string {
  if (typeof device !== 'string' || !/^(cpu|cuda|cuda:\d+|auto)$/.test(device)) {
    throw new InvalidArgumentError(`Expected device 'cpu', 'cuda', 'cuda:N' or 'auto' but received ${JSON.stringify(device)}`);
  }
  if (device === 'cpu') return device;
  const info = native().buildInfo();
  if (device === 'auto') return info.cudaAvailable ? 'cuda' : 'cpu';
  if (!info.cudaAvailable) {
    throw new InvalidArgumentError(`device '${device}' was asked for but CUDA is not available in this libtorch build (run \`torch-caption doctor\`)`);
  }
  const index = device.startsWith('cuda:') ? Number(device.slice(5)) : 0;
  if (index >= info.cudaDeviceCount) {
    throw new InvalidArgumentError(`device '${device}' was asked for but this machine has ${info.cudaDeviceCount} CUDA device(s)`);
  }
  return device;
}

/** A native model built from a validated config (the modules are created off the event loop). */
async function buildNative(cfg: VisionEncoderDecoderConfig, seed: number, device: Device): Promise<NativeModelHandle> {
  const handle = new (native().Model)(nativeModelConfig(cfg));
  await handle.build({ seed, device: resolveDevice(device) });
  return handle;
}

/** Load one weights file or all shards of one; a tensor is missing only when no shard has it. */
async function loadWeightFiles(handle: NativeModelHandle, files: string[]): Promise<NativeLoadReport> {
  let missing: Set<string> | null = null;
  const unexpected = new Set<string>();
  for (const f of files) {
    const r = await handle.loadWeights(f);
    missing = missing === null ? new Set(r.missing) : new Set(r.missing.filter((n) => missing!.has(n)));
    for (const n of r.unexpected) unexpected.add(n);
  }
  return { missing: [...(missing ?? [])].sort(), unexpected: [...unexpected].sort() };
}

export class VisionEncoderDecoder {
  /** Parsed config.json (HF keys). */
  readonly config: VisionEncoderDecoderConfig;
  /** Generation defaults from generation_config.json or config.json, as transformers reads them. */
  generationConfig: Partial<GenerateOptions>;
  /** fromEncoderDecoderPretrained: the parameters initialized fresh and the checkpoint tensors not used, as transformers logs them. */
  loadReport: { newly_initialized: string[]; unused: string[] } | null = null;
  /** Optional processor and tokenizer written by save() beside the weights. */
  imageProcessor?: Saveable;
  tokenizer?: Saveable;
  /** @internal */
  readonly handle: NativeModelHandle;
  private training = false;
  private warnedTruncation = false;
  /** The token ids the native model last got, as JSON: model.config assignments are pushed when they differ. */
  #pushedTokens: string;

  private constructor(config: VisionEncoderDecoderConfig, handle: NativeModelHandle, generationConfig: Partial<GenerateOptions>) {
    this.config = config;
    this.handle = handle;
    this.generationConfig = generationConfig;
    this.#pushedTokens = JSON.stringify(specialTokens(config));
  }

  /**
   * `model.config.decoder_start_token_id = ...` (and pad/eos) take effect as in transformers: the ids are
   * checked and queued to the native model before the next job, which runs after them (the model's jobs run
   * in call order). With labels and no decoder_input_ids, the start and pad ids must be set.
   */
  #syncSpecialTokens(inputs: { labels?: Tensor; decoder_input_ids?: Tensor } | null): void {
    const ids = specialTokens(this.config);
    const key = JSON.stringify(ids);
    if (key !== this.#pushedTokens) {
      const vocab = decoderVocabSize(this.config);
      for (const [k, v] of Object.entries(ids)) {
        if (v !== null && !(Number.isInteger(v) && v >= 0 && v < vocab)) {
          throw new InvalidArgumentError(`Expected a token id in [0, ${vocab}) or null for model.config.${k} but received ${JSON.stringify(v)}`);
        }
      }
      this.handle.setSpecialTokens(ids).catch(() => undefined); // checked above; later jobs see the ids
      this.#pushedTokens = key;
    }
    if (inputs?.labels && !inputs.decoder_input_ids) {
      for (const k of ['decoder_start_token_id', 'pad_token_id'] as const) {
        if (ids[k] === null) {
          throw new InvalidArgumentError(
            `${k} is not set on the model config, and the decoder inputs are built from the labels with it: set model.config.${k} ` +
              `(${k === 'pad_token_id' ? 'usually the eos id; GPT-2: 50256, BERT: [PAD] 0' : 'the tokenizer\'s bos id; GPT-2: 50256, BERT: [CLS] 101'}) or pass decoder_input_ids`,
          );
        }
      }
    }
  }

  /** A model with Hugging Face style random initialisation (deterministic for a seed). */
  static async fromConfig(config: unknown, opts: { seed?: number; device?: Device } = {}): Promise<VisionEncoderDecoder> {
    const cfg = normalizeConfig(config);
    const handle = await buildNative(cfg, opts.seed ?? 0, opts.device ?? 'cpu');
    return new VisionEncoderDecoder(cfg, handle, generationDefaults(cfg, undefined));
  }

  /** Load a Hugging Face vision-encoder-decoder folder (config.json + model.safetensors) or hub id. */
  static async fromPretrained(ref: string, opts: LoadOptions = {}): Promise<VisionEncoderDecoder> {
    const dir = await resolveModelDir(ref, { revision: opts.revision });
    const cfg = normalizeConfig(await readJson(join(dir, 'config.json'), 'model config'));
    const genPath = join(dir, 'generation_config.json');
    const gen = existsSync(genPath) ? await readJson<Record<string, unknown>>(genPath, 'generation config') : undefined;
    const handle = await buildNative(cfg, 0, 'cpu');
    const model = new VisionEncoderDecoder(cfg, handle, generationDefaults(cfg, gen));
    const report = await loadWeightFiles(handle, weightsOf(dir));
    model.checkLoadReport(report, dir, opts.allowMissing ?? false);
    await model.to(opts.device ?? 'cpu', opts.dtype ?? 'float32');
    return model;
  }

  /**
   * Compose a captioner from a pretrained encoder (ViT/Swin folder) and a pretrained GPT-2 folder, as
   * transformers' from_encoder_decoder_pretrained does: the decoder gets cross-attention, whose new
   * weights (and enc_to_dec_proj) are initialised HF-style.
   */
  static async fromEncoderDecoderPretrained(encoderRef: string, decoderRef: string, opts: LoadOptions & { seed?: number } = {}): Promise<VisionEncoderDecoder> {
    const encDir = await resolveModelDir(encoderRef);
    const decDir = await resolveModelDir(decoderRef);
    const encCfg = await readJson<Record<string, unknown>>(join(encDir, 'config.json'), 'encoder config');
    const decCfg = await readJson<Record<string, unknown>>(join(decDir, 'config.json'), 'decoder config');
    const cfg = composeConfig(encCfg, decCfg);
    const handle = await buildNative(cfg, opts.seed ?? 0, 'cpu');
    const model = new VisionEncoderDecoder(cfg, handle, generationDefaults(cfg, undefined));
    // Load each part under its prefix, then report what neither provided beyond the new cross-attention.
    const encoderArch = encoderArchitecture(cfg.encoder);
    const decoderArch = decoderArchitecture(cfg.decoder);
    const encoderKey = (name: string): string | null => {
      const prefix = encoderArch.checkpointPrefixes.find((p) => name.startsWith(p));
      return `encoder.${prefix ? name.slice(prefix.length) : name}`;
    };
    const decoderKey = (name: string): string | null => {
      const key = decoderArch.decoderKey(name);
      return key === null ? null : `decoder.${key}`;
    };
    const loaded = new Set<string>();
    const unused: string[] = [];
    for (const [dir, rename] of [[encDir, encoderKey], [decDir, decoderKey]] as const) {
      const state: Record<string, RawTensor> = {};
      for (const f of weightsOf(dir)) Object.assign(state, await readWeights(f));
      const renamed: Record<string, RawTensor> = {};
      const original = new Map<string, string>();
      for (const [name, t] of Object.entries(state)) {
        const key = rename(name);
        if (key === null) unused.push(name);
        else {
          renamed[key] = t;
          original.set(key, name);
        }
      }
      const report = await handle.loadStateDict(renamed);
      const unexpected = new Set(report.unexpected);
      for (const key of Object.keys(renamed)) if (!unexpected.has(key)) loaded.add(key);
      // As transformers reports them: under the checkpoint's own names (classifier.weight, text_model.*).
      unused.push(...report.unexpected.map((k) => original.get(k) ?? k));
    }
    const missing = handle.parameterInfo().map((p) => p.name).filter((n) => !loaded.has(n));
    const expectedNew = (n: string): boolean =>
      /enc_to_dec_proj|pooler/.test(n) || (n.startsWith('decoder.') && decoderArch.newWhenComposed.test(n));
    const unexpectedMissing = missing.filter((n) => !expectedNew(n));
    if (unexpectedMissing.length && !opts.allowMissing) {
      throw new TorchCaptionError(`The encoder/decoder checkpoints lack: ${unexpectedMissing.slice(0, 20).join(', ')}${unexpectedMissing.length > 20 ? ', …' : ''} (pass allowMissing: true to initialise them)`);
    }
    await handle.initWeights({ seed: opts.seed ?? 0, only: missing.filter(expectedNew) });
    model.loadReport = { newly_initialized: missing.sort(), unused: unused.sort() };
    // The two lines transformers logs, which users read to check that only cross-attention is new.
    if (missing.length) {
      process.emitWarning(`Some weights of VisionEncoderDecoder were not initialized from the checkpoints at ${encDir} and ${decDir} and are newly initialized: [${missing.join(', ')}]. You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.`, { code: 'TORCH_CAPTION_NEWLY_INITIALIZED' });
    }
    if (unused.length) {
      process.emitWarning(`Some weights of the checkpoints at ${encDir} and ${decDir} were not used when initializing VisionEncoderDecoder: [${unused.join(', ')}]`, { code: 'TORCH_CAPTION_UNUSED_WEIGHTS' });
    }
    await model.to(opts.device ?? 'cpu', opts.dtype ?? 'float32');
    return model;
  }

  private checkLoadReport(report: { missing: string[]; unexpected: string[] }, dir: string, allowMissing: boolean): void {
    const problems: string[] = [];
    if (report.missing.length && !allowMissing) problems.push(`missing: ${report.missing.join(', ')}`);
    if (report.unexpected.length) problems.push(`unexpected: ${report.unexpected.join(', ')}`);
    if (problems.length) {
      throw new FormatError(`The weights in ${dir} do not match config.json (${problems.join('; ')}).` +
        (report.missing.length ? ' Pass allowMissing: true to keep fresh weights for missing tensors.' : ''));
    }
  }

  /**
   * Teacher-forced forward pass. Without gradients by default; with `backward: true` the same pass also runs
   * backward (gradients accumulate until zeroGrad()), so a custom loop gets loss and logits from one forward
   * (two passes would differ under dropout).
   */
  async forward(inputs: ForwardInputs, opts: { label_smoothing?: number; backward?: boolean; loss_scale?: number } = {}): Promise<ForwardOutput> {
    this.#syncSpecialTokens(inputs);
    if (opts.backward) {
      if (!inputs.labels) throw new InvalidArgumentError('Expected labels for forward with backward: true (the loss needs them)');
      const out = await this.handle.backward(toRawInputs(inputs), { loss_scale: opts.loss_scale ?? 1, label_smoothing: opts.label_smoothing ?? 0, logits: true });
      return { loss: out.loss, logits: fromRaw(out.logits!) as Tensor<'float32'>, encoder_last_hidden_state: fromRaw(out.encoder_last_hidden_state!) as Tensor<'float32'> };
    }
    const out = await this.handle.forward(toRawInputs(inputs), { label_smoothing: opts.label_smoothing ?? 0, logits: true });
    return {
      ...(typeof out.loss === 'number' ? { loss: out.loss } : {}),
      logits: fromRaw(out.logits!) as Tensor<'float32'>,
      encoder_last_hidden_state: fromRaw(out.encoder_last_hidden_state) as Tensor<'float32'>,
    };
  }

  /** Forward and backward; gradients accumulate until zeroGrad(). */
  async backward(inputs: ForwardInputs, opts: { loss_scale?: number; label_smoothing?: number } = {}): Promise<{ loss: number }> {
    if (!inputs.labels) throw new InvalidArgumentError('Expected labels for backward');
    this.#syncSpecialTokens(inputs);
    const out = await this.handle.backward(toRawInputs(inputs), { loss_scale: opts.loss_scale ?? 1, label_smoothing: opts.label_smoothing ?? 0, logits: false });
    return { loss: out.loss };
  }

  /** Accumulated gradients by HF parameter name (parameters without a gradient are left out). */
  async gradients(): Promise<Record<string, Tensor>> {
    return mapRecord(await this.handle.gradients(), fromRaw);
  }

  /** Clears the gradients. Queued behind the model's running job; await it only to know it is done. */
  zeroGrad(): Promise<void> {
    return this.handle.zeroGrad();
  }

  /** Replace the gradients of the named parameters (for custom training loops). */
  async setGradients(grads: Record<string, Tensor>): Promise<void> {
    await this.handle.setGradients(mapRecord(grads, (t, k) => toRaw(t, k)));
  }

  /** Every parameter and persistent buffer by HF name (tied decoder.lm_head.weight omitted, as HF saves). */
  async stateDict(): Promise<Record<string, Tensor>> {
    return mapRecord(await this.handle.stateDict(), fromRaw);
  }

  async loadStateDict(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): Promise<{ missing: string[]; unexpected: string[] }> {
    const report = await this.handle.loadStateDict(mapRecord(state, (t, k) => toRaw(t, k)));
    if (opts.strict ?? true) this.checkLoadReport(report, 'the state dict', false);
    return report;
  }

  /**
   * Write config.json, generation_config.json and model.safetensors, and the tokenizer and image processor
   * files (given here, or attached as model.tokenizer / model.imageProcessor), so that the folder is all
   * `pipeline('image-to-text', dir)` and `fromPretrained` need.
   */
  async save(dir: string, parts: { tokenizer?: Saveable; image_processor?: Saveable } = {}): Promise<void> {
    await mkdir(dir, { recursive: true });
    await this.handle.saveSafetensors(join(dir, 'model.safetensors'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(this.config, null, 2) + '\n');
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify(this.generationConfig, null, 2) + '\n');
    const processor = parts.image_processor ?? this.imageProcessor;
    const tokenizer = parts.tokenizer ?? this.tokenizer;
    if (processor) await processor.save(dir);
    if (tokenizer) await tokenizer.save(dir);
  }

  /** Training mode (dropout on) or evaluation mode. */
  train(on = true): this {
    this.training = on;
    // Queued on the model's strand, so every later job sees the new mode; it cannot fail once the model
    // is built, which every VisionEncoderDecoder is.
    this.handle.setTraining(on).catch(() => undefined);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  get isTraining(): boolean {
    return this.training;
  }

  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.handle.numParameters(opts.trainableOnly ?? false);
  }

  get device(): string {
    return this.handle.device();
  }

  async to(device: Device, dtype: ModelDType = 'float32'): Promise<this> {
    if (!DTYPES.includes(dtype)) throw new InvalidArgumentError(`Expected dtype 'float32', 'bfloat16' or 'float16' but received ${JSON.stringify(dtype)}`);
    await this.handle.to(resolveDevice(device), dtype);
    return this;
  }

  /** Caption token ids for a batch of images, with transformers' generate semantics. */
  async generate(pixel_values: Tensor, options: Partial<GenerateOptions> = {}): Promise<GenerateOutput> {
    this.#syncSpecialTokens(null);
    const o = validateGenerateOptions({ ...this.generationConfig, ...options }, this.config);
    const out = await this.handle.generate(toRaw(pixel_values, 'pixel_values'), nativeGenerateOptions(o));
    const sequences = fromRaw(out.sequences).toNested2D();
    if (!this.warnedTruncation && o.eos_token_id !== null && sequences.some((s) => s.length >= o.max_length && !s.slice(1).includes(o.eos_token_id!))) {
      this.warnedTruncation = true;
      process.emitWarning(`A caption reached max_length = ${o.max_length} tokens without an end token and was cut off; pass a larger max_length (or max_new_tokens).`, { code: 'TORCH_CAPTION_TRUNCATED' });
    }
    return {
      sequences,
      ...(out.sequences_scores ? { sequences_scores: fromRaw(out.sequences_scores).toArray() } : {}),
    };
  }

  // ---- training-loop building blocks (the Trainer uses these; custom loops may too)

  /** One optimizer step in one native call: forward+backward per micro-batch, clipping, AdamW, zeroing. */
  async trainStep(microBatches: readonly { pixel_values: Tensor; labels: Tensor }[], opts: TrainStepOptions): Promise<TrainStepResult> {
    if (!Array.isArray(microBatches) || microBatches.length === 0) throw new InvalidArgumentError('Expected at least one micro-batch for trainStep');
    if (opts.optimizer?.model !== this) throw new InvalidArgumentError('Expected an AdamW over this model for trainStep (the optimizer was made for another model)');
    const autocast = opts.autocast ?? '';
    checkAutocast(autocast, this.device);
    const lossScale = opts.loss_scale ?? 1;
    if (!(lossScale > 0) || !Number.isFinite(lossScale)) throw new InvalidArgumentError(`Expected a positive finite loss_scale but received ${lossScale}`);
    const seed = opts.seed ?? null;
    if (seed !== null && !(Number.isInteger(seed) && seed >= 0)) throw new InvalidArgumentError(`Expected a non-negative integer seed but received ${seed}`);
    this.#syncSpecialTokens(microBatches[0] ?? null);
    const micro = microBatches.map((b, i) => {
      const raw = toRawInputs(b);
      if (!raw.labels) throw new InvalidArgumentError(`Expected labels in micro-batch ${i} of trainStep`);
      return { pixel_values: raw.pixel_values!, labels: raw.labels };
    });
    return this.handle.trainStep(micro, {
      optimizer: opts.optimizer.handle,
      max_grad_norm: opts.max_grad_norm ?? 0,
      learning_rate: opts.learning_rate ?? opts.optimizer.learningRate,
      label_smoothing: opts.label_smoothing ?? 0,
      autocast,
      loss_scale: lossScale,
      seed,
    });
  }

  /** Load one weights file (model.safetensors, a shard of it, or pytorch_model.bin) into this model. */
  async loadWeightsFile(path: string): Promise<{ missing: string[]; unexpected: string[] }> {
    return this.handle.loadWeights(path);
  }

  /** Set decoder_start/pad/eos token ids on the config and on the native model (which builds decoder inputs from them). */
  async setSpecialTokens(ids: { decoder_start_token_id: number; pad_token_id: number; eos_token_id: number }): Promise<void> {
    this.config.decoder_start_token_id = ids.decoder_start_token_id;
    this.config.pad_token_id = ids.pad_token_id;
    this.config.eos_token_id = ids.eos_token_id;
    this.#syncSpecialTokens(null);
    await this.handle.setSpecialTokens(specialTokens(this.config));
  }
}

/** What trainStep needs of an optimizer: an AdamW over the same model. */
export interface TrainStepOptimizer {
  /** @internal */
  readonly handle: NativeOptimizerHandle;
  /** @internal */
  readonly model: unknown;
  readonly learningRate: number;
}

export interface TrainStepOptions {
  optimizer: TrainStepOptimizer;
  /** Clip the global gradient norm to this (0: no clipping). */
  max_grad_norm?: number;
  /** Default: the optimizer's learning rate. */
  learning_rate?: number;
  label_smoothing?: number;
  /** Mixed precision: autocast the forward pass ('' = float32). float16 needs CUDA. */
  autocast?: AutocastDType;
  /** Loss scale (GradScaler); gradients are unscaled before clipping, and an overflow skips the update. */
  loss_scale?: number;
  /** Reseed dropout for this step (resumable runs draw the same masks). */
  seed?: number | null;
}

export interface TrainStepResult {
  /** Mean loss over the micro-batches. */
  loss: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  /** True when the update was not applied (non-finite gradients). */
  skipped: boolean;
}

export type AutocastDType = '' | 'bfloat16' | 'float16';

/**
 * Where mixed precision runs: bfloat16 on CPU and CUDA, float16 on CUDA only. The one check of it (the
 * addon only asserts); `names` lets the Trainer word the message in TrainingArguments terms.
 */
export function checkAutocast(
  autocast: unknown,
  device: string,
  names: { fp16: string; bf16: string; mixed: string } = { fp16: 'fp16 mixed precision', bf16: "use bf16 on CPU (autocast: 'bfloat16')", mixed: 'mixed precision' },
): void {
  if (autocast !== '' && autocast !== 'bfloat16' && autocast !== 'float16') {
    throw new InvalidArgumentError(`Expected autocast 'bfloat16', 'float16' or '' but received ${JSON.stringify(autocast)}`);
  }
  if (autocast === '') return;
  if (!device.startsWith('cuda') && !device.startsWith('cpu')) {
    throw new InvalidArgumentError(`${names.mixed} is supported on CPU and CUDA devices, not on ${device}`);
  }
  if (autocast === 'float16' && !device.startsWith('cuda')) {
    throw new InvalidArgumentError(`${names.fp16} needs a CUDA device but the model is on ${device}; ${names.bf16}`);
  }
}

function mapRecord<A, B>(rec: Record<string, A>, f: (a: A, key: string) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const [k, v] of Object.entries(rec)) out[k] = f(v, k);
  return out;
}

/** Read a safetensors file or pytorch_model.bin into raw tensors. */
export async function readWeights(path: string): Promise<Record<string, RawTensor>> {
  if (path.endsWith('.bin')) return native().readTorchPickle(path);
  return (await native().readSafetensors(path)).tensors;
}
